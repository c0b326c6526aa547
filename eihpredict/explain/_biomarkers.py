"""Biomarker discovery with stability and a null reference.

For ``B`` bootstrap resamples of the cohort, a *selector* model is refitted on the
resample with a **shadow** copy of every feature added: the same values, permuted
across rows, so they carry no signal but keep each feature's distribution (Boruta;
Kursa & Rudnicki 2010). Importance is the mean absolute SHAP value on the out-of-bag
rows, per feature and per source group (the absolute value of the group's summed
contributions), reported with a 95 % interval across resamples.

Selector: the chosen model itself when it is a (penalised) logistic regression; when
it is LightGBM, an elastic-net logistic regression whose penalty is chosen once by
10-fold CV on the whole cohort (``selector="auto"``). Trees share credit between
correlated measurements, so a proxy (pain duration standing in for the pain
population, kinesiophobia for catastrophizing) would be called a biomarker; the
penalised linear model attributes conditional effects and shrinks proxies (stability
selection, Meinshausen & Buhlmann 2010). ``selector="model"`` forces the chosen model.
The chosen model's own SHAP values are reported beside (the model report).

Decision rule (controls the family-wise error rate): in each resample a group *hits*
when its importance beats the largest importance of any shadow group.
``selection_frequency`` = hits / B. Under the null a group beats the shadow maximum no
more often than half the time (Boruta's conservative null), so a group is a biomarker
when ``P(Binomial(B, 0.5) >= hits) < alpha / n_groups`` (Bonferroni, alpha = 0.05):
with B = 30 and 14 groups, at least 23 hits (selection frequency >= 0.77). Features
are tested the same way against the largest shadow feature, within declared groups
only, so a feature is never a biomarker when its group is not.

Other tasks: for a continuous model the selector is an elastic-net linear regression of
the PPT change (penalty by 10-fold CV; importance in kPa), and a higher value "raises
risk" when it lowers the predicted change. For a three-class model it is a multinomial
elastic-net logistic regression; importance is the mean over the three classes of the
mean absolute SHAP value of each class's logit, and the direction is that of the
hyperalgesia logit. A covariate-adjusted model's selector uses the predictor groups
only (the pre-exercise PPT is an adjustment, not a candidate biomarker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom, spearmanr
from sklearn.base import clone

from ..modeling import (
    ContinuousOutputs,
    FittedModel,
    MulticlassCalibrator,
    PenalisedLinearRegression,
    ResidualDistribution,
    ThreeClassOutputs,
    TrainedModel,
    estimator_contributions,
)
from ._shap import explain_frame, feature_group

__all__ = ["BiomarkerReport", "discover_biomarkers", "interaction_strengths"]

logger = logging.getLogger("eihpredict.explain")


@dataclass
class BiomarkerReport:
    """Result of :func:`discover_biomarkers`.

    ``table`` has the contract's columns (``feature``, ``group``, ``importance``,
    ``ci_low``, ``ci_high``, ``selection_frequency``, ``is_biomarker``) plus ``level``
    (feature or group), ``hits``, ``p_value`` and ``direction`` (features).
    """

    table: pd.DataFrame
    resamples: int
    alpha: float
    feature_draws: pd.DataFrame
    group_draws: pd.DataFrame
    selector: str

    @property
    def groups(self) -> pd.DataFrame:
        return self.table[self.table["level"] == "group"]

    @property
    def declared_groups(self) -> list[str]:
        return self.groups.loc[self.groups["is_biomarker"], "group"].tolist()


def _matrix(model: TrainedModel, fitted_steps, X: pd.DataFrame) -> pd.DataFrame:
    """The model's design matrix before the estimator (imputed, unscaled for linear)."""
    features = fitted_steps["features"].transform(X)
    if model.linear:
        return fitted_steps["impute"].transform(features)
    return features


