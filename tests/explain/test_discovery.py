"""The biomarker decision: its error rate, its power, adjusted effects, replication.

A small version of ``python -m benchmarks.discovery`` (the tables of docs/benchmarks.md
come from the full one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from typer.testing import CliRunner

from benchmarks.discovery import conditional_rule, oracle_rule, stylised
from eihpredict.cli import app
from eihpredict.explain import discover_biomarkers
from eihpredict.explain._biomarkers import replicate
from eihpredict.explain._discovery import (
    DiscoveryDesign,
    adjusted_effects,
    conditional_tests,
    discovery_design,
)
from eihpredict.labels import make_labels
from eihpredict.modeling import fit_candidate
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


def test_null_error_rate_is_within_the_binomial_bound_of_alpha():
    """40 null data sets (n = 300, 10 null features): analyses declaring anything are
    no more than Binomial(40, 0.05) allows at the 0.5 % level."""
    declared = sum(bool(conditional_rule(*stylised(300, seed, {})[:2], seed))
                   for seed in range(40))
    assert declared <= binom.ppf(0.995, 40, 0.05), declared


def test_power_matches_the_oracle_likelihood_ratio_test():
    """Three true features (log-OR 0.3 per SD, n = 1000): the conditional rule declares
    about what the correctly specified model's test declares, and no null feature."""
    found, oracle, false = [], [], 0
    for seed in range(8):
        X, y, truth = stylised(1000, 100 + seed, {0: 0.3, 1: 0.3, 2: 0.3})
        declared = conditional_rule(X, y, seed)
        found.append(len(declared & {0, 1, 2}))
        oracle.append(len(oracle_rule(truth, y) & {0, 1, 2}))
        false += bool(declared - {0, 1, 2})
    assert sum(found) >= sum(oracle) - 2 and sum(found) >= 18
    assert false <= 2


def test_a_proxy_of_a_true_feature_is_not_declared():
    proxy = 0
    for seed in range(15):
        X, y, _ = stylised(1000, 200 + seed, {0: 0.5}, proxy=True)
        declared = conditional_rule(X, y, seed)
        assert 0 in declared
        proxy += 9 in declared
    assert proxy <= 2


def test_odds_ratio_of_a_two_level_category_is_the_cross_product_ratio():
    """One binary variable: the logistic MLE's odds ratio is (a d) / (b c) and its Wald
    interval Woolf's, exp(log OR +- 1.96 sqrt(1/a + 1/b + 1/c + 1/d))."""
    rng = np.random.default_rng(0)
    sex = np.where(rng.random(400) < 0.55, "female", "male")
    y = (rng.random(400) < np.where(sex == "female", 0.5, 0.3)).astype(float)
    X = pd.DataFrame({"sex": pd.Categorical(sex, categories=["female", "male"])})
    effects = adjusted_effects(discovery_design(["sex"], X), y)
    row = effects.iloc[0]
    a = ((sex == "female") & (y == 1)).sum()
    b = ((sex == "female") & (y == 0)).sum()
    c = ((sex == "male") & (y == 1)).sum()
    d = ((sex == "male") & (y == 0)).sum()
    odds_ratio = a * d / (b * c)
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    assert row["per"] == "female vs male"
    assert row["estimate"] == pytest.approx(odds_ratio, rel=2e-3)
    assert row["ci_low"] == pytest.approx(odds_ratio * np.exp(-1.959964 * se), rel=2e-3)
    assert row["ci_high"] == pytest.approx(odds_ratio * np.exp(1.959964 * se), rel=2e-3)


def test_odds_ratio_per_sd_covers_the_true_value():
    """The 95 % interval of the adjusted odds ratio per SD covers exp(beta) in most of 40
    simulated data sets (each feature has SD 1, so per SD is per unit)."""
    covered = 0
    for seed in range(40):
        X, y, _ = stylised(500, 300 + seed, {0: 0.4, 1: -0.3})
        design = DiscoveryDesign.from_matrix(X, [f"x{j}" for j in range(10)],
                                             [f"x{j}" for j in range(10)])
        effects = adjusted_effects(design, y).set_index("term")
        sd = X[:, 0].std()
        low, high = effects.loc["x0", ["ci_low", "ci_high"]]
        covered += low <= np.exp(0.4 * sd) <= high
    assert covered >= binom.ppf(0.005, 40, 0.95), covered


