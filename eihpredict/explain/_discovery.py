"""Conditional tests of biomarker groups: is this group informative given all the others?

This module decides which groups (and, within them, which measured variables) are
biomarkers. Its error rate is a property of the test, not of a resampling budget: the
bootstrap refits of :mod:`._biomarkers` describe importance and stability, they do not
decide.

Procedure (chosen by the simulation study ``python -m benchmarks.discovery``; docs/benchmarks.md,
"Biomarker discovery: the error promise", has its tables):

1. **Design.** The model's features, imputed with ``*_missing`` indicators and
   standardised (the linear pipeline of :func:`~eihpredict.features.build_feature_pipeline`);
   constant columns are dropped, and so is any column that is a linear combination of
   the intercept and the columns before it (Gram-Schmidt, adjustments first, then groups
   from the smallest), so a questionnaire total next to its subscales costs no degree of
   freedom. A covariate-adjusted continuous model's pre-exercise PPT is an adjustment
   column in every model (ANCOVA), never a candidate.
2. **Tests of one group.** The likelihood-ratio test of the generalised linear model on
   all columns against the one without the group's columns (*joint* test): logistic
   (binary), multinomial logistic (three classes), or the exact F test of the linear
   model (continuous change); and, for each variable of the group, the test of its
   values given the other groups and its own missing indicator (one-hot siblings of a
   category and a measurement's missing indicator are one variable). Under the null
   "the group is uninformative given the others" every one of these tests is valid, so
   the group's p-value is the smallest times the number of distinct tests (Bonferroni):
   a diffuse signal shows in the joint test, a concentrated one in its variable's test.
3. **Calibration.** With tens of columns per few hundred rows the likelihood-ratio
   statistic of a logistic model is larger than chi-square under the null (Sur & Candes
   2019, PNAS 116:14516). The statistics are divided by a Bartlett-type factor estimated
   by a parametric bootstrap under each group's null model (Rocke 1989, JASA
   84:598-601), pooled over groups and never below 1. The number of draws is fixed
   (``calibration_draws``), independent of the resampling budget, and seeded.
4. **Multiplicity.** Holm over the candidate groups (family-wise error ``alpha``), or
   Benjamini-Hochberg (false discovery rate ``alpha``) with ``control="fdr"``. A
   variable is a biomarker when its group is and its own test survives the same rule
   over all variables.
5. **Stratifiers.** ``population`` and ``site`` stay in every model as adjustments but
   are not candidates: a diagnosis is a stratum, not a biomarker. Their tests are
   reported, never declared.

:func:`adjusted_effects` gives what a reviewer asks for next to SHAP importance: the
adjusted odds ratio per SD (per category against the most frequent one) with its 95 %
Wald interval, from the logistic model of the variable and the other groups (for a
continuous model the adjusted difference in kPa of PPT change, for three classes the
odds ratio of hyperalgesia against the other two classes).

Only NumPy, SciPy and the feature pipeline are used here; nothing reads files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logsumexp
from scipy.stats import chi2, norm
from scipy.stats import f as f_dist
from scipy.stats import t as student_t

from ..features import ImputeWithIndicators, build_feature_union
from ..modeling import fit_logistic, get_task
from ..schema import COLUMNS
from ._shap import feature_group

__all__ = ["STRATIFIERS", "ConditionalTests", "DiscoveryDesign", "adjusted_effects",
           "conditional_tests", "multiplicity", "discovery_design", "variable_of"]

#: Groups kept as adjustments but never declared biomarkers.
STRATIFIERS = ("population", "site")
_CATEGORY_COLUMNS = tuple(sorted((c.name for c in COLUMNS if c.categories),
                                 key=len, reverse=True))
_ADJUST = "__adjustment__"
#: L2 penalty per standardised coefficient: a finite maximum under separation (a rare
#: category with one outcome only), negligible against the information of 100+ rows.
RIDGE = 1e-3


def variable_of(feature: str) -> str:
    """The measured variable behind a feature: one-hot siblings and missing indicators
    belong to their column.

    Examples
    --------
    >>> variable_of("exercise_modality_isometric"), variable_of("hads_anxiety_missing")
    ('exercise_modality', 'hads_anxiety')
    >>> variable_of("population_chronic_pain"), variable_of("sex_female")
    ('population', 'sex')
    """
    name = feature.removesuffix("_missing")
    for column in _CATEGORY_COLUMNS:
        if name.startswith(column + "_"):
            return column
    return name


@dataclass
class DiscoveryDesign:
    """The standardised test design of one cohort (see the module docstring)."""

    matrix: np.ndarray
    columns: list[str]
    groups: np.ndarray
    variables: np.ndarray
    raw_sd: dict[str, float]
    imputed_sd: dict[str, float]
    reference: dict[str, str]
    kept: np.ndarray

    @classmethod
    def from_matrix(cls, values: np.ndarray, columns: list[str],
                    groups: list[str]) -> DiscoveryDesign:
        """A design from a complete numeric matrix, one group name per column (for
        simulation studies and for data already coded by hand)."""
        values = np.asarray(values, dtype="float64")
        if values.ndim != 2 or values.shape[1] != len(columns) or len(groups) != len(columns):
            raise ValueError(f"Got a {values.shape} matrix for {len(columns)} columns and "
                             f"{len(groups)} groups; expected one name and group per column.")
        if not np.isfinite(values).all():
            raise ValueError("the matrix has missing or infinite values; impute them first")
        keep = np.ptp(values, axis=0) > 0
        sd = values[:, keep].std(axis=0)
        matrix = (values[:, keep] - values[:, keep].mean(axis=0)) / sd
        names = [c for c, k in zip(columns, keep, strict=True) if k]
        kept = _extend(matrix, np.zeros(0, dtype=int), np.arange(len(names)))
        return cls(matrix, names, np.array([g for g, k in zip(groups, keep, strict=True) if k]),
                   np.array(names), dict(zip(names, sd, strict=True)),
                   dict(zip(names, sd, strict=True)), {}, kept)

    @property
    def candidates(self) -> list[str]:
        """Groups tested as biomarkers, in design order."""
        return [g for g in dict.fromkeys(self.groups)
                if g not in STRATIFIERS and g != _ADJUST]


def discovery_design(groups: list[str], X: pd.DataFrame,
                adjust: tuple[str, ...] = ()) -> DiscoveryDesign:
    """Build the design of :func:`group_tests` from the model's groups and the cohort."""
    union = build_feature_union(groups, covariates=tuple(c for c in adjust if c in X))
    raw = union.set_output(transform="pandas").fit_transform(X)
    imputed = ImputeWithIndicators().set_output(transform="pandas").fit_transform(raw)
    values = imputed.to_numpy(dtype="float64")
    keep = np.ptp(values, axis=0) > 0
    names = [c for c, k in zip(imputed.columns, keep, strict=True) if k]
    values = values[:, keep]
    group_of = [_ADJUST if variable_of(c) in adjust else feature_group(c) for c in names]
    # Adjustments first, then groups from the smallest: a column that is a combination of
    # earlier ones is left out once, for every test (a sex-normalised PPT z-score is the
    # log PPT shifted by sex, so it goes, and sex stays testable).
    size = {g: group_of.count(g) for g in group_of}
    order = sorted(range(len(names)), key=lambda i: (group_of[i] != _ADJUST,
                                                     size[group_of[i]], group_of[i], i))
    names = [names[i] for i in order]
    group_of = [group_of[i] for i in order]
    values = values[:, order]
    matrix = (values - values.mean(axis=0)) / values.std(axis=0)
    raw_sd = {c: float(np.nanstd(raw[c].to_numpy(dtype="float64")))
              for c in names if c in raw and not c.endswith("_missing")}
    imputed_sd = dict(zip(names, values.std(axis=0), strict=True))
    reference = {}
    for variable in dict.fromkeys(variable_of(c) for c in names):
        levels = [c for c in names if variable_of(c) == variable and c != variable
                  and not c.endswith("_missing") and c.removeprefix(variable + "_")
                  in _levels(variable)]
        # A full one-hot coding sums to 1 in every row: one level becomes the reference.
        if len(levels) > 1 and np.allclose(imputed[levels].sum(axis=1), 1.0):
            reference[variable] = max(levels, key=lambda c: (imputed[c].sum(), c))
    kept = _extend(matrix, np.zeros(0, dtype=int), np.arange(len(names)))
    return DiscoveryDesign(matrix, names, np.array(group_of), np.array(
        [variable_of(c) for c in names]), raw_sd, imputed_sd, reference, kept)


