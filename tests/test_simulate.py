"""The simulator: contract-valid, deterministic, ground truth that means what it says."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.schema import QUESTIONNAIRES
from eihpredict.simulate import POPULATIONS, SCENARIOS, simulate_cohort
from eihpredict.validation import validate_frame


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_simulated_cohort_is_valid_under_the_contract(scenario):
    cohort = simulate_cohort(2000, seed=5, scenario=scenario)
    result = validate_frame(cohort.frame)
    assert result.issues.empty, result.issues.head()
    assert len(cohort.p_impaired) == 2000


def test_simulate_is_deterministic_for_a_seed():
    a, b = simulate_cohort(500, seed=3), simulate_cohort(500, seed=3)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.p_impaired, b.p_impaired)
    assert not simulate_cohort(500, seed=4).frame.equals(a.frame)


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame["eih_ppt_post_kpa"] <= frame["eih_ppt_pre_kpa"]).to_numpy()


def test_truth_probability_is_calibrated_against_drawn_labels():
    cohort = simulate_cohort(60_000, seed=8, scenario="default")
    y = _labels(cohort.frame)
    bins = np.digitize(cohort.p_impaired, np.linspace(0.1, 0.9, 9))
    observed = pd.Series(y).groupby(bins).mean()
    expected = pd.Series(cohort.p_impaired).groupby(bins).mean()
    np.testing.assert_allclose(observed, expected, atol=0.02)


def test_oracle_auc_is_half_under_null_and_high_under_default():
    null = simulate_cohort(20_000, seed=2, scenario="null")
    assert np.ptp(null.p_impaired) == 0.0
    y_null = _labels(null.frame)
    assert abs(y_null.mean() - null.p_impaired[0]) < 0.02
    default = simulate_cohort(20_000, seed=2, scenario="default")
    auc = roc_auc_score(_labels(default.frame), default.p_impaired)
    assert auc > 0.85
    realistic = simulate_cohort(20_000, seed=2, scenario="realistic")
    assert 0.65 <= roc_auc_score(_labels(realistic.frame), realistic.p_impaired) <= 0.78


def test_heteroscedastic_scenario_varies_more_in_chronic_pain_and_its_truth_knows():
    """The change's SD per population is the scenario's factor times the unexplained SD
    (plus two 20 kPa measurement errors), and the truth's P(impaired) uses each row's
    own SD: calibrated within each population."""
    sc = SCENARIOS["heteroscedastic"]
    cohort = simulate_cohort(60_000, seed=11, scenario="heteroscedastic")
    frame = cohort.frame
    change = (frame["eih_ppt_post_kpa"] - frame["eih_ppt_pre_kpa"]).to_numpy()
    y = _labels(frame)
    same = simulate_cohort(60_000, seed=11, scenario="realistic")
    mu_change = (same.frame["eih_ppt_post_kpa"] - same.frame["eih_ppt_pre_kpa"]).to_numpy()
    for j, name in enumerate(POPULATIONS):
        rows = (frame["population"] == name).to_numpy()
        sd = np.sqrt((sc.sd_unexplained * sc.population_sd_factor[j]) ** 2 + 2 * 20**2)
        mean = -sd * ndtri(cohort.p_impaired[rows])  # the truth's P = Phi(-mean / sd)
        assert abs((change[rows] - mean).std() / sd - 1) < 0.04, name
        assert abs(y[rows].mean() - cohort.p_impaired[rows].mean()) < 0.02, name
    # the same participants and draws as ``realistic``: only the unexplained part differs
    predictors = [c for c in frame.columns
                  if not c.startswith("eih_ppt_") and c != "participant_id"]
    assert frame[predictors].equals(same.frame[predictors])
    for name, narrower in (("healthy", True), ("fibromyalgia", False)):
        rows = (frame["population"] == name).to_numpy()
        assert (change[rows].std() < mu_change[rows].std()) == narrower, name
    assert cohort.truth["population_sd_factor"]["fibromyalgia"] == 1.3


def test_tsk_reverse_keyed_items_are_answered_in_reverse():
    frame = simulate_cohort(5000, seed=1).frame
    tsk = frame[list(QUESTIONNAIRES["tsk"].items)].astype("float64")
    corr = tsk.corr()
    for reverse in (4, 8, 12, 16):
        item = f"tsk_{reverse:02d}"
        plain = [c for c in tsk if int(c[-2:]) not in QUESTIONNAIRES["tsk"].reverse]
        assert (corr.loc[item, plain] < 0).all(), item


def test_multisite_sites_differ_and_one_keeps_totals_only():
    frame = simulate_cohort(4000, seed=1, scenario="multisite").frame
    assert frame["site"].nunique() == 4
    mix = pd.crosstab(frame["site"], frame["population"], normalize="index")["healthy"]
    assert mix.max() - mix.min() > 0.4
    totals_only = frame[frame["site"] == "site_c"]
    assert totals_only["pcs_01"].isna().all() and totals_only["pcs_total"].notna().mean() > 0.6
    assert frame.loc[frame["site"] != "site_c", "pcs_total"].isna().all()


def test_items_go_missing_at_a_realistic_rate():
    frame = simulate_cohort(5000, seed=1).frame
    share = frame[list(QUESTIONNAIRES["pcs"].items)].isna().mean().mean()
    assert 0.02 < share < 0.1


def test_simulate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="scenario='nope'"):
        simulate_cohort(10, scenario="nope")
    with pytest.raises(ValueError, match="n=0"):
        simulate_cohort(0)


def test_simulate_cli_writes_cohort_and_truth(tmp_path):
    out, truth = tmp_path / "c.parquet", tmp_path / "t.json"
    result = CliRunner().invoke(app, ["simulate", "--n", "100", "--seed", "2", "--out", str(out),
                                      "--truth", str(truth), "--scenario", "realistic"])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    facts = json.loads(truth.read_text())
    assert facts["participant_id"] == frame["participant_id"].tolist()
    expected = simulate_cohort(100, seed=2, scenario="realistic").p_impaired
    np.testing.assert_allclose(facts["p_impaired"], expected, atol=1e-9)
    assert set(facts["true_groups"]).isdisjoint(facts["null_groups"])

