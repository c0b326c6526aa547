"""Training end to end: model directory, MLflow run, honesty checks."""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.cohort_io import write_table
from eihpredict.model_dir import ModelDirectoryError, load_model_dir
from eihpredict.schema import CONTRACT_VERSION
from eihpredict.scoring import score_frame
from eihpredict.simulate import simulate_cohort
from eihpredict.training import train


def test_model_directory_is_complete(trained):
    root = trained.model_dir
    for name in ("MLmodel", "metadata.json", "model_card.md", "checksums.sha256",
                 "artifacts/model.joblib", "plots/roc.png", "plots/calibration.png",
                 "plots/decision_curve.png", "input_example.json"):
        assert (root / name).exists(), name
    meta = json.loads((root / "metadata.json").read_text())
    assert meta["contract_version"] == CONTRACT_VERSION
    assert meta["label_rule"]["rule"] == "no_rise"
    assert 0 < meta["threshold"]["value"] < 1
    assert len(meta["training_data"]["sha256"]) == 64
    chosen = meta["validation"]["metrics"][meta["candidate"]]
    assert chosen["auroc"]["ci_low"] <= chosen["auroc"]["estimate"] <= chosen["auroc"]["ci_high"]
    assert "scikit-learn" in meta["package_versions"]
    assert not any(f.startswith("eih") for f in meta["features"])