def _extend(matrix: np.ndarray, base: np.ndarray, extra) -> np.ndarray:
    """``base`` plus each column of ``extra`` (in order) that is not a linear
    combination of the intercept and the columns already taken (Gram-Schmidt)."""
    n = matrix.shape[0]
    basis = [np.full(n, 1.0 / np.sqrt(n))]
    taken = [int(i) for i in base]
    for i in taken:
        _orthogonal(basis, matrix[:, i])
    for i in extra:
        i = int(i)
        if i not in taken and _orthogonal(basis, matrix[:, i]):
            taken.append(i)
    return np.array(sorted(taken), dtype=int)


def _orthogonal(basis: list[np.ndarray], column: np.ndarray) -> bool:
    """Add ``column``'s part orthogonal to ``basis``; False when it has (almost) none."""
    residual = column.astype("float64", copy=True)
    for _ in range(2):  # twice is enough (Kahan-Parlett)
        residual -= np.column_stack(basis) @ (np.column_stack(basis).T @ residual)
    norm = np.linalg.norm(residual)
    if norm <= 1e-6 * max(np.linalg.norm(column), 1e-300):
        return False
    basis.append(residual / norm)
    return True


class _Family:
    """Fits of one generalised linear model (log-likelihood, coefficients): ``glm`` is
    a task's :attr:`~eihpredict.modeling.Task.glm` (gaussian, binomial, multinomial)."""

    def __init__(self, glm: str, y: np.ndarray):
        self.glm = glm
        self.gaussian = glm == "gaussian"
        self.y = np.asarray(y)
        self.n = len(self.y)
        self.k = 3 if glm == "multinomial" else 2
        self.extra = self.k - 1  # parameters per column

    def design(self, matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(self.n), matrix[:, columns]])

    def fit(self, Z: np.ndarray, y: np.ndarray):
        """Log-likelihood (or residual sum of squares), coefficients and fitted means."""
        if self.gaussian:
            beta, *_ = np.linalg.lstsq(Z, y, rcond=None)
            residual = y - Z @ beta
            return float(residual @ residual), beta, None
        if self.k > 2:
            return _multinomial(Z, y.astype(int), self.k)
        fit = fit_logistic(Z, y.astype("float64"), max_iter=60, tol=1e-8, ridge=RIDGE)
        return fit.loglik, fit.coef, expit(Z @ fit.coef)

    def draw(self, rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
        if self.k > 2:
            u = rng.random(self.n)[:, None]
            return (u > np.cumsum(mean, axis=1)[:, :-1]).sum(axis=1)
        return (rng.random(self.n) < mean).astype("float64")


def _multinomial(Z: np.ndarray, y: np.ndarray, k: int, max_iter: int = 60,
                 tol: float = 1e-8):
    """Multinomial logistic regression (class 0 the reference) by Newton-Raphson."""
    n, q = Z.shape
    onehot = np.eye(k)[y][:, 1:]
    beta = np.zeros((q, k - 1))

    pen = np.full((q, k - 1), RIDGE)
    pen[0] = 0.0

    def loglik(b):
        eta = np.column_stack([np.zeros(n), Z @ b])
        return float(eta[np.arange(n), y].sum() - logsumexp(eta, axis=1).sum()
                     - 0.5 * (pen * b * b).sum()), eta

    ll, eta = loglik(beta)
    for _ in range(max_iter):
        prob = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))[:, 1:]
        grad = (Z.T @ (onehot - prob) - pen * beta).ravel(order="F")
        info = np.empty(((k - 1) * q, (k - 1) * q))
        for a in range(k - 1):
            for b in range(k - 1):
                w = prob[:, a] * ((a == b) - prob[:, b])
                info[a * q:(a + 1) * q, b * q:(b + 1) * q] = (Z * w[:, None]).T @ Z
        try:
            step = np.linalg.solve(info + np.diag(pen.ravel(order="F")), grad)
        except np.linalg.LinAlgError:
            break
        step = step.reshape((q, k - 1), order="F")
        t = 1.0
        while True:
            new_ll, new_eta = loglik(beta + t * step)
            if new_ll >= ll - 1e-12 * abs(ll) or t < 1e-8:
                break
            t /= 2
        beta, ll, eta = beta + t * step, new_ll, new_eta
        if np.max(np.abs(t * step)) < tol:
            break
    unpenalised = float(eta[np.arange(n), y].sum() - logsumexp(eta, axis=1).sum())
    return unpenalised, beta, np.exp(eta - logsumexp(eta, axis=1, keepdims=True))


