"""Sample sizes against pmsampsize / pmvalsampsize (R) and their documented examples.

R values: tests/data/r/reference_values.json (reference.R, pmsampsize 1.1.3,
pmvalsampsize 0.1.0). Documented examples: pmsampsize's help page and testthat suite
(binary: prevalence 0.174, 24 parameters, Cox-Snell R2 0.288 -> 662; continuous: R2 0.2,
25 parameters, mean 1.9, SD 0.6 -> 918) and pmvalsampsize's (prevalence 0.018, C 0.8,
LP N(-5, 2.5), O/E interval width 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.modeling import (
    cox_snell_r2_from_c,
    max_cox_snell_r2,
    minimum_sample_size,
    minimum_sample_size_continuous,
    validation_sample_size,
)

BINARY_CASES = {  # name in reference_values.json -> arguments
    "csr_0.288_p24_prev0.174": {"prevalence": 0.174, "parameters": 24, "r2_cox_snell": 0.288},
    "csr_0.55_p24_prev0.174": {"prevalence": 0.174, "parameters": 24, "r2_cox_snell": 0.55},
    "csr_0.288_p36_prev0.174": {"prevalence": 0.174, "parameters": 36, "r2_cox_snell": 0.288},
    "csr_0.288_p24_prev0.25": {"prevalence": 0.25, "parameters": 24, "r2_cox_snell": 0.288},
    "nag_0.5_p24_prev0.174": {"prevalence": 0.174, "parameters": 24, "r2_nagelkerke": 0.5},
    "nag_0.2_p10_prev0.4": {"prevalence": 0.4, "parameters": 10, "r2_nagelkerke": 0.2},
    "csr_0.1_p30_prev0.3_s0.85": {"prevalence": 0.3, "parameters": 30, "r2_cox_snell": 0.1,
                                      "shrinkage": 0.85},
}


def test_documented_example_cox_snell_0288_gives_662_with_each_criterion():
    # pmsampsize testthat "Test 4.1": criteria 623, 662, 221 -> 662; EPP 4.52, 4.8, 1.6.
    r = minimum_sample_size(0.174, parameters=24, r2_cox_snell=0.288)
    assert (r.n_shrinkage, r.n_optimism, r.n_risk, r.minimum_n) == (623, 662, 221, 662)
    assert r.criteria()["events_per_parameter"].tolist() == [4.52, 4.8, 1.6, 4.8]
    assert r.minimum_events == math.ceil(662 * 0.174) == 116


def test_documented_example_c_089_gives_660():
    # The exact Cox-Snell R2 for C 0.89 at prevalence 0.174 is 0.29095 -> 0.2910 -> 660 rows
    # (pmsampsize's single simulated sample with seed 123456 gives 0.2902 -> 661: see
    # test_r2_from_c_agrees_with_pmsampsize_simulations for the check of the exact value).
    r = minimum_sample_size(0.174, 0.89, 24)
    assert r.r2_cox_snell == 0.291
    assert (r.n_shrinkage, r.n_optimism, r.n_risk, r.minimum_n) == (615, 660, 221, 660)


@pytest.mark.parametrize("name", sorted(BINARY_CASES))
def test_binary_criteria_equal_pmsampsize(name, r_reference):
    ref = r_reference["samplesize"]["binary"][name]
    r = minimum_sample_size(**BINARY_CASES[name])
    assert [r.n_shrinkage, r.n_optimism, r.n_risk, r.minimum_n] == ref["n"]
    assert r.r2_cox_snell == pytest.approx(ref["rsquared"], abs=1e-12)
    assert np.round(r.criteria()["shrinkage"].to_numpy(), 3).tolist() == ref["shrinkage"]


def test_pmsampsize_c_route_differs_only_through_its_simulated_r2(r_reference):
    # Fed pmsampsize's simulated R2 (0.2902), the criteria are pmsampsize's exactly.
    ref = r_reference["samplesize"]["binary"]["c_0.89_p24_prev0.174"]
    r = minimum_sample_size(0.174, parameters=24, r2_cox_snell=ref["rsquared"])
    assert [r.n_shrinkage, r.n_optimism, r.n_risk, r.minimum_n] == ref["n"] == [617, 661, 221, 661]


@pytest.mark.parametrize(("key", "c", "prevalence"), [
    ("c0.89_prev0.174", 0.89, 0.174), ("c0.75_prev0.2", 0.75, 0.2),
    ("c0.65_prev0.45", 0.65, 0.45)])
def test_r2_from_c_agrees_with_pmsampsize_simulations(r_reference, key, c, prevalence):
    # 20 seeds of pmsampsize's million-row simulation: exact value within 3 standard errors.
    ref = r_reference["samplesize"]["r2_from_c"][key]
    assert abs(cox_snell_r2_from_c(c, prevalence) - ref["mean"]) < 3 * ref["sd"] / math.sqrt(20)


def test_max_cox_snell_r2_matches_pmsampsize_table():
    assert round(max_cox_snell_r2(0.174), 3) == 0.603  # Max_Rsq column of pmsampsize
    assert round(max_cox_snell_r2(0.5), 6) == round(0.75, 6)  # 1 - 0.5^2


CONTINUOUS_CASES = {
    "r0.2_p25_i1.9_sd0.6": ((0.2, 25, 1.9, 0.6), {}),
    "r0.3_p25_i1.9_sd0.6": ((0.3, 25, 1.9, 0.6), {}),
    "r0.2_p50_i1.9_sd0.6": ((0.2, 50, 1.9, 0.6), {}),
    "r0.5_p100_i1.9_sd2": ((0.5, 100, 1.9, 2.0), {}),
    "r0.89_p30_i3.3_sd1.1_s0.84": ((0.89, 30, 3.3, 1.1), {"shrinkage": 0.84}),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS_CASES))
def test_continuous_criteria_equal_pmsampsize(name, r_reference):
    ref = r_reference["samplesize"]["continuous"][name]
    args, kwargs = CONTINUOUS_CASES[name]
    r = minimum_sample_size_continuous(*args, **kwargs)
    assert [r.n_shrinkage, r.n_optimism, r.n_residual_sd, r.n_intercept, r.minimum_n] \
        == ref["n"]
    assert np.round(r.criteria()["shrinkage"].to_numpy(), 3).tolist() == ref["shrinkage"]


def test_continuous_intercept_criterion_binds_for_a_mean_near_zero():
    # A 10 % margin around a mean change of 5 kPa with SD 60 needs n with
    # t * 60 * sqrt(0.8 / n) <= 0.5, about 0.8 * (1.96 * 60 / 0.5)^2 = 44,255 rows.
    r = minimum_sample_size_continuous(0.2, 10, 5.0, 60.0)
    assert r.minimum_n == r.n_intercept
    assert 44_000 < r.n_intercept < 44_400
    lo, hi = r.intercept_ci
    assert hi / 5.0 <= 1.1 + 1e-12 and hi > 5.0 > lo


def test_validation_sample_size_documented_example(r_reference):
    # pmvalsampsize documented example: O/E 905, C 4252; its slope criterion simulates
    # (4501 with simobs = 1000; 4555 with four million rows); here the exact quadrature.
    ref = r_reference["samplesize"]["validation"]
    r = validation_sample_size(0.018, 0.8, oe_ci_width=1, lp_mean=-5, lp_sd=2.5)
    assert r.n_c == ref["documented_lpnormal_simobs1000"][2] == 4252
    assert abs(r.n_slope - ref["lpnormal_simobs4e6"][1]) <= 0.005 * r.n_slope
    # O/E: pmvalsampsize steps SE(ln O/E) on a 0.0001 grid, so its width is a little wider
    # than the target and its n one row smaller; on that same grid the formula gives 905.
    assert r.n_oe == 906
    se_grid = math.ceil(r.se_oe / 1e-4) * 1e-4
    assert math.ceil((1 - 0.018) / (0.018 * se_grid**2)) == ref["lpnormal_simobs4e6"][0] == 905


def test_validation_sample_size_default_widths(r_reference):
    ref = r_reference["samplesize"]["validation"]["lpnormal_default_widths_simobs4e6"]
    r = validation_sample_size(0.3, 0.72, lp_mean=-1, lp_sd=1)
    assert r.n_c == ref[2]
    assert abs(r.n_slope - ref[1]) <= 0.005 * r.n_slope
    assert 0 <= r.n_oe - ref[0] <= 3  # exact SE versus the 0.0001 grid
    assert r.minimum_n == max(r.n_oe, r.n_slope, r.n_c)


def test_validation_sample_size_widths_are_met_exactly():
    r = validation_sample_size(0.2, 0.75, oe_ci_width=0.3, c_ci_width=0.08)
    phi = 0.2
    se = math.sqrt((1 - phi) / (r.n_oe * phi))
    assert 2 * math.sinh(1.96 * se) <= 0.3 < 2 * math.sinh(1.96 * math.sqrt(
        (1 - phi) / ((r.n_oe - 1) * phi)))
    assert r.lp_distribution == "binormal from C"
    # the binormal model implied by C is calibrated: its mean risk is the prevalence
    assert r.criteria().loc["minimum", "n"] == r.minimum_n


def test_validation_sample_size_net_benefit_criterion():
    # Riley et al. 2021 eq. for standardised net benefit, computed by hand.
    r = validation_sample_size(0.1, 0.8, threshold=0.1, sensitivity=0.8, specificity=0.7)
    w = 0.9 / 0.1 * 0.1 / 0.9
    se = 0.2 / (2 * 1.96)
    expected = (0.8 * 0.2 / 0.1 + w * w * 0.7 * 0.3 / 0.9 + w * w * 0.09 / 0.09) / se**2
    assert r.n_net_benefit == math.ceil(expected)
    with pytest.raises(ValueError, match="all three"):
        validation_sample_size(0.1, 0.8, threshold=0.1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prevalence": 0.2, "c_statistic": 0.45, "parameters": 10}, r"c_statistic=0\.45"),
    ({"prevalence": 0.2, "c_statistic": 1.0, "parameters": 10}, r"c_statistic=1\.0"),
    ({"prevalence": 1.2, "c_statistic": 0.7, "parameters": 10}, r"prevalence=1\.2"),
    ({"prevalence": 0.0, "c_statistic": 0.7, "parameters": 10}, r"prevalence=0\.0"),
    ({"prevalence": 1.0, "c_statistic": 0.7, "parameters": 10}, r"prevalence=1\.0"),
    ({"prevalence": float("nan"), "c_statistic": 0.7, "parameters": 10}, "prevalence=nan"),
    ({"prevalence": 0.2, "c_statistic": 0.7, "parameters": 0}, "parameters=0"),
    ({"prevalence": 0.2, "c_statistic": 0.7, "parameters": 2.5}, r"parameters=2\.5"),
    ({"prevalence": 0.2, "c_statistic": 0.7}, "parameters=None"),
    ({"prevalence": 0.2, "parameters": 5}, "none; expected exactly one"),
    ({"prevalence": 0.2, "c_statistic": 0.7, "r2_cox_snell": 0.1, "parameters": 5},
     "c_statistic and r2_cox_snell"),
    ({"prevalence": 0.174, "r2_cox_snell": 0.7, "parameters": 24}, r"maximum 0\.6032"),
    ({"prevalence": 0.174, "r2_nagelkerke": 1.2, "parameters": 24}, r"r2_nagelkerke=1\.2"),
    ({"prevalence": 0.2, "c_statistic": 0.7, "parameters": 5, "margin": 0}, "margin=0"),
    ({"prevalence": 0.2, "c_statistic": 0.7, "parameters": 5, "delta": -0.1}, r"delta=-0\.1"),
])
def test_sample_size_rejects_impossible_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        minimum_sample_size(**kwargs)


@pytest.mark.parametrize(("shrinkage", "match"), [
    (1.0, r"shrinkage=1\.0; expected a number strictly between 0 and 1"),  # was ZeroDivision
    (1.1, r"shrinkage=1\.1; expected a number strictly between 0 and 1"),  # was negative n
    (0.2, r"shrinkage=0\.2; expected more than the anticipated Cox-Snell R2"),  # math domain
    (0.0, r"shrinkage=0\.0"),
])
def test_sample_size_rejects_shrinkage_outside_its_range(shrinkage, match):
    with pytest.raises(ValueError, match=match):
        minimum_sample_size(0.174, parameters=24, r2_cox_snell=0.288, shrinkage=shrinkage)


@pytest.mark.parametrize(("args", "match"), [
    ((0.2, 25, 0.0, 0.6), "intercept=0.0"),
    ((0.2, 25, 1.9, 0.0), "sd=0.0"),
    ((1.0, 25, 1.9, 0.6), "r2=1.0"),
])
def test_continuous_sample_size_rejects_impossible_input(args, match):
    with pytest.raises(ValueError, match=match):
        minimum_sample_size_continuous(*args)


def test_train_callers_keep_their_api():
    r = minimum_sample_size(0.4, 0.7, 40)  # positional, as modeling/_train.py calls it
    d = r.to_dict()
    for key in ("minimum_n", "minimum_events", "parameters", "c_statistic", "n_shrinkage",
                "n_optimism", "n_risk", "prevalence"):
        assert key in d
    assert (r.parameters, r.c_statistic) == (40, 0.7)


runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, ["samplesize", *args])


def test_samplesize_cli_prints_minimum_first_then_the_criteria():
    result = _cli("--prevalence", "0.174", "--r2-cox-snell", "0.288", "--parameters", "24")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "minimum sample size: 662 rows"
    rows = {line.split()[0]: line.split()[1] for line in lines[2:6]}
    assert rows == {"1": "623", "2": "662", "3": "221", "minimum": "662"}


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--c-statistic", "0.89", "660"), ("--r2-nagelkerke", "0.5", "655")])
def test_samplesize_cli_other_inputs(flag, value, expected):
    result = _cli("--prevalence", "0.174", flag, value, "--parameters", "24")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"minimum sample size: {expected} rows"


def test_samplesize_cli_margin_and_delta_change_the_criteria():
    def rows(*extra):
        result = _cli("--prevalence", "0.2", "--c-statistic", "0.75", "--parameters", "5",
                      *extra)
        assert result.exit_code == 0
        return {line.split()[0]: int(line.split()[1])
                for line in result.stdout.splitlines()[2:6]}

    base, tight = rows(), rows("--margin", "0.025", "--delta", "0.02")
    # criterion 3: (1.96 / 0.05)^2 * 0.16 = 245.9 -> 246; with 0.025, 983.4 -> 984
    assert (base["3"], tight["3"]) == (246, 984)
    assert tight["2"] > base["2"] and tight["1"] == base["1"]
    assert tight["minimum"] == max(tight["1"], tight["2"], tight["3"])


@pytest.mark.parametrize("args", [
    ("--shrinkage", "1.0"), ("--shrinkage", "1.1"), ("--shrinkage", "0.2"),
    ("--prevalence", "0"), ("--prevalence", "1"), ("--r2-cox-snell", "0.7"),
])
def test_samplesize_cli_refuses_impossible_input_with_one_line(args):
    base = {"--prevalence": "0.174", "--r2-cox-snell": "0.288", "--parameters": "24"}
    base.update(dict([args]))
    result = _cli(*[x for kv in base.items() for x in kv])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: Got ")
    assert "Traceback" not in result.stderr
