"""A continuous and a three-class model give the same numbers, bit for bit, through the
command line, the HTTP service and the MLflow pyfunc; the service's responses satisfy
their response model (ranges per task)."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.model_dir import load_model_dir
from eihpredict.modeling import THREE_CLASSES
from eihpredict.serve import ServiceSettings, create_app
from eihpredict.serve.schemas import ModelInfo, PredictionResponse

TASKS = {
    "continuous": ("predicted_change_kpa", "change_pi_low", "change_pi_high",
                   "p_impaired_eih", "eih_prediction"),
    "three_class": ("p_hypoalgesia", "p_no_change", "p_hyperalgesia", "eih_class"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, small_cohort):
    """120 rows as an algometer reports them (0.1 kPa), with and without the pre value."""
    frame = small_cohort.frame.head(120).copy()
    for column in ("eih_ppt_pre_kpa", "eih_ppt_post_kpa"):
        frame[column] = frame[column].round(1)
    root = tmp_path_factory.mktemp("task-inputs")
    with_pre = root / "with_pre.csv"
    frame.to_csv(with_pre, index=False)
    without_pre = root / "without_pre.csv"
    frame.drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"]).to_csv(without_pre, index=False)
    return {"with_pre": with_pre, "without_pre": without_pre}


def _records(path) -> list[dict]:
    frame = pd.read_csv(path).drop(columns=["eih_ppt_post_kpa"], errors="ignore")
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
            for row in frame.to_dict(orient="records")]


def _cli(model_dir, source, out) -> pd.DataFrame:
    result = CliRunner().invoke(app, ["score", "--model", str(model_dir), "--input",
                                      str(source), "--output", str(out), "--explain", "3"])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def _http(model_dir, records) -> tuple[list[dict], dict]:
    loaded = load_model_dir(model_dir)
    client = TestClient(create_app(ServiceSettings(model_dir=loaded.path), model=loaded))
    with client:
        predictions = []
        for start in range(0, len(records), 50):
            response = client.post("/predict?explain=3",
                                   json={"participants": records[start:start + 50]})
            assert response.status_code == 200, response.text
            body = response.json()
            PredictionResponse.model_validate(body)  # every range of the response model
            predictions += body["predictions"]
        info = client.get("/model").json()
    ModelInfo.model_validate(info)
    return predictions, info


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("rows", ["with_pre", "without_pre"])
def test_cli_http_and_pyfunc_give_the_same_bits(task, rows, inputs, tmp_path, request):
    trained = request.getfixturevalue(
        "trained_continuous" if task == "continuous" else "trained_three_class")
    model_dir = trained.model_dir
    columns = TASKS[task]
    cli = _cli(model_dir, inputs[rows], tmp_path / "scored.parquet")
    served, info = _http(model_dir, _records(inputs[rows]))
    pyfunc = mlflow.pyfunc.load_model(str(model_dir)).predict(pd.read_csv(inputs[rows]))
    assert info["task"] == task and tuple(info["output_columns"][:len(columns)]) == columns
    assert list(cli.columns[1:len(columns) + 1]) == list(columns)
    assert cli["participant_id"].tolist() == [p["participant_id"] for p in served]
    assert pyfunc["participant_id"].tolist() == cli["participant_id"].tolist()
    assert pyfunc["reject_reason"].isna().all()
    for name in (*columns, "missing_input_share"):
        http = np.array([p[name] for p in served], dtype=object)
        if name in ("eih_prediction", "eih_class"):
            assert cli[name].tolist() == http.tolist() == pyfunc[name].tolist()
        else:
            np.testing.assert_array_equal(cli[name].to_numpy(), http.astype("float64"))
            np.testing.assert_array_equal(cli[name].to_numpy(), pyfunc[name].to_numpy())
    for i in (1, 2, 3):
        assert cli[f"feature_{i}"].tolist() == [p["contributions"][i - 1]["feature"]
                                                for p in served]
        np.testing.assert_array_equal(
            cli[f"contribution_{i}"].to_numpy(),
            np.array([p["contributions"][i - 1]["contribution"] for p in served]))
    if task == "three_class":
        P = cli[[f"p_{c}" for c in THREE_CLASSES]].to_numpy()
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
        assert (cli["eih_class"] == np.asarray(THREE_CLASSES)[P.argmax(axis=1)]).all()
    else:
        assert (cli["change_pi_low"] < cli["predicted_change_kpa"]).all()
        assert (cli["predicted_change_kpa"] < cli["change_pi_high"]).all()


def test_the_pre_value_is_used_when_given_and_not_needed_otherwise(trained_continuous,
                                                                   inputs):
    model = load_model_dir(trained_continuous.model_dir).model
    assert model.optional_columns == ("eih_ppt_pre_kpa",)
    assert "eih_ppt_pre_kpa" not in model.input_columns
    with_pre = pd.read_csv(inputs["with_pre"])
    scored_with = model.predict(model.batch(with_pre))
    scored_without = model.predict(model.batch(pd.read_csv(inputs["without_pre"])))
    assert not np.array_equal(scored_with["predicted_change_kpa"],
                              scored_without["predicted_change_kpa"])
    # A row is answered by the model its own columns call for, whatever the batch.
    mixed = with_pre.copy()
    mixed.loc[::2, "eih_ppt_pre_kpa"] = np.nan
    scored_mixed = model.predict(model.batch(mixed))
    np.testing.assert_array_equal(scored_mixed["predicted_change_kpa"][1::2],
                                  scored_with["predicted_change_kpa"][1::2])
    np.testing.assert_array_equal(scored_mixed["predicted_change_kpa"][::2],
                                  scored_without["predicted_change_kpa"][::2])
    contributions = model.contributions(model.batch(mixed))
    np.testing.assert_allclose(contributions.base + contributions.values.sum(axis=1),
                               model.raw_score(model.batch(mixed)), atol=1e-9)
    pre = contributions.names.index("eih_ppt_pre_kpa")
    assert np.all(contributions.values[::2, pre] == 0)


def test_three_class_explanations_are_for_the_predicted_class(trained_three_class, inputs):
    model = load_model_dir(trained_three_class.model_dir).model
    batch = model.batch(pd.read_csv(inputs["without_pre"]))
    per_class = model.contributions(batch)
    assert per_class.values.shape[2] == 3
    np.testing.assert_allclose(per_class.base + per_class.values.sum(axis=1),
                               model.raw_score(batch), atol=1e-9)
    predicted = model.predict(batch)["eih_class"]
    index = np.array([THREE_CLASSES.index(c) for c in predicted])
    explained = model.explanation(batch)
    rows = np.arange(batch.n)
    np.testing.assert_array_equal(explained.values, per_class.values[rows, :, index])


def test_model_card_and_metadata_name_the_task(trained_continuous):
    meta = trained_continuous.metadata
    assert meta["task"] == "continuous"
    assert meta["output_columns"][:5] == list(TASKS["continuous"])
    assert meta["calibration"]["level"] == 0.8
    assert meta["covariate"]["column"] == "eih_ppt_pre_kpa"
    assert "validation_without_covariate" in meta["covariate"]
    card = (trained_continuous.model_dir / "model_card.md").read_text()
    assert "post-exercise PPT change" in card and "pi_coverage" in card
    assert "plots/change.png" in card
    assert (trained_continuous.model_dir / "plots" / "change.png").exists()


@pytest.mark.parametrize("fixture", ["trained_continuous", "trained_three_class"])
def test_evaluate_reports_the_task_metrics_on_a_new_cohort(fixture, request, tmp_path):
    from eihpredict.simulate import simulate_cohort

    trained = request.getfixturevalue(fixture)
    data = tmp_path / "new.csv"
    simulate_cohort(400, seed=77).frame.to_csv(data, index=False)
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", "--model", str(trained.model_dir),
                                      "--data", str(data), "--out", str(out), "--n-boot", "50",
                                      "--no-tracking"])
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv").set_index("metric")
    names = (["r2", "rmse", "pi_coverage", "auroc", "calibration_slope"]
             if fixture == "trained_continuous" else
             [f"auroc_{c}" for c in THREE_CLASSES] + ["auroc_macro", "brier", "log_loss"])
    for name in names:
        row = metrics.loc[name]
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"], name
    if fixture == "trained_continuous":
        assert 0.6 <= metrics.loc["pi_coverage", "estimate"] <= 0.95


@pytest.mark.parametrize("fixture", ["trained_continuous", "trained_three_class"])
def test_the_run_is_tracked_with_the_task_metrics(fixture, request):
    from mlflow.tracking import MlflowClient

    trained = request.getfixturevalue(fixture)
    run = MlflowClient(trained.tracking_uri).get_run(trained.run_id)
    key = "rmse" if fixture == "trained_continuous" else "auroc_macro"
    assert run.data.params["task"] == trained.metadata["task"]
    assert run.data.metrics[key] == pytest.approx(
        trained.metrics[trained.chosen].loc[key, "estimate"])
