"""Biomarker discovery against the simulator's ground truth, and the report."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.explain import discover_biomarkers, interaction_strengths
from eihpredict.labels import make_labels
from eihpredict.modeling import fit_candidate
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


def _fit(scenario: str, seed: int, kind: str, config):
    cohort = simulate_cohort(1000, seed=seed, scenario=scenario)
    X = validate_frame(cohort.frame).frame
    y = make_labels(X).to_numpy()
    candidate = next(c for c in config.models if c.kind == kind and not c.baseline)
    return cohort, X, y, fit_candidate(candidate, config, X, y, seed=0).model


@pytest.mark.parametrize("kind", ["lightgbm", "logistic"])
def test_default_scenario_recovers_true_groups_and_few_null_ones(kind, quick_config):
    cohort, X, y, model = _fit("default", 21, kind, quick_config)
    report = discover_biomarkers(model, X, y, resamples=20, seed=1, n_jobs=2)
    declared = set(report.declared_groups)
    true, null = set(cohort.truth["true_groups"]), set(cohort.truth["null_groups"])
    # population is a stratifier: tested and reported, never declared a biomarker
    candidates = true - {"population"}
    assert len(declared & candidates) >= 5, report.groups
    assert len(declared & null) <= 1, report.groups
    population = report.groups.set_index("group").loc["population"]
    assert population["role"] == "stratifier" and not population["is_biomarker"]
    assert population["p_value"] < 0.05  # the diagnosis does predict EIH here


def test_null_scenario_declares_nothing(quick_config):
    _, X, y, model = _fit("null", 22, "lightgbm", quick_config)
    report = discover_biomarkers(model, X, y, resamples=20, seed=1, n_jobs=2)
    assert len(report.declared_groups) <= 1
    groups = report.groups
    assert (groups["selection_frequency"] < 0.8).all()


def test_features_are_biomarkers_only_within_declared_groups(quick_config):
    _, X, y, model = _fit("default", 23, "logistic", quick_config)
    table = discover_biomarkers(model, X, y, resamples=12, seed=2).table
    declared = set(table.loc[(table["level"] == "group") & table["is_biomarker"], "group"])
    features = table[(table["level"] == "feature") & table["is_biomarker"]]
    assert set(features["group"]) <= declared
    assert (features["p_adjusted"] < 0.05).all() and len(features) > 0
    # one row per measured variable: one-hot levels and missing indicators merged
    names = set(table.loc[table["level"] == "feature", "feature"])
    assert "exercise_modality" in names and "cpm_conditioning" in names
    assert not {n for n in names if n.endswith("_missing") or n.startswith("population_")}
    assert ((table["ci_low"] <= table["importance"]) &
            (table["importance"] <= table["ci_high"])).all()


def test_explain_cli_writes_the_contract_report(trained, cohort_csv, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["explain", "--model", str(trained.model_dir), "--data",
                                      cohort_csv, "--out", str(out), "--resamples", "10",
                                      "--n-jobs", "1"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "biomarkers.csv")
    assert list(table.columns[:7]) == ["feature", "group", "importance", "ci_low", "ci_high",
                                       "selection_frequency", "is_biomarker"]
    assert table["selection_frequency"].between(0, 1).all()
    for name in ("report.html", "importance.png", "beeswarm.png", "dependence.png",
                 "adjusted_effects.png", "adjusted_effects.csv",
                 "subgroup_importance.csv", "subgroup_performance.csv"):
        assert (out / name).exists(), name
    html = (out / "report.html").read_text()
    assert "Declared biomarker groups" in html and "data:image/png;base64" in html
    import mlflow

    artifacts = {a.path for a in mlflow.MlflowClient(trained.tracking_uri).list_artifacts(
        trained.run_id, "explain")}
    assert "explain/biomarkers.csv" in artifacts


def test_explain_refuses_data_without_outcome(trained, cohort_csv, tmp_path):
    frame = pd.read_csv(cohort_csv).drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
    frame.to_csv(tmp_path / "nolabel.csv", index=False)
    result = CliRunner().invoke(app, ["explain", "--model", str(trained.model_dir), "--data",
                                      str(tmp_path / "nolabel.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "eih_ppt_pre_kpa" in result.stderr


def test_discover_rejects_too_few_resamples(quick_config):
    _, X, y, model = _fit("default", 24, "logistic", quick_config)
    with pytest.raises(ValueError, match="resamples=5"):
        discover_biomarkers(model, X, y, resamples=5)


def test_interactions_find_the_simulated_sex_by_cpm_term(quick_config):
    from eihpredict.config import CandidateConfig

    cohort = simulate_cohort(1000, seed=25, scenario="default")
    X = validate_frame(cohort.frame).frame
    candidate = CandidateConfig(name="trees", kind="lightgbm",
                                params={"n_estimators": 150, "num_leaves": 8})
    model = fit_candidate(candidate, quick_config, X, make_labels(X).to_numpy(), seed=0).model
    top, matrix = interaction_strengths(model, X, max_rows=300)
    assert (top["strength"].diff().dropna() <= 1e-12).all()  # strongest first
    assert (matrix.to_numpy().diagonal() == 0).all() and (matrix.to_numpy() >= 0).all()
    assert matrix.loc["sex", "cpm"] == matrix.loc["cpm", "sex"] > 0


def test_importance_plot_survives_a_mean_outside_its_percentile_interval(tmp_path):
    """`explain --resamples 100` on a null cohort crashed: 'xerr' must not contain negative
    values (a mean importance above its 97.5 % percentile, skewed draws)."""
    import pandas as pd

    from eihpredict.explain import BiomarkerReport
    from eihpredict.explain._report import plot_importance

    draws = pd.DataFrame({"cpm": [0.0] * 98 + [5.0, 5.0], "shadow__cpm": [0.01] * 100})
    table = pd.DataFrame([{"feature": "cpm", "group": "cpm", "importance": 0.1,
                           "ci_low": 0.0, "ci_high": 0.0, "selection_frequency": 0.02,
                           "is_biomarker": False, "level": "group", "hits": 2,
                           "p_value": 1.0, "direction": ""}])
    report = BiomarkerReport(table, 100, 0.05, draws, draws, "test")
    assert (table["importance"] > table["ci_high"]).all()  # the crashing situation
    path = plot_importance(report, tmp_path / "importance.png")
    assert path.stat().st_size > 0
