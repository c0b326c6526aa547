"""Simulation study of the biomarker decision rule: error rate, power, proxies.

    python -m benchmarks.discovery [--datasets 200] [--jobs 2]

Three rules decide which of ten candidate features (one group each) is informative:

``shadow (old)``
    The rule of the previous release: ``B`` bootstrap refits of a ridge logistic regression
    (L2 penalty 1 per standardised coefficient) with a permuted *shadow* copy of every
    feature; a feature *hits* in a refit when its out-of-bag importance (mean absolute
    linear SHAP value) beats the best shadow; declared when ``P(Binomial(B, 0.5) >=
    hits) < 0.05 / 10``.
``conditional (new)``
    :func:`eihpredict.explain._discovery.conditional_tests`: each feature given all the
    others, calibrated likelihood-ratio test, Holm at 0.05. It is what
    ``eihpredict explain`` uses.
``oracle``
    The likelihood-ratio test of each feature in the correctly specified logistic model
    (the true transformation of every feature; 1 df), Holm at 0.05: the efficient test
    that knows the truth, an upper bound on power.

Data: ``n`` rows, ten standard normal features, ``logit P(y) = -0.4 + sum beta_j
g(x_j)``. Null: every beta 0 (false declarations per analysis, with its 95 %
Clopper-Pearson interval, at several budgets ``B`` and sizes ``n``). Power: three true
features with log-odds ratio ``beta`` per SD. Proxy: feature 9 is ``0.6 x_0 + 0.8 e``
(correlation 0.6 with the true feature 0, itself null); ``g`` is linear, or a hinge
``max(x - 0.5, 0)`` (a threshold effect the linear model of the test only
approximates). Last, the project's own simulator with the feature groups of
``pipelines/quick.yaml``: the outcome shuffled (null), the default and realistic
scenarios (true and null groups declared).

Every figure is printed as a Markdown table; the tables of docs/benchmarks.md are this output.
``--datasets`` sets the null study's size (200 by default, as the figures quoted in
docs/benchmarks.md) and of the simulator's null study (the outcome shuffled); the power and proxy
studies and the simulator's true scenarios use a half and a fifth of it. ``--only``
reruns one study.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from joblib import Parallel, delayed
from scipy.special import expit
from scipy.stats import beta as beta_dist
from scipy.stats import binom, chi2

from eihpredict.explain._discovery import (
    DiscoveryDesign,
    conditional_tests,
    discovery_design,
    multiplicity,
)
from eihpredict.labels import make_labels
from eihpredict.modeling import fit_logistic
from eihpredict.simulate import simulate_cohort

P = 10
NAMES = [f"x{j}" for j in range(P)]
QUICK_GROUPS = ["cpm", "ts", "pcs", "hads", "ppt", "exercise", "sex", "population"]


def hinge(x: np.ndarray) -> np.ndarray:
    """A threshold effect scaled to unit SD under N(0, 1) (mean removed)."""
    h = np.maximum(x - 0.5, 0.0)
    return (h - 0.1978) / 0.4133


def stylised(n: int, seed: int, betas: dict[int, float], proxy: bool = False,
             nonlinear: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, true design): ten N(0, 1) features, logistic outcome."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, P))
    if proxy:
        X[:, 9] = 0.6 * X[:, 0] + 0.8 * rng.standard_normal(n)
    truth = X.copy()
    if nonlinear:
        truth[:, 0] = hinge(X[:, 0])
    eta = -0.4 + sum(b * truth[:, j] for j, b in betas.items())
    y = (rng.random(n) < expit(eta)).astype("float64")
    return X, y, truth


def shadow_rule(X: np.ndarray, y: np.ndarray, resamples: int, seed: int,
                alpha: float = 0.05) -> set[int]:
    """The old decision rule (module docstring)."""
    rng = np.random.default_rng(seed)
    n, p = X.shape
    hits = np.zeros(p)
    for _ in range(resamples):
        while True:
            idx = rng.integers(0, n, n)
            oob = np.setdiff1d(np.arange(n), idx)
            if 0 < y[idx].mean() < 1 and len(oob) >= 10:
                break
        shadow = np.column_stack([X[rng.permutation(n), j] for j in range(p)])
        full = np.column_stack([X, shadow])
        mean, sd = full[idx].mean(axis=0), full[idx].std(axis=0)
        Z = (full - mean) / sd
        fit = fit_logistic(np.column_stack([np.ones(n), Z])[idx], y[idx], max_iter=50,
                           tol=1e-8, ridge=1.0)
        importance = np.abs(fit.coef[1:] * Z[oob]).mean(axis=0)
        hits += importance[:p] > importance[p:].max()
    p_values = binom.sf(hits - 1, resamples, 0.5)
    return {j for j in range(p) if p_values[j] < alpha / p}


def conditional_rule(X: np.ndarray, y: np.ndarray, seed: int,
                     calibration_draws: int = 40) -> set[int]:
    design = DiscoveryDesign.from_matrix(X, NAMES, NAMES)
    tests = conditional_tests(design, y, alpha=0.05, calibration_draws=calibration_draws,
                              seed=seed)
    return {NAMES.index(g) for g in tests.declared}


def oracle_rule(truth: np.ndarray, y: np.ndarray, alpha: float = 0.05) -> set[int]:
    n, p = truth.shape
    Z = np.column_stack([np.ones(n), truth])
    full = fit_logistic(Z, y, max_iter=50, tol=1e-8).loglik
    p_values = np.array([chi2.sf(2 * (full - fit_logistic(np.delete(Z, j + 1, axis=1), y,
                                                           max_iter=50, tol=1e-8).loglik), 1)
                         for j in range(p)])
    return set(np.flatnonzero(multiplicity(p_values, alpha) < alpha).tolist())


def interval(k: int, m: int) -> str:
    """k of m with its 95 % Clopper-Pearson interval."""
    low = beta_dist.ppf(0.025, k, m - k + 1) if k > 0 else 0.0
    high = beta_dist.ppf(0.975, k + 1, m - k) if k < m else 1.0
    return f"{k / m:.3f} ({low:.3f}-{high:.3f})"


def _parallel(func: Callable, seeds, jobs: int, **kwargs) -> list:
    return Parallel(n_jobs=jobs)(delayed(func)(int(s), **kwargs) for s in seeds)


def _null_one(seed: int, n: int, budgets: tuple[int, ...]) -> dict:
    X, y, _ = stylised(n, seed, {})
    out = {"conditional": len(conditional_rule(X, y, seed)) > 0}
    for b in budgets:
        out[f"shadow B={b}"] = len(shadow_rule(X, y, b, seed)) > 0
    return out


def null_study(datasets: int, jobs: int, sizes=(300, 1000, 3000),
               budgets=(30, 100, 300)) -> list[dict]:
    """False declarations per analysis on null data sets, per rule, budget and n (the
    old rule at every budget for the smallest n, at B = 100 for the others)."""
    rows = []
    for n in sizes:
        used = budgets if n == sizes[0] else budgets[1:2]
        results = _parallel(_null_one, range(datasets), jobs, n=n, budgets=used)
        for rule in results[0]:
            k = sum(r[rule] for r in results)
            rows.append({"n": n, "rule": rule, "declared": interval(k, datasets)})
    return rows


def _three_rules(X, y, truth, seed: int, resamples: int) -> dict:
    return {"shadow": shadow_rule(X, y, resamples, seed),
            "conditional": conditional_rule(X, y, seed), "oracle": oracle_rule(truth, y)}


def _power_one(seed: int, n: int, b: float, resamples: int) -> dict:
    X, y, truth = stylised(n, 10_000 + seed, {0: b, 1: b, 2: b})
    return _three_rules(X, y, truth, seed, resamples)


def power_study(datasets: int, jobs: int, sizes=(300, 1000, 3000),
                effects=(0.1, 0.2, 0.3), resamples: int = 100) -> list[dict]:
    """Share of the three true features declared, and analyses declaring a null one."""
    rows = []
    for n in sizes:
        for b in effects:
            results = _parallel(_power_one, range(datasets), jobs, n=n, b=b,
                                resamples=resamples)
            row = {"n": n, "beta": b}
            for rule in ("oracle", "conditional", "shadow"):
                found = np.mean([len(r[rule] & {0, 1, 2}) / 3 for r in results])
                false = sum(bool(r[rule] - {0, 1, 2}) for r in results)
                row[rule] = f"{found:.2f} / {false / datasets:.2f}"
            rows.append(row)
    return rows


def _proxy_one(seed: int, nonlinear: bool, n: int, effect: float, resamples: int) -> dict:
    X, y, truth = stylised(n, 20_000 + seed, {0: effect}, proxy=True, nonlinear=nonlinear)
    return _three_rules(X, y, truth, seed, resamples)


def proxy_study(datasets: int, jobs: int, n: int = 1000, effect: float = 0.5,
                resamples: int = 100) -> list[dict]:
    """How often the proxy (x9, correlation 0.6 with the true x0) is declared."""
    rows = []
    for nonlinear in (False, True):
        results = _parallel(_proxy_one, range(datasets), jobs, nonlinear=nonlinear, n=n,
                            effect=effect, resamples=resamples)
        for rule in ("oracle", "conditional", "shadow"):
            rows.append({"truth": "hinge" if nonlinear else "linear", "rule": rule,
                         "true x0 declared": f"{np.mean([0 in r[rule] for r in results]):.2f}",
                         "proxy x9 declared": interval(sum(9 in r[rule] for r in results),
                                                       datasets)})
    return rows


def _simulator_one(seed: int, scenario: str, n: int) -> dict:
    source = "default" if scenario == "null-shuffled" else scenario
    cohort = simulate_cohort(n, seed=30_000 + seed, scenario=source)
    X = cohort.frame
    y = make_labels(X).to_numpy()
    if scenario == "null-shuffled":
        y = np.random.default_rng(seed).permutation(y)
        true: set[str] = set()
    else:
        # population (a stratifier) is never a candidate
        true = set(cohort.truth["true_groups"]) & set(QUICK_GROUPS) - {"population"}
    declared = set(conditional_tests(discovery_design(QUICK_GROUPS, X), y, seed=seed).declared)
    return {"declared": declared, "true": true}


def simulator_study(datasets: int, jobs: int, n: int = 1000) -> list[dict]:
    """The project's simulator, quick pipeline groups, conditional tests (as explain)."""
    rows = []
    for scenario, count in (("null-shuffled", datasets), ("default", max(datasets // 5, 2)),
                            ("realistic", max(datasets // 5, 2))):
        results = _parallel(_simulator_one, range(count), jobs, scenario=scenario, n=n)
        true_found = [len(r["declared"] & r["true"]) for r in results]
        false = [len(r["declared"] - r["true"]) for r in results]
        rows.append({"scenario": scenario, "cohorts": count,
                     "true groups declared (mean, of 7)": f"{np.mean(true_found):.1f}"
                     if scenario != "null-shuffled" else "-",
                     "null groups declared (total)": int(sum(false)),
                     "analyses declaring a null group": interval(sum(f > 0 for f in false),
                                                                 count)})
    return rows


def markdown(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=["null", "power", "proxy", "simulator"],
                        action="append", help="run only these studies (repeatable)")
    args = parser.parse_args()
    only = set(args.only or ["null", "power", "proxy", "simulator"])
    half = max(args.datasets // 2, 10)
    # the studies' functions come from the imported module, so that worker processes
    # find them by name (a function of __main__ would be sent by value)
    from benchmarks import discovery as study_module

    null_study, power_study = study_module.null_study, study_module.power_study
    proxy_study, simulator_study = study_module.proxy_study, study_module.simulator_study
    for key, title, study in (
            ("null", "Null: share of analyses declaring any of 10 null features (95 % CI)",
             lambda: null_study(args.datasets, args.jobs)),
            ("power", "Power: share of the 3 true features declared / share of analyses declaring "
             "a null one", lambda: power_study(half, args.jobs)),
            ("proxy", "Proxy: a null feature correlated 0.6 with the true one (n = 1000)",
             lambda: proxy_study(half, args.jobs)),
            ("simulator", "The project's simulator, quick pipeline groups (n = 1000)",
             lambda: simulator_study(args.datasets, args.jobs))):
        if key not in only:
            continue
        start = time.perf_counter()
        table = markdown(study())
        print(f"\n### {title}\n\n{table}\n\n({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