def test_groups_of_the_simulator_and_the_stratifier():
    cohort = simulate_cohort(800, seed=5, scenario="default")
    X = cohort.frame
    y = make_labels(X).to_numpy()
    design = discovery_design(["cpm", "ts", "pcs", "exercise", "sex", "population", "age"], X)
    tests = conditional_tests(design, y, calibration_draws=10)
    table = tests.groups.set_index("group")
    assert {"cpm", "exercise", "ts", "pcs"} <= set(tests.declared)
    assert "age" not in tests.declared  # a null group of the simulator
    assert table.loc["population", "role"] == "stratifier"
    assert not table.loc["population", "is_biomarker"]
    assert np.isnan(table.loc["population", "p_adjusted"])
    # Holm: adjusted p-values are at least the raw ones, and monotone in them
    candidates = table[table["role"] == "candidate"].sort_values("p_value")
    assert (candidates["p_adjusted"] >= candidates["p_value"] - 1e-15).all()
    assert candidates["p_adjusted"].is_monotonic_increasing
    # variables are biomarkers only inside declared groups
    variables = tests.variables
    assert set(variables.loc[variables["is_biomarker"], "group"]) <= set(tests.declared)
    fdr = conditional_tests(design, y, control="fdr", calibration_draws=10)
    assert set(tests.declared) <= set(fdr.declared)  # BH never declares less than Holm
    with pytest.raises(ValueError, match="control='both'"):
        conditional_tests(design, y, control="both")


def test_continuous_and_three_class_outcomes_are_tested_too():
    cohort = simulate_cohort(600, seed=6, scenario="default")
    X = cohort.frame
    design = discovery_design(["cpm", "exercise", "age"], X)
    change = (X["eih_ppt_post_kpa"] - X["eih_ppt_pre_kpa"]).to_numpy()
    continuous = conditional_tests(design, change, "continuous")
    assert continuous.calibration == 1.0  # the F test is exact, nothing to calibrate
    assert {"cpm", "exercise"} <= set(continuous.declared)
    effects = adjusted_effects(design, change, "continuous").set_index("term")
    assert effects.loc["cpm_pct", "estimate"] > 0  # more CPM, more EIH (kPa)
    classes = np.where(change > 10, 0, np.where(change < -10, 2, 1))
    three = conditional_tests(design, classes, "three_class", calibration_draws=5)
    assert "exercise" in three.declared
    odds = adjusted_effects(design, classes, "three_class")
    assert (odds["measure"] == "odds ratio of hyperalgesia").all()


@pytest.fixture(scope="module")
def two_cohorts(quick_config):
    first = validate_frame(simulate_cohort(600, seed=41, scenario="default").frame).frame
    second = validate_frame(simulate_cohort(600, seed=42, scenario="default").frame).frame
    y = make_labels(first).to_numpy()
    candidate = next(c for c in quick_config.models if c.kind == "logistic" and not c.baseline)
    model = fit_candidate(candidate, quick_config, first, y, seed=0).model
    return model, first, y, second


def test_decision_does_not_depend_on_the_resampling_budget(two_cohorts):
    model, X, y, _ = two_cohorts
    small = discover_biomarkers(model, X, y, resamples=10, seed=3)
    large = discover_biomarkers(model, X, y, resamples=20, seed=3)
    assert sorted(small.declared_groups) == sorted(large.declared_groups)
    assert sorted(small.declared_features) == sorted(large.declared_features)
    decided = ["is_biomarker", "p_value", "p_adjusted"]
    by_key = [r.table.set_index(["level", "feature"]).sort_index()[decided]
              for r in (small, large)]
    pd.testing.assert_frame_equal(*by_key)
    assert len(small.declared_groups) >= 3


def test_replication_confirms_on_a_cohort_like_the_first_and_not_on_noise(two_cohorts):
    model, X, y, second = two_cohorts
    report = discover_biomarkers(model, X, y, resamples=10, seed=3)
    same = replicate(report, model, second, make_labels(second).to_numpy())
    groups = same[same["level"] == "group"]
    assert set(groups["feature"]) == set(report.declared_groups)
    assert groups["replicated"].sum() >= len(groups) - 1
    noise = make_labels(second).to_numpy()
    noise = np.random.default_rng(0).permutation(noise)
    shuffled = replicate(report, model, second, noise)
    assert shuffled["replicated"].sum() <= 1
    assert (shuffled["replication_p_adjusted"] >= shuffled["replication_p_value"]).all()


def test_explain_cli_replicates_and_refuses_the_same_cohort(trained, cohort_csv, tmp_path):
    other = tmp_path / "other.csv"
    simulate_cohort(300, seed=77, scenario="default").frame.to_csv(other, index=False)
    out = tmp_path / "report"
    args = ["explain", "--model", str(trained.model_dir), "--data", cohort_csv, "--out",
            str(out), "--resamples", "10", "--n-jobs", "1"]
    result = CliRunner().invoke(app, [*args, "--replicate", str(other), "--control", "fdr"])
    assert result.exit_code == 0, result.output
    replication = pd.read_csv(out / "replication.csv")
    table = pd.read_csv(out / "biomarkers.csv")
    declared = table[table["is_biomarker"]]
    assert len(replication) == len(declared)
    assert {"replication_p", "replicated"} <= set(table.columns)
    assert "Replication" in (out / "report.html").read_text()
    same = CliRunner().invoke(app, [*args, "--replicate", cohort_csv])
    assert same.exit_code == 2 and "discovery cohort" in same.stderr