def _lrt(family: _Family, design: DiscoveryDesign, full: np.ndarray, reduced: np.ndarray,
         y: np.ndarray, cache: dict | None = None):
    """(statistic, df, reduced fit's means); for a continuous outcome the F statistic."""
    fits = []
    for cols in (full, reduced):
        key = tuple(cols)
        if cache is not None and key in cache:
            fits.append(cache[key])
            continue
        fitted = family.fit(family.design(design.matrix, cols), y)
        if cache is not None:
            cache[key] = fitted
        fits.append(fitted)
    (a, _, _), (b, _, mean) = fits
    df = (len(full) - len(reduced)) * family.extra
    if family.gaussian:
        dof = family.n - 1 - len(full)
        stat = ((b - a) / df) / (a / dof) if df > 0 and a > 0 else 0.0
        return max(stat, 0.0), df, None
    return max(2.0 * (a - b), 0.0), df, mean


def _p_value(family: _Family, stat: float, df: int, factor: float, n_full: int) -> float:
    if df <= 0:
        return 1.0
    if family.gaussian:
        return float(f_dist.sf(stat, df, family.n - 1 - n_full))
    return float(chi2.sf(stat / factor, df))


def multiplicity(p_values: np.ndarray, alpha: float, control: str = "fwer") -> np.ndarray:
    """Holm (``"fwer"``) or Benjamini-Hochberg (``"fdr"``) adjusted p-values.

    Examples
    --------
    >>> multiplicity(np.array([0.01, 0.04, 0.03]), 0.05).round(2).tolist()
    [0.03, 0.06, 0.06]
    >>> multiplicity(np.array([0.01, 0.04, 0.03]), 0.05, "fdr").round(2).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype="float64")
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    if control == "fwer":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    elif control == "fdr":
        adjusted = np.minimum.accumulate(m / np.arange(m, 0, -1) * p[order][::-1])[::-1]
    else:
        raise ValueError(f"Got control={control!r}; expected 'fwer' or 'fdr'.")
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass
class ConditionalTests:
    """Result of :func:`conditional_tests`: one row per group and per variable."""

    groups: pd.DataFrame
    variables: pd.DataFrame
    calibration: float
    alpha: float
    control: str

    @property
    def declared(self) -> list[str]:
        return self.groups.loc[self.groups["is_biomarker"], "group"].tolist()


def conditional_tests(design: DiscoveryDesign, y: np.ndarray, task: str = "binary", *,
                      alpha: float = 0.05, control: str = "fwer", calibration_draws: int = 40,
                      seed: int = 0, groups: list[str] | None = None) -> ConditionalTests:
    """Test every candidate group, and each of its variables, given all the other groups.

    A group's p-value is the Bonferroni combination of its joint likelihood-ratio test
    (all its columns at once) and the test of each of its variables given the other
    groups: each is a valid test of the same null (the group is uninformative given the
    others), so the smallest, times their number, is too. The joint test finds a group
    whose signal is spread over many columns, a variable test one whose signal is in one
    measure, without paying for a questionnaire's redundant subscales.

    Parameters
    ----------
    design : DiscoveryDesign
        From :func:`discovery_design`.
    y : array
        Labels (0/1; class codes 0-2 for three classes) or the PPT change (continuous).
    task : {"binary", "continuous", "three_class"}
    alpha : float
        Family-wise error (``control="fwer"``, Holm) or false discovery rate
        (``"fdr"``, Benjamini-Hochberg) over the candidate groups; the variables of the
        declared groups are judged by the same rule over all variables.
    calibration_draws : int
        Parametric bootstrap draws per group for the Bartlett-type factor (0: none).
    groups : list of str, optional
        The family tested (default: every candidate group); others stay adjustments.

    Returns
    -------
    ConditionalTests
        ``groups``: ``group``, ``role`` (candidate or stratifier), ``df``, ``statistic``,
        ``p_joint``, ``p_value`` (combined), ``p_adjusted``, ``is_biomarker``.
        ``variables``: ``variable``, ``group``, ``df``, ``statistic``, ``p_value``,
        ``p_adjusted``, ``is_biomarker``. ``calibration``: the factor.
    """
    if control not in ("fwer", "fdr"):
        raise ValueError(f"Got control={control!r}; expected 'fwer' or 'fdr'.")
    if not 0 < alpha < 1:
        raise ValueError(f"Got alpha={alpha!r}; expected a number in (0, 1).")
    family = _Family(get_task(task).glm, y)
    full = design.kept
    tested = design.candidates if groups is None else list(groups)
    reported = tested + [g for g in STRATIFIERS if g in set(design.groups)
                         and g not in tested]
    cache: dict = {}
    joint = {}
    for g in reported:
        reduced = full[design.groups[full] != g]
        joint[g] = (*_lrt(family, design, full, reduced, y, cache), reduced)
    factor = 1.0
    if not family.gaussian and calibration_draws > 0:
        rng = np.random.default_rng(seed)
        total, dfs = 0.0, 0
        for g in tested:
            _, df, mean, reduced = joint[g]
            if df <= 0:
                continue
            for _ in range(calibration_draws):
                total += _lrt(family, design, full, reduced, family.draw(rng, mean))[0]
                dfs += df
        factor = max(1.0, total / dfs) if dfs else 1.0
    variables = _variable_tests(family, design, y, reported, factor, cache)
    rows = []
    for g in reported:
        stat, df, _, _ = joint[g]
        p_joint = _p_value(family, stat, df, factor, len(full))
        mine = variables[variables["group"] == g]
        # Bonferroni over the distinct tests: a variable whose test is the joint one (a
        # group of one variable) or another variable's (a sex-normalised z-score and its
        # log PPT, given sex) is one test, not two
        distinct = {(int(d), round(float(t), 6)) for d, t in zip(
            mine["df"], mine["statistic"], strict=True)} | {(int(df), round(stat, 6))}
        p_min = min([p_joint, *mine["p_value"].tolist()])
        p = min(1.0, len(distinct) * p_min)
        rows.append({"group": g, "role": "candidate" if g in tested else "stratifier",
                     "df": df, "statistic": stat, "p_joint": p_joint, "p_value": p})
    table = pd.DataFrame(rows, columns=["group", "role", "df", "statistic", "p_joint",
                                        "p_value"])
    candidates = (table["role"] == "candidate").to_numpy()
    table["p_adjusted"] = np.nan
    table.loc[candidates, "p_adjusted"] = multiplicity(
        table.loc[candidates, "p_value"].to_numpy(), alpha, control)
    table["is_biomarker"] = candidates & (table["p_adjusted"] < alpha).to_numpy()
    declared = set(table.loc[table["is_biomarker"], "group"])
    in_family = variables["group"].isin(tested).to_numpy()
    variables["p_adjusted"] = np.nan
    variables.loc[in_family, "p_adjusted"] = multiplicity(
        variables.loc[in_family, "p_value"].to_numpy(), alpha, control)
    variables["is_biomarker"] = (variables["group"].isin(declared)
                                 & (variables["p_adjusted"] < alpha))
    return ConditionalTests(table, variables, factor, alpha, control)


def _variable_tests(family: _Family, design: DiscoveryDesign, y: np.ndarray,
                    groups: list[str], factor: float, cache: dict) -> pd.DataFrame:
    """Each variable's values given the other groups and its own missing indicator
    (the indicator joins the test when the values add nothing beyond it)."""
    everything = np.arange(len(design.columns))
    rows = []
    for g in groups:
        base = design.kept[design.groups[design.kept] != g]
        for v in dict.fromkeys(design.variables[design.groups == g]):
            mine = everything[design.variables == v]
            flags = [i for i in mine if design.columns[i].endswith("_missing")]
            null = _extend(design.matrix, base, flags)
            alt = _extend(design.matrix, null, [i for i in mine if i not in flags])
            if len(alt) == len(null):
                null, alt = base, _extend(design.matrix, base, mine)
            stat, df, _ = _lrt(family, design, alt, null, y, cache)
            rows.append({"variable": v, "group": g, "df": df, "statistic": stat,
                         "p_value": _p_value(family, stat, df, factor, len(alt))})
    return pd.DataFrame(rows, columns=["variable", "group", "df", "statistic", "p_value"])


def adjusted_effects(design: DiscoveryDesign, y: np.ndarray, task: str = "binary", *,
                     level: float = 0.95) -> pd.DataFrame:
    """Adjusted effect of each variable given the other groups, with a Wald interval.

    Binary: odds ratio of impaired EIH per SD of the measured value (per category
    against the most frequent one). Three classes: odds ratio of hyperalgesia against
    the other two classes. Continuous: difference in the PPT change (kPa) per SD.

    Returns
    -------
    DataFrame
        ``variable``, ``group``, ``term``, ``measure``, ``per`` (what one unit is),
        ``estimate``, ``ci_low``, ``ci_high``.
    """
    task = get_task(task)
    target = task.effect_target(np.asarray(y))
    family = _Family("gaussian" if task.glm == "gaussian" else "binomial", target)
    everything = np.arange(len(design.columns))
    # Wald intervals: normal quantile for the logistic models (R's confint.default),
    # Student's t for the linear model (R's confint.lm)
    z = (student_t.ppf(0.5 + level / 2, max(family.n - len(design.kept) - 1, 1))
         if family.gaussian else norm.ppf(0.5 + level / 2))
    measure = task.effect_measure
    rows = []
    for g in [g for g in dict.fromkeys(design.groups) if g != _ADJUST]:
        base = design.kept[design.groups[design.kept] != g]
        for v in dict.fromkeys(design.variables[design.groups == g]):
            categories = _levels(v)
            wanted = [i for i in everything if design.variables[i] == v
                      and not design.columns[i].endswith("_missing")
                      and design.columns[i] != design.reference.get(v)
                      and (not categories
                           or design.columns[i].removeprefix(v + "_") in categories)]
            indicators = [i for i in everything if design.variables[i] == v
                          and design.columns[i].endswith("_missing")]
            adjusted = _extend(design.matrix, base, indicators)
            terms = [i for i in _extend(design.matrix, adjusted, wanted)
                     if i not in set(adjusted)]
            if not terms:
                continue
            cols = np.concatenate([np.array(terms, dtype=int), adjusted])
            Z = family.design(design.matrix, cols)
            if family.gaussian:
                stat, beta, _ = family.fit(Z, target)
                sigma2 = stat / max(family.n - Z.shape[1], 1)
                cov = sigma2 * np.linalg.pinv(Z.T @ Z)
            else:
                fit = fit_logistic(Z, target, max_iter=60, tol=1e-8, ridge=RIDGE)
                beta, cov = fit.coef, fit.cov
            for j, i in enumerate(terms, start=1):
                name = design.columns[i]
                if categories:
                    # a standardised 0/1 column: back to the indicator's own scale
                    scale = 1.0 / design.imputed_sd[name]
                    this = name.removeprefix(v + "_")
                    others = [c for c in categories if c != this]
                    if v in design.reference:
                        per = f"{this} vs {design.reference[v].removeprefix(v + '_')}"
                    elif len(others) == 1:  # a two-level category coded by one column
                        per = f"{this} vs {others[0]}"
                    else:
                        per = f"{this} vs not {this}"
                else:
                    # per SD of the observed values (imputation shrinks the column's SD)
                    raw_sd = design.raw_sd.get(name, np.nan)
                    scale = raw_sd / design.imputed_sd[name] if np.isfinite(raw_sd) else 1.0
                    per = f"1 SD ({raw_sd:.3g})" if np.isfinite(raw_sd) else "1 SD"
                b, se = beta[j] * scale, np.sqrt(max(cov[j, j], 0.0)) * scale
                low, high = b - z * se, b + z * se
                if not family.gaussian:
                    b, low, high = np.exp(b), np.exp(low), np.exp(high)
                rows.append({"variable": v, "group": g, "term": name, "measure": measure,
                             "per": per, "estimate": float(b), "ci_low": float(low),
                             "ci_high": float(high)})
    return pd.DataFrame(rows, columns=["variable", "group", "term", "measure", "per",
                                       "estimate", "ci_low", "ci_high"])


def _levels(column: str) -> tuple[str, ...]:
    for spec in COLUMNS:
        if spec.name == column:
            return spec.categories or ()
    return ()
