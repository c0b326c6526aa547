"""Real study designs (contract v2): sites, trials, post time points, a quiet-rest
session, heat and rating outcomes, site-specific norms, study constants."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from pydantic import ValidationError
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.config import ConfigError, PipelineConfig, load_config
from eihpredict.features import PainSensitivityFeatures
from eihpredict.labels import (
    LabelRule,
    hypoalgesic_change,
    make_labels,
    outcome_inputs,
    regression_to_the_mean,
)
from eihpredict.mapping import StudyMapping
from eihpredict.simulate import simulate_cohort
from eihpredict.training import train

V1 = pd.DataFrame({
    "participant_id": ["a", "b", "c"],
    "eih_ppt_pre_kpa": [400.0, 400.0, 400.0],
    "eih_ppt_post_kpa": [450.0, 400.0, 380.0],
})


def _ppt(session, site, time, k):
    return f"{session}_ppt_{site}_{time}_t{k}_kpa"


# -- v1 files mean what they meant ------------------------------------------------------
def test_v1_file_labels_and_rule_text_are_unchanged():
    assert make_labels(V1).tolist() == [0, 1, 1]
    assert LabelRule().describe() == ("impaired EIH = 1 when eih_ppt_post_kpa <= "
                                      "eih_ppt_pre_kpa (no rise in PPT)")
    cohort = simulate_cohort(500, seed=4)  # the default design is the v1 file
    f = cohort.frame
    assert "eih_ppt_local_pre_t1_kpa" not in f
    expected = (f["eih_ppt_post_kpa"] <= f["eih_ppt_pre_kpa"]).astype(int).tolist()
    assert make_labels(f).tolist() == expected


def test_v1_columns_are_the_local_site_first_post_point_and_only_fill_rows_without_trials():
    frame = V1.assign(**{_ppt("eih", "local", "pre", 1): [300.0, np.nan, np.nan],
                         _ppt("eih", "local", "post", 1): [290.0, np.nan, np.nan]})
    # Row a: the trials (300 -> 290, no rise); rows b, c: the v1 values.
    assert make_labels(frame).tolist() == [1, 1, 1]
    assert hypoalgesic_change(frame)[0].tolist() == [-10.0, 0.0, -20.0]
    # The v1 columns are not the remote site nor the +15 min time point.
    with pytest.raises(ValueError, match="eih_ppt_remote_pre_t1_kpa"):
        make_labels(V1, LabelRule(site="remote"))
    with pytest.raises(ValueError, match="eih_ppt_local_post15_t1_kpa"):
        make_labels(V1, LabelRule(time="post15"))


# -- trials, rest control, other measures -----------------------------------------------
TRIALS = pd.DataFrame({
    "participant_id": ["a", "b"],
    _ppt("eih", "local", "pre", 1): [400.0, 400.0],
    _ppt("eih", "local", "pre", 2): [420.0, 380.0],
    _ppt("eih", "local", "pre", 3): [500.0, np.nan],  # b: two trials only
    _ppt("eih", "local", "post", 1): [430.0, 390.0],
    _ppt("eih", "local", "post", 2): [450.0, 410.0],
    _ppt("eih", "local", "post", 3): [440.0, np.nan],
})


def test_trials_are_averaged_by_the_configured_rule():
    mean = hypoalgesic_change(TRIALS, LabelRule())[0]
    assert_allclose(mean, [440.0 - 440.0, 400.0 - 390.0])  # NaN trials left out
    assert_allclose(hypoalgesic_change(TRIALS, LabelRule(trials="median"))[0],
                    [440.0 - 420.0, 400.0 - 390.0])
    assert_allclose(hypoalgesic_change(TRIALS, LabelRule(trials="first"))[0], [30.0, -10.0])
    assert make_labels(TRIALS).tolist() == [1, 0]
    assert make_labels(TRIALS, LabelRule(trials="first")).tolist() == [0, 1]
    assert "mean of the available trials" in LabelRule(site="remote").describe()


def test_rest_control_subtracts_the_rest_change():
    frame = TRIALS.assign(**{
        _ppt("rest", "local", "pre", 1): [400.0, 400.0],
        _ppt("rest", "local", "post", 1): [380.0, 425.0],
        _ppt("rest", "local", "post", 2): [380.0, 415.0],
    })
    rule = LabelRule(control="rest")
    exercise = hypoalgesic_change(frame, LabelRule())[0]  # [0, +10]
    rest = np.array([380.0 - 400.0, 420.0 - 400.0])  # [-20, +20]
    assert_allclose(hypoalgesic_change(frame, rule)[0], exercise - rest)
    assert make_labels(frame, rule).tolist() == [0, 1]  # +20 rises; -10 does not
    assert make_labels(frame, LabelRule(rule="continuous", control="rest")).tolist() == [
        20.0, -10.0]
    blank = frame.assign(**{_ppt("rest", "local", "pre", 1): [400.0, np.nan]})
    with pytest.raises(ValueError, match=r"1 row\(s\) have no EIH outcome.*row 2 \('b'\)"):
        make_labels(blank, rule)


def test_heat_threshold_rises_and_suprathreshold_rating_falls_with_hypoalgesia():
    frame = pd.DataFrame({"participant_id": ["a", "b"],
                          "eih_hpt_pre_c": [44.0, 44.0], "eih_hpt_post_c": [45.0, 43.5],
                          "eih_spr_pre_nrs": [60.0, 60.0], "eih_spr_post_nrs": [50.0, 65.0]})
    heat = LabelRule(measure="heat")
    assert_allclose(hypoalgesic_change(frame, heat)[0], [1.0, -0.5])
    assert make_labels(frame, heat).tolist() == [0, 1]
    spr = LabelRule(measure="suprathreshold")
    assert_allclose(hypoalgesic_change(frame, spr)[0], [10.0, -5.0])  # pre - post
    assert make_labels(frame, spr).tolist() == [0, 1]  # a fall is hypoalgesia
    assert make_labels(frame, spr.model_copy(update={"rule": "absolute",
                                                     "threshold_kpa": 12})).tolist() == [1, 1]
    assert "a fall in rating is hypoalgesia" in spr.describe()
    assert "rating points" in spr.model_copy(update={"rule": "absolute"}).describe()


def test_outcome_keys_are_strict_and_consistent():
    with pytest.raises(ValidationError, match="control"):
        LabelRule(control="placebo")
    with pytest.raises(ValidationError, match="site 'remote' is for measure ppt"):
        LabelRule(measure="heat", site="remote")
    base = {"name": "x", "models": [{"name": "lr", "kind": "logistic"}]}
    with pytest.raises(ValidationError, match="adjust_for_pre"):
        PipelineConfig.model_validate({**base, "label": {"rule": "continuous",
                                                         "measure": "heat"}})
    ok = PipelineConfig.model_validate({**base, "label": {"rule": "continuous",
                                                          "measure": "heat"},
                                        "continuous": {"adjust_for_pre": False}})
    assert ok.task == "continuous"


def test_regression_to_the_mean_is_detected_on_a_pre_trial():
    frame = TRIALS.assign(ppt_local_kpa=TRIALS[_ppt("eih", "local", "pre", 1)])
    assert regression_to_the_mean(frame)["fires"]
    assert not regression_to_the_mean(frame.assign(ppt_local_kpa=[333.0, 444.0]))["fires"]
    assert not regression_to_the_mean(frame, LabelRule(measure="heat"))["fires"]


# -- site-specific local norms ----------------------------------------------------------
def test_local_zscore_uses_the_norms_of_the_exercising_muscle():
    X = pd.DataFrame({"ppt_local_kpa": [440.0, 440.0, 440.0, 440.0],
                      "sex": ["female"] * 4,
                      "exercise_muscle": ["quadriceps", "forearm", "other", None]})
    out = PainSensitivityFeatures().fit(X).transform(X)[:, 1]
    v1 = PainSensitivityFeatures().fit(X[["ppt_local_kpa", "sex"]]).transform(
        X[["ppt_local_kpa", "sex"]])[:, 1]
    assert_allclose(out[0], v1[0])  # quadriceps = the v1 norm
    assert out[1] > out[0] + 0.5  # 440 kPa is high for a forearm (norm 310)
    assert np.isnan(out[2]) and np.isnan(out[3])  # no norm: missing, not invented
    own = PainSensitivityFeatures(local_norms={"forearm": {"male": 500.0, "female": 440.0}})
    assert_allclose(own.fit(X).transform(X)[1, 1], v1[0])
    with pytest.raises(ValueError, match="local_norms"):
        PainSensitivityFeatures(local_norms={"elbow": {"male": 1.0, "female": 1.0}}).fit(X)


# -- validate --for names the design columns --------------------------------------------
def test_validate_for_names_the_missing_design_columns(tmp_path):
    config = tmp_path / "rest.yaml"
    config.write_text("name: rest\nfeatures: {groups: [pcs, sex]}\n"
                      "label: {control: rest, site: remote}\n"
                      "models: [{name: lr, kind: logistic}]\n")
    frame = simulate_cohort(60, seed=2, design="full").frame
    rest_remote = [c for c in frame if c.startswith("rest_ppt_remote_")]
    frame.drop(columns=rest_remote).to_csv(tmp_path / "c.csv", index=False)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "c.csv"), "--for",
                                      str(config)])
    assert result.exit_code == 1
    assert "minus the same change in the quiet-rest session" in result.stderr
    assert ("the file lacks any of (rest_ppt_remote_pre_t1_kpa, rest_ppt_remote_pre_t2_kpa, "
            "rest_ppt_remote_pre_t3_kpa), any of (rest_ppt_remote_post_t1_kpa") in result.stderr
    frame.to_csv(tmp_path / "ok.csv", index=False)
    ready = CliRunner().invoke(app, ["validate", str(tmp_path / "ok.csv"), "--for",
                                     str(config)])
    assert ready.exit_code == 0, ready.stderr


# -- the simulated designs --------------------------------------------------------------
@pytest.fixture(scope="module")
def design():
    return simulate_cohort(6000, seed=11, scenario="default", design="full")


def test_rest_controlled_isometric_effect_is_smaller_than_uncontrolled(design):
    f = design.frame
    iso = f[(f["exercise_modality"] == "isometric") & (f["population"] == "healthy")]
    aer = f[(f["exercise_modality"] == "aerobic") & (f["population"] == "healthy")]

    def d(frame, rule):
        change = hypoalgesic_change(frame, rule)[0]
        return change.mean() / change.std()

    assert d(iso, LabelRule(control="rest")) < 0.5 * d(iso, LabelRule())
    assert d(aer, LabelRule(control="rest")) > d(iso, LabelRule(control="rest"))
    # The rest session drifts up a little (habituation); the remote effect is smaller.
    exercise = hypoalgesic_change(aer, LabelRule())[0]
    rest_only = (aer[[_ppt("rest", "local", "post", k) for k in (1, 2, 3)]].mean(axis=1)
                 - aer[[_ppt("rest", "local", "pre", k) for k in (1, 2, 3)]].mean(axis=1))
    assert 0 < rest_only.mean() < exercise.mean()
    assert 0 < hypoalgesic_change(aer, LabelRule(site="remote"))[0].mean() < exercise.mean()
    later = hypoalgesic_change(aer, LabelRule(time="post15", control="rest"))[0].mean()
    assert 0 < later < hypoalgesic_change(aer, LabelRule(control="rest"))[0].mean()


def test_averaging_trials_reduces_the_measurement_error(design):
    f = design.frame
    spread = {rule: np.nanvar(hypoalgesic_change(f, LabelRule(trials=rule, control="rest"))[0])
              for rule in ("first", "mean")}
    # Error variance 4 x 20^2 with one trial, about 4 x 20^2 / 2.8 with the mean.
    assert spread["first"] - spread["mean"] > 0.5 * 4 * 20**2 * (1 - 1 / 2.8)


@pytest.mark.parametrize("rule", [
    LabelRule(control="rest"),
    LabelRule(measure="suprathreshold", time="post15"),
    LabelRule(site="remote", trials="first", rule="absolute", threshold_kpa=10),
])
def test_design_truth_is_each_rows_probability_for_the_configured_outcome(rule):
    cohort = simulate_cohort(20_000, seed=5, scenario="realistic", design="full",
                             outcome=rule)
    y = make_labels(cohort.frame, rule).to_numpy()
    p = cohort.p_impaired
    assert abs(y.mean() - p.mean()) < 0.015
    for lo, hi in ((0.0, 0.35), (0.35, 0.65), (0.65, 1.0)):  # calibrated in bins too
        sel = (p >= lo) & (p < hi)
        if sel.sum() < 200:
            continue
        se = np.sqrt(p[sel].mean() * (1 - p[sel].mean()) / sel.sum())
        assert abs(y[sel].mean() - p[sel].mean()) < 4 * se + 0.005
    assert rule.outcome_definition() in cohort.truth["label_rule"]


def test_design_truth_refuses_what_it_cannot_give_exactly():
    with pytest.raises(ValueError, match="median"):
        simulate_cohort(10, design="full", outcome=LabelRule(trials="median"))
    with pytest.raises(ValueError, match="design='full'"):
        simulate_cohort(10, outcome=LabelRule(control="rest"))
    with pytest.raises(ValueError, match="design='nope'"):
        simulate_cohort(10, design="nope")


def test_simulate_command_writes_the_design_and_the_configured_truth(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: c\nlabel: {control: rest, measure: heat}\n"
                      "models: [{name: lr, kind: logistic}]\n")
    result = CliRunner().invoke(app, ["simulate", "--n", "50", "--out", str(tmp_path / "d.csv"),
                                      "--design", "full", "--for", str(config),
                                      "--truth", str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.stderr
    assert "rest_hpt_post_c" in pd.read_csv(tmp_path / "d.csv").columns
    truth = json.loads((tmp_path / "t.json").read_text())
    assert truth["design"] == "full" and "heat pain threshold" in truth["label_rule"]


# -- training on a design, with study constants -----------------------------------------
@pytest.fixture(scope="module")
def trained_design(tmp_path_factory, quick_config):
    root = tmp_path_factory.mktemp("design")
    frame = simulate_cohort(240, seed=9, scenario="default", design="full").frame
    frame = frame.drop(columns=["exercise_modality", "exercise_intensity_pct",
                                "exercise_duration_min"]).assign(exercise_muscle="quadriceps")
    frame.to_csv(root / "design.csv", index=False)
    config = PipelineConfig.model_validate({
        **quick_config.model_dump(), "name": "quick-rest",
        "label": {"control": "rest", "time": "post"},
        "features": {"groups": ["cpm", "pcs", "ppt", "exercise", "sex", "population"]},
        "models": [m for m in quick_config.model_dump()["models"]
                   if m["name"] in ("elasticnet", "cpm_only")]})
    mapping = StudyMapping.model_validate({"constants": {
        "exercise_modality": "aerobic", "exercise_intensity_pct": 70,
        "exercise_duration_min": 20}})
    result = train(config, root / "design.csv", out=root / "model", track=False,
                   mapping=mapping)
    return root, result


def test_training_on_a_rest_controlled_design_states_the_outcome(trained_design):
    root, result = trained_design
    metadata = json.loads((root / "model" / "metadata.json").read_text())
    assert metadata["label_rule"]["control"] == "rest"
    assert "minus the same change in the quiet-rest session" in metadata[
        "outcome_definition"]
    assert "mean of the available trials" in (root / "model" / "model_card.md").read_text()
    features = metadata["features"]
    assert not [c for c in features if c.startswith(("eih_", "rest_"))]  # outcome only
    assert "exercise_muscle" in metadata["input_columns"]


def test_a_study_constant_keeps_its_group(trained_design):
    """Modality and dose stated once for everyone: the exercise group is still fed."""
    _, result = trained_design
    groups = result.final.model.groups
    assert "exercise" in groups
    assert {"exercise_modality_aerobic", "exercise_dose"} <= set(
        result.final.model.feature_names)


def test_quick_style_config_with_a_design_outcome_loads(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nlabel: {measure: suprathreshold, time: post15, trials: first}\n"
                    "models: [{name: lr, kind: logistic}]\n")
    assert load_config(path).label.time == "post15"
    path.write_text("name: x\nlabel: {measure: pain}\nmodels: [{name: lr, kind: logistic}]\n")
    with pytest.raises(ConfigError, match="label.measure"):
        load_config(path)


def test_outcome_inputs_name_every_design_column_the_rule_needs():
    names = [c for i in outcome_inputs(LabelRule(site="semilocal", time="post15",
                                                 control="rest")) for c in i.columns]
    assert names == [f"{s}_ppt_semilocal_{t}_t{k}_kpa" for s in ("eih", "rest")
                     for t in ("pre", "post15") for k in (1, 2, 3)]
