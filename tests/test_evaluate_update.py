"""evaluate and update: a saved model on a cohort it never saw, and updated for it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.labels import make_labels
from eihpredict.model_dir import load_model_dir
from eihpredict.modeling import recalibrate_intercept
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """Another population: the realistic scenario, where impaired EIH is commoner."""
    frame = simulate_cohort(3000, seed=99, scenario="realistic").frame
    root = tmp_path_factory.mktemp("shifted")
    first, second = frame.iloc[:1500], frame.iloc[1500:]
    first.to_csv(root / "update.csv", index=False)
    second.to_csv(root / "holdout.csv", index=False)
    return root


def _citl(model, frame):
    typed = validate_frame(frame).frame
    y = make_labels(typed).to_numpy()
    p = np.clip(model.predict_proba(typed), 1e-12, 1 - 1e-12)
    return recalibrate_intercept(logit(p), y).intercept, y, p


def test_evaluate_writes_metrics_with_intervals_and_a_report(trained, shifted, tmp_path):
    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", "--model", str(trained.model_dir), "--data",
                                 str(shifted / "holdout.csv"), "--out", str(out),
                                 "--n-boot", "50", "--no-tracking"])
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv").set_index("metric")
    for name in ("auroc", "auprc", "brier", "log_loss", "calibration_slope",
                 "calibration_in_the_large", "observed_expected", "sensitivity",
                 "specificity"):
        row = metrics.loc[name]
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"], name
    _, y, p = _citl(load_model_dir(trained.model_dir).model,
                    pd.read_csv(shifted / "holdout.csv"))
    assert metrics.loc["auroc", "estimate"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics.loc["observed_expected", "estimate"] == pytest.approx(y.mean() / p.mean())
    for name in ("report.html", "calibration.png", "decision_curve.png", "subgroups.csv",
                 "calibration_curve.csv", "sample_size.json"):
        assert (out / name).stat().st_size > 0
    assert "External validation" in (out / "report.html").read_text()


def test_update_intercept_recalibrates_the_new_population(trained, shifted, tmp_path):
    out = tmp_path / "updated"
    result = runner.invoke(app, ["update", "--model", str(trained.model_dir), "--data",
                                 str(shifted / "update.csv"), "--method", "intercept",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    parent = load_model_dir(trained.model_dir)
    updated = load_model_dir(out)
    meta = updated.metadata
    assert meta["parent_model_version"] == parent.version
    assert meta["update"]["method"] == "intercept" and meta["update"]["n"] == 1500
    assert "update of" in (out / "model_card.md").read_text()
    holdout = pd.read_csv(shifted / "holdout.csv")
    before, _, _ = _citl(parent.model, holdout)
    after, _, p_new = _citl(updated.model, holdout)
    assert abs(after) < 0.1 <= abs(before) or abs(after) < abs(before) / 2, (before, after)
    # The updated directory scores through MLflow's own loader too (a full model dir).
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model(str(out)).predict(holdout.head(20))
    np.testing.assert_allclose(served["p_impaired_eih"], p_new[:20], rtol=0, atol=0)
    json.dumps(meta)  # metadata stays JSON


def test_update_refuses_an_unknown_method_and_its_own_directory(trained, shifted):
    bad = runner.invoke(app, ["update", "--model", str(trained.model_dir), "--data",
                              str(shifted / "update.csv"), "--method", "magic", "--out", "x"])
    assert bad.exit_code == 2
    same = runner.invoke(app, ["update", "--model", str(trained.model_dir), "--data",
                               str(shifted / "update.csv"), "--method", "intercept",
                               "--out", str(trained.model_dir)])
    assert same.exit_code == 2 and "new directory" in same.output