def test_pyfunc_load_gives_the_same_probabilities_as_score_frame(trained, cohort_csv):
    rows = pd.read_csv(cohort_csv).head(40)
    pyfunc = mlflow.pyfunc.load_model(str(trained.model_dir))
    served = pyfunc.predict(rows.drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"]))
    ours = score_frame(load_model_dir(trained.model_dir).model, rows).scored
    np.testing.assert_allclose(served["p_impaired_eih"].to_numpy(), ours["p_impaired_eih"],
                               rtol=0, atol=1e-12)
    assert set(ours["eih_prediction"]) <= {"impaired", "responder"}


def test_mlflow_client_reads_the_run_and_nested_candidate_runs(trained):
    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri)
    run = client.get_run(trained.run_id)
    assert run.data.params["config"] == "quick"
    assert "auroc" in run.data.metrics and "auroc_ci_low" in run.data.metrics
    assert run.data.params["data_sha256"] == trained.metadata["training_data"]["sha256"]
    children = client.search_runs([run.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{trained.run_id}'")
    assert {c.data.tags["candidate"] for c in children} == {"lightgbm", "elasticnet",
                                                           "cpm_only", "ensemble",
                                                           "selected_by_inner_cv"}
    artifacts = {a.path for a in client.list_artifacts(trained.run_id)}
    assert {"model", "plots", "config.json", "metrics.csv"} <= artifacts
    loaded = mlflow.pyfunc.load_model(f"runs:/{trained.run_id}/model")
    assert loaded.metadata.signature is not None


def test_altered_model_directory_is_refused(trained, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained.model_dir, copy)
    with open(copy / "artifacts" / "model.joblib", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ModelDirectoryError, match="model.joblib' was altered"):
        load_model_dir(copy)


def test_model_for_another_contract_version_is_refused(trained, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained.model_dir, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["contract_version"] = 99
    (copy / "metadata.json").write_text(json.dumps(meta))
    lines = (copy / "checksums.sha256").read_text().splitlines()
    import hashlib

    digest = hashlib.sha256((copy / "metadata.json").read_bytes()).hexdigest()
    lines = [f"{digest}  metadata.json" if line.endswith("  metadata.json") else line
             for line in lines]
    (copy / "checksums.sha256").write_text("\n".join(lines) + "\n")
    with pytest.raises(ModelDirectoryError, match="contract version 99"):
        load_model_dir(copy)


def test_missing_model_directory_is_named(tmp_path):
    with pytest.raises(ModelDirectoryError, match="no such model directory"):
        load_model_dir(tmp_path / "nope")


def test_same_seed_gives_the_same_metrics(quick_config, cohort_csv, tmp_path):
    a = train(quick_config, cohort_csv, out=tmp_path / "a", track=False)
    b = train(quick_config, cohort_csv, out=tmp_path / "b", track=False)
    pd.testing.assert_frame_equal(a.metrics_table(), b.metrics_table())
    assert a.final.model.threshold == b.final.model.threshold


def test_null_scenario_auroc_interval_contains_one_half(quick_config, tmp_path):
    path = tmp_path / "null.csv"
    write_table(simulate_cohort(400, seed=4, scenario="null").frame, path)
    result = train(quick_config, path, out=tmp_path / "m", track=False)
    for name, table in result.metrics.items():
        low, high = table.loc["auroc", ["ci_low", "ci_high"]]
        assert low <= 0.5 <= high, (name, low, high)


def test_train_cli_refuses_invalid_data_with_the_validate_message(tmp_path, small_cohort):
    frame = small_cohort.frame.head(60).copy()
    frame["pcs_01"] = frame["pcs_01"].astype("float64")
    frame.loc[4, "pcs_01"] = 9
    write_table(frame, tmp_path / "bad.csv")
    result = CliRunner().invoke(app, ["train", "pipelines/quick.yaml", "--data",
                                      str(tmp_path / "bad.csv"), "--no-tracking",
                                      "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "row 5" in result.stderr and "pcs_01" in result.stderr
    assert not (tmp_path / "m").exists()


def test_train_cli_names_a_config_typo(tmp_path, cohort_csv):
    config = tmp_path / "c.yaml"
    config.write_text("models:\n  - {name: m, kind: logistic}\nseeed: 3\n")
    result = CliRunner().invoke(app, ["train", str(config), "--data", cohort_csv])
    assert result.exit_code == 1
    assert "unknown key 'seeed'" in result.stderr


def test_leave_site_out_holds_out_each_site_once(quick_config, tmp_path):
    from eihpredict.config import CVConfig

    path = tmp_path / "multisite.csv"
    write_table(simulate_cohort(400, seed=6, scenario="multisite").frame, path)
    config = quick_config.model_copy(update={"cv": CVConfig(scheme="leave_site_out",
                                                            bootstrap=50)})
    result = train(config, path, out=tmp_path / "m", track=False)
    folds = [f for f in result.outer.folds if f["candidate"] == "elasticnet"]
    assert sorted(f["label"] for f in folds) == [f"site site_{s}" for s in "abcd"]
    assert sum(f["n_test"] for f in folds) == 400
    assert result.metadata["validation"]["scheme"] == "leave_site_out"


def test_leave_site_out_needs_a_site_column(quick_config, tmp_path, small_cohort):
    from eihpredict.config import CVConfig

    path = tmp_path / "nosite.csv"
    write_table(small_cohort.frame.drop(columns=["site"]), path)
    config = quick_config.model_copy(update={"cv": CVConfig(scheme="leave_site_out")})
    with pytest.raises(ValueError, match="no complete 'site' column"):
        train(config, path, out=tmp_path / "m", track=False)


def test_missing_group_columns_name_the_column_and_the_pipeline(quick_config, tmp_path,
                                                                small_cohort):
    path = tmp_path / "nocpm.csv"
    write_table(small_cohort.frame.drop(columns=["cpm_test_after_kpa"]), path)
    with pytest.raises(ValueError, match=r"pipeline 'quick' cannot use .*'cpm' needs columns "
                                         r"\(cpm_test_before_kpa, cpm_test_after_kpa\)"):
        train(quick_config, path, out=tmp_path / "m", track=False)


def test_selection_inside_the_outer_loop_is_reported(trained):
    """The headline figure is the whole procedure's: each outer fold's candidate is chosen
    by that fold's training rows only, then scored on the fold."""
    from eihpredict.modeling import SELECTED

    outer = trained.outer
    assert SELECTED in trained.metrics and SELECTED in outer.candidates
    chosen = [f for f in outer.folds if f["candidate"] == SELECTED]
    n_folds = len({(f["repeat"], f["fold"]) for f in outer.folds if f["candidate"] != SELECTED})
    assert len(chosen) == n_folds
    baselines = {c.name for c in trained.config.models if c.baseline}
    for fold in chosen:
        assert fold["params"]["chosen"] not in baselines
        source = outer.probabilities[fold["params"]["chosen"]][fold["repeat"]]
        rows = ~np.isnan(outer.probabilities[SELECTED][fold["repeat"]])
        assert rows.any()
        same = outer.probabilities[SELECTED][fold["repeat"]] == source
        assert same[rows].any()
    assert trained.metadata["validation"]["reported"] == SELECTED
    assert "Reported performance" in (trained.model_dir / "model_card.md").read_text()


def test_internal_external_cv_pools_sites_with_prediction_intervals(quick_config, tmp_path):
    from eihpredict.config import CVConfig
    from eihpredict.modeling import SELECTED, site_performance

    path = tmp_path / "multisite.csv"
    frame = simulate_cohort(400, seed=6, scenario="multisite").frame
    write_table(frame, path)
    config = quick_config.model_copy(update={"cv": CVConfig(scheme="leave_site_out",
                                                            bootstrap=50)})
    result = train(config, path, out=tmp_path / "m", track=False)
    iecv = result.metadata["validation"]["internal_external"]
    assert len(iecv["sites"]) == 4
    y = result.outer.probabilities[SELECTED][0]
    assert not np.isnan(y).any()  # every row predicted by the site-held-out procedure
    again = site_performance(make_labels_of(frame), y, frame["site"].astype(str))
    assert [round(v, 4) for v in again["c_statistic"]] == [s["c_statistic"]
                                                           for s in iecv["sites"]]
    pooled = {row["measure"]: row for row in iecv["pooled"]}
    c = pooled["c_statistic"]
    assert c["pi_low"] <= c["ci_low"] <= c["estimate"] <= c["ci_high"] <= c["pi_high"]
    assert (tmp_path / "m" / "plots" / "forest_c_statistic.png").stat().st_size > 0


def make_labels_of(frame):
    from eihpredict.labels import make_labels

    return make_labels(frame).to_numpy()
