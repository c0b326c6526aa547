"""Biomarker discovery: a conditional test decides, resampling describes.

**Decision** (:mod:`._discovery`): each candidate group is tested given all the other
groups (likelihood-ratio tests of a generalised linear model on the model's features,
calibrated, Holm over groups); a measured variable is a biomarker when its group is and
its own test survives Holm over all variables. The error rate is a property of the test,
not of the number of resamples: under the conditional null (this group carries no
information given the others) a group is declared in at most ``alpha`` of analyses, as
measured by ``python -m benchmarks.discovery`` (docs/benchmarks.md). ``population`` and
``site`` are stratifiers: kept in every model, reported, never declared. Next to it, the
adjusted odds ratio of each variable per SD (per category against the most frequent
one) with its 95 % interval, and its direction.

**Description** (this module): for ``B`` bootstrap resamples a *selector* model is
refitted with a **shadow** copy of every feature (the same values permuted across
rows), and importance is the mean absolute SHAP value on the out-of-bag rows per
variable (one-hot siblings and missing indicators summed into their variable) and per
source group, with a 95 % interval across resamples. ``selection_frequency`` is the
share of resamples in which a group (variable) beats the best shadow group (variable).
A shadow is permuted on its own, so it breaks the correlation with the other features:
the shadow band is a *marginal* null reference (what a feature unrelated to everything
reaches), shown for orientation; it does not decide, and a proxy of a true biomarker
beats it without being one.

Selector: the chosen model itself when it is a (penalised) logistic regression; when
it is LightGBM, an elastic-net logistic regression whose penalty is chosen once by
10-fold CV on the whole cohort (``selector="auto"``); ``selector="model"`` forces the
chosen model. For a continuous model it is an elastic-net linear regression of the PPT
change (importance in kPa); for three classes a multinomial elastic-net logistic
regression, importance averaged over the three class logits. A covariate-adjusted
model's pre-exercise PPT is an adjustment in the tests and no candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..modeling import (
    FittedModel,
    PenalisedLinearRegression,
    TrainedModel,
    draw_rows,
    estimator_contributions,
    get_task,
)
from ..schema import OUTCOME_COLUMNS
from ..sessions import participant_groups
from ._discovery import (
    ConditionalTests,
    adjusted_effects,
    conditional_tests,
    discovery_design,
    multiplicity,
    variable_of,
)
from ._shap import feature_group

__all__ = ["BiomarkerReport", "discover_biomarkers", "interaction_strengths", "replicate"]

logger = logging.getLogger("eihpredict.explain")


@dataclass
class BiomarkerReport:
    """Result of :func:`discover_biomarkers`.

    ``table`` has the contract's columns (``feature``, ``group``, ``importance``,
    ``ci_low``, ``ci_high``, ``selection_frequency``, ``is_biomarker``) plus ``level``
    (``group`` or ``feature``; a feature row is one measured variable), ``role``
    (candidate or stratifier), ``df``, ``p_value``, ``p_adjusted``, ``hits``,
    ``direction`` and, for a variable with one term, its adjusted ``effect`` with
    ``effect_ci_low``, ``effect_ci_high`` and ``effect_per``.
    """

    table: pd.DataFrame
    resamples: int
    alpha: float
    feature_draws: pd.DataFrame
    group_draws: pd.DataFrame
    selector: str
    tests: ConditionalTests | None = None
    effects: pd.DataFrame | None = None
    control: str = "fwer"

    @property
    def groups(self) -> pd.DataFrame:
        return self.table[self.table["level"] == "group"]

    @property
    def declared_groups(self) -> list[str]:
        return self.groups.loc[self.groups["is_biomarker"], "group"].tolist()

    @property
    def declared_features(self) -> list[str]:
        rows = self.table[(self.table["level"] == "feature") & self.table["is_biomarker"]]
        return rows["feature"].tolist()


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
                  continuous: bool = False, clusters: np.ndarray | None = None):
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = len(y)
    classes = len(np.unique(y))
    while True:  # repeated sessions: whole participants in or out of the bag
        idx = draw_rows(rng, n, clusters)
        oob = np.setdiff1d(np.arange(n), idx)
        if (continuous or len(np.unique(y[idx])) == classes) and len(oob) >= 10:
            break
    parts = model.refit_parts()
    train = _shadowed(parts.fit_design(X.iloc[idx]), rng)
    test = _shadowed(parts.design(X.iloc[oob]), rng)
    scaler = None
    estimator = parts.estimator
    if parts.linear:
        scaler = StandardScaler().fit(train.to_numpy(dtype="float64"))
        estimator.fit(scaler.transform(train.to_numpy(dtype="float64")), y[idx])
    else:
        estimator.fit(train.to_numpy(dtype="float64"), y[idx])
    contrib = _contributions(model, estimator, scaler, test)
    if contrib.ndim == 2:  # one output; K classes: (n, p, K), averaged over the classes
        contrib = contrib[:, :, None]
    names = list(train.columns)
    shadow = np.array([c.startswith("shadow__") for c in names])
    bare = [c.removeprefix("shadow__") for c in names]

    def merged(key_of) -> pd.Series:
        # |sum of a unit's contributions| per row: one-hot siblings of a category cancel
        # as they should (a row is one level), and a missing indicator joins its value
        keys = np.array([("shadow__" if s_ else "") + key_of(c)
                         for c, s_ in zip(bare, shadow, strict=True)])
        return pd.Series({key: float(np.abs(contrib[:, keys == key, :].sum(axis=1)).mean())
                          for key in dict.fromkeys(keys)})

    return merged(variable_of), merged(feature_group)


def _hits(draws: pd.DataFrame, real: list[str]) -> pd.Series:
    """Resamples in which each unit beats the best shadow unit (descriptive)."""
    shadow_cols = [c for c in draws.columns if c.startswith("shadow__")]
    return draws[real].gt(draws[shadow_cols].max(axis=1), axis=0).sum()


def make_selector(model: TrainedModel, X: pd.DataFrame, y: np.ndarray, selector: str = "auto",
                  seed: int = 0) -> TrainedModel:
    """The model whose refits describe importance (see the module docstring)."""
    if selector not in ("auto", "model", "sparse_logistic"):
        raise ValueError(
            f"Got selector={selector!r}; expected 'auto', 'model' or 'sparse_logistic'."
        )
    if selector == "model" and not hasattr(model, "refit_parts"):
        raise ValueError(f"selector 'model' refits one pipeline; model {model.candidate!r} "
                         "is an ensemble or a covariate-adjusted model: use selector auto")
    if selector == "model" or (selector == "auto" and getattr(model, "linear", False)):
        return model
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..features import ImputeWithIndicators, build_feature_union
    from ..modeling import Calibrator

    def stages():
        return [("features", build_feature_union(model.groups)),
                ("impute", ImputeWithIndicators()), ("scale", StandardScaler())]

    prep = Pipeline(stages()).set_output(transform="pandas")
    design = prep.fit_transform(X, y)
    grid = np.logspace(-3, 1, 13)
    task = get_task(model.task)
    clusters = participant_groups(X)  # repeated sessions: folds keep participants whole
    if clusters is not None:
        folds = list(task.splitter(10, seed, grouped=True).split(design, y, clusters))
    regression = task.estimator_role == "regressor"
    if regression:
        search = GridSearchCV(PenalisedLinearRegression(l1_ratio=0.5), {"C": grid},
                              scoring="neg_mean_squared_error",
                              cv=KFold(10, shuffle=True, random_state=seed)
                              if clusters is None else folds).fit(design, y)
        best_c = float(search.best_params_["C"])
        estimator = PenalisedLinearRegression(C=best_c, l1_ratio=0.5, random_state=seed)
    else:
        search = LogisticRegressionCV(
            Cs=grid, l1_ratios=[0.5], solver="saga", max_iter=5000, scoring="neg_log_loss",
            cv=StratifiedKFold(10, shuffle=True, random_state=seed) if clusters is None
            else folds,
            use_legacy_attributes=False).fit(design, y)
        best_c = float(np.ravel(search.C_)[0])
        estimator = LogisticRegression(C=best_c, l1_ratio=0.5, solver="saga",
                                       max_iter=5000, random_state=seed)
    pipeline = Pipeline([*stages(), ("model", estimator)]).set_output(
        transform="pandas").fit(X, y)
    output_map = get_task(model.task).uncalibrated_outputs(
        y - pipeline.predict(X) if regression else None)
    return TrainedModel(pipeline=pipeline, calibrator=Calibrator("none").fit(np.zeros(2),
                                                                               np.array([0, 1])),
                        threshold=0.5, candidate=f"elastic-net selector (C={best_c:.3g})",
                        kind="logistic", groups=model.groups, input_columns=model.input_columns,
                        output_map=output_map)


def discover_biomarkers(model: TrainedModel, X: pd.DataFrame, y: np.ndarray, *,
                        resamples: int = 30, selector: str = "auto", alpha: float = 0.05,
                        control: str = "fwer", seed: int = 0, n_jobs: int = 1,
                        calibration_draws: int = 40,
                        on_progress: Callable[[int, int], None] | None = None
                        ) -> BiomarkerReport:
    """Test every group given the others, then describe importance by resampling.

    Parameters
    ----------
    model : TrainedModel
        The chosen model (its groups; its hyperparameters are reused in every refit).
    X : DataFrame
        Validated cohort rows (outcome columns are ignored by the features).
    y : array
        Labels under the model's label rule (the PPT change for a continuous model).
    resamples : int
        Number of bootstrap refits ``B`` for importance and its interval. The decision
        does not depend on it.
    selector : {"auto", "model", "sparse_logistic"}
        Which model's refits describe importance (see the module docstring).
    alpha : float
        Family-wise error rate (``control="fwer"``, Holm) or false discovery rate
        (``control="fdr"``, Benjamini-Hochberg) of the group and variable decisions.
    calibration_draws : int
        Parametric bootstrap draws per group calibrating the likelihood-ratio tests.
    """
    if resamples < 10:
        raise ValueError(f"Got resamples={resamples!r}; expected at least 10.")
    from joblib import Parallel, delayed

    adjust = tuple(c for c in getattr(model, "optional_columns", ()) if c in OUTCOME_COLUMNS)
    design = discovery_design(list(model.groups), X, adjust)
    tests = conditional_tests(design, np.asarray(y), model.task, alpha=alpha, control=control,
                              calibration_draws=calibration_draws, seed=seed)
    effects = adjusted_effects(design, np.asarray(y), model.task)
    logger.info("conditional tests: declared %s (calibration factor %.3f)",
                ", ".join(tests.declared) or "none", tests.calibration)
    selector = make_selector(model, X, y, selector, seed)
    seeds = np.random.SeedSequence(seed).generate_state(resamples)
    feature_rows, group_rows = [], []
    continuous = get_task(model.task).estimator_role == "regressor"
    clusters = participant_groups(X)
    jobs = (delayed(_one_resample)(selector, X, y, int(s), continuous, clusters)
            for s in seeds)
    for i, (per_feature, per_group) in enumerate(
            Parallel(n_jobs=n_jobs, return_as="generator")(jobs), start=1):
        feature_rows.append(per_feature)
        group_rows.append(per_group)
        if on_progress is not None:
            on_progress(i, resamples)
        logger.debug("resample %d/%d done", i, resamples)
    features = pd.DataFrame(feature_rows).reset_index(drop=True).fillna(0.0)
    groups = pd.DataFrame(group_rows).reset_index(drop=True).fillna(0.0)
    real_features = [c for c in features.columns if not c.startswith("shadow__")]
    real_groups = [c for c in groups.columns if not c.startswith("shadow__")]
    g_hits, f_hits = _hits(groups, real_groups), _hits(features, real_features)
    group_tests = tests.groups.set_index("group")
    variable_tests = tests.variables.set_index("variable")
    direction = _directions(effects, model.task)
    rows = []
    for g in real_groups:
        test = group_tests.loc[g] if g in group_tests.index else None
        rows.append({"feature": g, "group": g, "level": "group", **_summary(groups[g]),
                     "selection_frequency": g_hits[g] / resamples, "hits": int(g_hits[g]),
                     **_test_columns(test, "stratifier" if g in ("population", "site")
                                     else "candidate"),
                     "direction": ""})
    for f in real_features:
        g = feature_group(f)
        test = variable_tests.loc[f] if f in variable_tests.index else None
        rows.append({"feature": f, "group": g, "level": "feature", **_summary(features[f]),
                     "selection_frequency": f_hits[f] / resamples, "hits": int(f_hits[f]),
                     **_test_columns(test, group_tests["role"].get(g, "candidate")),
                     "direction": direction.get(f, ""), **_effect_columns(effects, f)})
    table = pd.DataFrame(rows)
    table["level_order"] = (table["level"] == "feature").astype(int)
    table = table.sort_values(["level_order", "importance"], ascending=[True, False])
    columns = ["feature", "group", "importance", "ci_low", "ci_high", "selection_frequency",
               "is_biomarker", "level", "role", "df", "p_value", "p_adjusted", "hits",
               "direction", "effect", "effect_ci_low", "effect_ci_high", "effect_per"]
    return BiomarkerReport(table[columns].reset_index(drop=True), resamples, alpha,
                           features, groups, selector.candidate, tests, effects, control)


def _test_columns(test: pd.Series | None, role: str) -> dict:
    if test is None:  # not in the test design (constant in this cohort)
        return {"role": role, "df": 0, "p_value": np.nan, "p_adjusted": np.nan,
                "is_biomarker": False}
    return {"role": role, "df": int(test["df"]), "p_value": float(test["p_value"]),
            "p_adjusted": float(test["p_adjusted"]),
            "is_biomarker": bool(test["is_biomarker"])}


def _effect_columns(effects: pd.DataFrame, variable: str) -> dict:
    terms = effects[effects["variable"] == variable]
    if len(terms) != 1:  # a category with several levels: see adjusted_effects
        return {"effect": np.nan, "effect_ci_low": np.nan, "effect_ci_high": np.nan,
                "effect_per": "by category" if len(terms) else ""}
    term = terms.iloc[0]
    return {"effect": term["estimate"], "effect_ci_low": term["ci_low"],
            "effect_ci_high": term["ci_high"], "effect_per": term["per"]}


def _directions(effects: pd.DataFrame, task: str) -> dict[str, str]:
    """Does a higher value (this category) raise or lower the risk? From the adjusted
    effect's 95 % interval: "unclear" when it holds the null value. Risk is of impaired
    EIH, of hyperalgesia for three classes; for a continuous model a smaller predicted
    change (less hypoalgesia) is the higher risk."""
    null, sign = get_task(task).effect_null, get_task(task).risk_sign
    out = {}
    for variable, terms in effects.groupby("variable", sort=False):
        verdicts = set()
        for term in terms.itertuples():
            if term.ci_low > null:
                verdicts.add("raises risk" if sign > 0 else "lowers risk")
            elif term.ci_high < null:
                verdicts.add("lowers risk" if sign > 0 else "raises risk")
            else:
                verdicts.add("unclear")
        if len(terms) > 1:
            out[variable] = "by category" if verdicts - {"unclear"} else "unclear"
        else:
            out[variable] = verdicts.pop()
    return out


def replicate(report: BiomarkerReport, model: TrainedModel, X: pd.DataFrame,
              y: np.ndarray, *, seed: int = 0, calibration_draws: int = 40) -> pd.DataFrame:
    """Confirm the declared groups and variables on another cohort.

    The declared groups are the family (Holm, or Benjamini-Hochberg when the discovery
    used ``control="fdr"``, at the discovery's ``alpha``), each tested given all the
    model's other groups in the new cohort; a declared variable is confirmed when its
    test there survives the same rule among the declared variables and its adjusted
    effect points the same way (same side of the null value).

    Returns
    -------
    DataFrame
        One row per declared group and variable: ``level``, ``feature``, ``group``,
        ``discovery_p_adjusted``, ``replication_p_value``, ``replication_p_adjusted``,
        ``discovery_effect``, ``replication_effect``, ``same_direction``, ``replicated``.
    """
    columns = ["level", "feature", "group", "discovery_p_adjusted", "replication_p_value",
               "replication_p_adjusted", "discovery_effect", "replication_effect",
               "same_direction", "replicated"]
    declared = report.declared_groups
    if not declared:
        return pd.DataFrame(columns=columns)
    adjust = tuple(c for c in getattr(model, "optional_columns", ()) if c in OUTCOME_COLUMNS)
    design = discovery_design(list(model.groups), X, adjust)
    present = [g for g in declared if g in set(design.groups)]
    tests = conditional_tests(design, np.asarray(y), model.task, alpha=report.alpha,
                              control=report.control, calibration_draws=calibration_draws,
                              seed=seed, groups=present)
    effects = adjusted_effects(design, np.asarray(y), model.task)
    null = get_task(model.task).effect_null
    found = tests.groups.set_index("group")
    table = report.table.set_index(["level", "feature"])
    rows = []
    for g in declared:
        p = float(found.loc[g, "p_value"]) if g in found.index else np.nan
        p_adj = float(found.loc[g, "p_adjusted"]) if g in found.index else np.nan
        rows.append({"level": "group", "feature": g, "group": g,
                     "discovery_p_adjusted": float(table.loc[("group", g), "p_adjusted"]),
                     "replication_p_value": p, "replication_p_adjusted": p_adj,
                     "discovery_effect": np.nan, "replication_effect": np.nan,
                     "same_direction": np.nan, "replicated": bool(p_adj < report.alpha)})
    variables = tests.variables.set_index("variable")
    wanted = [v for v in report.declared_features if v in variables.index]
    p_vars = variables.loc[wanted, "p_value"].to_numpy(dtype="float64")
    adjusted = dict(zip(wanted, multiplicity(p_vars, report.alpha, report.control),
                        strict=True))
    for v in report.declared_features:
        before = table.loc[("feature", v), "effect"]
        after = _effect_columns(effects, v)["effect"]
        same = bool(np.sign(np.log(before) if null else before)
                    == np.sign(np.log(after) if null else after)) if np.isfinite(
                        before) and np.isfinite(after) else True
        p_adj = adjusted.get(v, np.nan)
        rows.append({"level": "feature", "feature": v, "group": feature_group(v),
                     "discovery_p_adjusted": float(table.loc[("feature", v), "p_adjusted"]),
                     "replication_p_value": float(variables.loc[v, "p_value"])
                     if v in variables.index else np.nan,
                     "replication_p_adjusted": p_adj, "discovery_effect": before,
                     "replication_effect": after, "same_direction": same,
                     "replicated": bool(p_adj < report.alpha and same)})
    return pd.DataFrame(rows, columns=columns)


def _summary(values: pd.Series) -> dict[str, float]:
    return {"importance": float(values.mean()), "ci_low": float(values.quantile(0.025)),
            "ci_high": float(values.quantile(0.975))}


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