def _shadowed(matrix: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    values = matrix.to_numpy(dtype="float64")
    shadow = np.empty_like(values)
    for j in range(values.shape[1]):
        shadow[:, j] = values[rng.permutation(len(values)), j]
    names = [f"shadow__{c}" for c in matrix.columns]
    return pd.concat([matrix.reset_index(drop=True),
                      pd.DataFrame(shadow, columns=names)], axis=1)


def _contributions(model: TrainedModel, estimator, scaler, matrix: pd.DataFrame) -> np.ndarray:
    data = matrix.to_numpy(dtype="float64")
    return estimator_contributions(estimator, data if scaler is None else scaler.transform(data))


def _one_resample(model: TrainedModel, X: pd.DataFrame, y: np.ndarray, seed: int,
                  continuous: bool = False):
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = len(y)
    classes = len(np.unique(y))
    while True:
        idx = rng.integers(0, n, n)
        oob = np.setdiff1d(np.arange(n), idx)
        if (continuous or len(np.unique(y[idx])) == classes) and len(oob) >= 10:
            break
    steps = {name: clone(step) for name, step in model.pipeline.steps}
    design = steps["features"].fit_transform(X.iloc[idx])
    if model.linear:
        design = steps["impute"].fit_transform(design)
    train = _shadowed(design, rng)
    test = _shadowed(_matrix(model, steps, X.iloc[oob]), rng)
    scaler = None
    estimator = steps["model"]
    if model.linear:
        scaler = StandardScaler().fit(train.to_numpy(dtype="float64"))
        estimator.fit(scaler.transform(train.to_numpy(dtype="float64")), y[idx])
    else:
        estimator.fit(train.to_numpy(dtype="float64"), y[idx])
    contrib = _contributions(model, estimator, scaler, test)
    if contrib.ndim == 2:  # one output; K classes: (n, p, K), averaged over the classes
        contrib = contrib[:, :, None]
    names = list(train.columns)
    per_feature = pd.Series(np.abs(contrib).mean(axis=(0, 2)), index=names)
    groups = [feature_group(c.removeprefix("shadow__")) for c in names]
    shadow = np.array([c.startswith("shadow__") for c in names])
    keys = np.array([f"shadow__{g}" if s_ else g for g, s_ in zip(groups, shadow, strict=True)])
    per_group = {key: float(np.abs(contrib[:, keys == key, :].sum(axis=1)).mean())
                 for key in dict.fromkeys(keys)}
    return per_feature, pd.Series(per_group)


def _decide(draws: pd.DataFrame, real: list[str], alpha: float, n_tests: int):
    shadow_cols = [c for c in draws.columns if c.startswith("shadow__")]
    shadow_max = draws[shadow_cols].max(axis=1)
    hits = draws[real].gt(shadow_max, axis=0).sum()
    b = len(draws)
    p = pd.Series(binom.sf(hits - 1, b, 0.5), index=real)
    return hits, p, p < alpha / max(n_tests, 1)


def make_selector(model: TrainedModel, X: pd.DataFrame, y: np.ndarray, selector: str = "auto",
                  seed: int = 0) -> TrainedModel:
    """The model whose refits decide biomarkers (see the module docstring)."""
    if selector not in ("auto", "model", "sparse_logistic"):
        raise ValueError(
            f"Got selector={selector!r}; expected 'auto', 'model' or 'sparse_logistic'."
        )
    if selector == "model" and not hasattr(model, "pipeline"):
        raise ValueError(f"selector 'model' refits one pipeline; model {model.candidate!r} "
                         "is an ensemble or a covariate-adjusted model: use selector auto")
    if selector == "model" or (selector == "auto" and getattr(model, "linear", False)):
        return model
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..features import ImputeWithIndicators, build_feature_pipeline
    from ..modeling import Calibrator

    features = build_feature_pipeline(model.groups).steps[0][1]
    prep = Pipeline([("features", features),
                     ("impute", ImputeWithIndicators()), ("scale", StandardScaler())]
                    ).set_output(transform="pandas")
    design = prep.fit_transform(X, y)
    grid = np.logspace(-3, 1, 13)
    output_map = None
    if model.task == "continuous":
        search = GridSearchCV(PenalisedLinearRegression(l1_ratio=0.5), {"C": grid},
                              scoring="neg_mean_squared_error",
                              cv=KFold(10, shuffle=True, random_state=seed)).fit(design, y)
        best_c = float(search.best_params_["C"])
        estimator = PenalisedLinearRegression(C=best_c, l1_ratio=0.5, random_state=seed)
    else:
        search = LogisticRegressionCV(
            Cs=grid, l1_ratios=[0.5], solver="saga", max_iter=5000, scoring="neg_log_loss",
            cv=StratifiedKFold(10, shuffle=True, random_state=seed),
            use_legacy_attributes=False).fit(design, y)
        best_c = float(np.ravel(search.C_)[0])
        estimator = LogisticRegression(C=best_c, l1_ratio=0.5, solver="saga",
                                       max_iter=5000, random_state=seed)
    pipeline = Pipeline([*prep.steps, ("model", estimator)]).fit(X, y)
    if model.task == "continuous":
        residuals = y - pipeline.predict(X)
        output_map = ContinuousOutputs(ResidualDistribution().fit(residuals), 0.0, 0.5)
    elif model.task == "three_class":
        output_map = ThreeClassOutputs(MulticlassCalibrator("none").fit(np.zeros((1, 3)),
                                                                         np.zeros(1)))
    return TrainedModel(pipeline=pipeline, calibrator=Calibrator("none").fit(np.zeros(2),
                                                                               np.array([0, 1])),
                        threshold=0.5, candidate=f"elastic-net selector (C={best_c:.3g})",
                        kind="logistic", groups=model.groups, input_columns=model.input_columns,
                        output_map=output_map)


def discover_biomarkers(model: TrainedModel, X: pd.DataFrame, y: np.ndarray, *,
                        resamples: int = 30, selector: str = "auto", alpha: float = 0.05,
                        seed: int = 0, n_jobs: int = 1,
                        on_progress: Callable[[int, int], None] | None = None
                        ) -> BiomarkerReport:
    """Run the resampling with shadow features and apply the decision rule.

    Parameters
    ----------
    model : TrainedModel
        The chosen model (its hyperparameters are reused in every refit).
    X : DataFrame
        Validated cohort rows (outcome columns are ignored by the features).
    y : array of int
        Labels under the model's label rule.
    resamples : int
        Number of bootstrap refits ``B``.
    selector : {"auto", "model", "sparse_logistic"}
        Which model's refits decide (see the module docstring).
    alpha : float
        Family-wise error rate of the group and feature decisions.
    """
    if resamples < 10:
        raise ValueError(f"Got resamples={resamples!r}; expected at least 10.")
    from joblib import Parallel, delayed

    selector = make_selector(model, X, y, selector, seed)
    seeds = np.random.SeedSequence(seed).generate_state(resamples)
    feature_rows, group_rows = [], []
    continuous = model.task == "continuous"
    jobs = (delayed(_one_resample)(selector, X, y, int(s), continuous) for s in seeds)
    for i, (per_feature, per_group) in enumerate(
            Parallel(n_jobs=n_jobs, return_as="generator")(jobs), start=1):
        feature_rows.append(per_feature)
        group_rows.append(per_group)
        if on_progress is not None:
            on_progress(i, resamples)
        logger.debug("resample %d/%d done", i, resamples)
    features = pd.DataFrame(feature_rows).reset_index(drop=True)
    groups = pd.DataFrame(group_rows).reset_index(drop=True)
    real_features = [c for c in features.columns if not c.startswith("shadow__")]
    real_groups = [c for c in groups.columns if not c.startswith("shadow__")]
    g_hits, g_p, g_ok = _decide(groups, real_groups, alpha, len(real_groups))
    f_hits, f_p, f_ok = _decide(features, real_features, alpha, len(real_features))
    direction = _directions(selector, X, model.task)
    rows = []
    for g in real_groups:
        rows.append({"feature": g, "group": g, "level": "group",
                     **_summary(groups[g]), "selection_frequency": g_hits[g] / resamples,
                     "hits": int(g_hits[g]), "p_value": float(g_p[g]),
                     "is_biomarker": bool(g_ok[g]), "direction": ""})
    for f in real_features:
        g = feature_group(f)
        rows.append({"feature": f, "group": g, "level": "feature",
                     **_summary(features[f]), "selection_frequency": f_hits[f] / resamples,
                     "hits": int(f_hits[f]), "p_value": float(f_p[f]),
                     "is_biomarker": bool(f_ok[f] and g_ok.get(g, False)),
                     "direction": direction.get(f, "")})
    table = pd.DataFrame(rows).sort_values(["level", "importance"], ascending=[False, False])
    columns = ["feature", "group", "importance", "ci_low", "ci_high", "selection_frequency",
               "is_biomarker", "level", "hits", "p_value", "direction"]
    return BiomarkerReport(table[columns].reset_index(drop=True), resamples, alpha,
                           features, groups, selector.candidate)


def _summary(values: pd.Series) -> dict[str, float]:
    return {"importance": float(values.mean()), "ci_low": float(values.quantile(0.025)),
            "ci_high": float(values.quantile(0.975))}


def _directions(model: TrainedModel, X: pd.DataFrame, task: str = "binary") -> dict[str, str]:
    """Does a higher value raise or lower the risk? Spearman of value vs its SHAP value
    (of impaired EIH's log-odds; of the predicted change, sign reversed, for a continuous
    model; of the hyperalgesia logit for three classes)."""
    explanation = explain_frame(model, X, output=2 if task == "three_class" else None)
    sign = -1.0 if task == "continuous" else 1.0
    out = {}
    for name in explanation.values.columns:
        v, s = explanation.data[name].to_numpy(), explanation.values[name].to_numpy()
        ok = ~np.isnan(v)
        if ok.sum() < 10 or np.ptp(v[ok]) == 0 or np.ptp(s[ok]) == 0:
            out[name] = "none"
            continue
        rho = sign * spearmanr(v[ok], s[ok]).statistic
        out[name] = "raises risk" if rho > 0.1 else "lowers risk" if rho < -0.1 else "mixed"
    return out


def interaction_strengths(model: FittedModel, X: pd.DataFrame, *, max_rows: int = 500,
                          seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean absolute SHAP interaction values: the top feature pairs, and a group matrix.

    Only tree models have interactions (:meth:`FittedModel.interaction_values`): an
    ensemble reports its LightGBM member's, a logistic model returns empty frames.
    """
    rng = np.random.default_rng(seed)
    rows = X.iloc[rng.permutation(len(X))[:max_rows]]
    found = model.interaction_values(model.batch(rows))
    if found is None:
        return pd.DataFrame(columns=["feature_a", "feature_b", "strength"]), pd.DataFrame()
    names, inter = found
    strength = np.abs(inter).mean(axis=0)
    pairs = [(names[i], names[j], 2 * strength[i, j]) for i in range(len(names))
             for j in range(i + 1, len(names))]
    top = pd.DataFrame(pairs, columns=["feature_a", "feature_b", "strength"]).sort_values(
        "strength", ascending=False).reset_index(drop=True)
    groups = [feature_group(n) for n in names]
    frame = pd.DataFrame(strength, index=groups, columns=groups)
    matrix = frame.T.groupby(level=0, sort=False).sum().T.groupby(level=0, sort=False).sum()
    values = matrix.to_numpy(copy=True)
    np.fill_diagonal(values, 0.0)  # the heat map shows interactions between groups only
    return top, pd.DataFrame(values, index=matrix.index, columns=matrix.columns)
