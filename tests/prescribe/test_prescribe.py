"""eihpredict prescribe: one library function, the CLI and POST /prescribe, same bits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.model_dir import load_model_dir
from eihpredict.prescribe import (
    PRESCRIPTION_COLUMNS,
    PrescriptionError,
    prescribe,
    prescribe_records,
)
from eihpredict.simulate import simulate_crossover
from eihpredict.training import train

from .conftest import small_config

runner = CliRunner()


def _baseline(cohort, n: int = 12) -> pd.DataFrame:
    """One row per participant, without exercise or outcome columns (new patients)."""
    frame = cohort.frame.drop_duplicates("participant_id").head(n)
    return frame.drop(columns=[c for c in frame.columns if c.startswith(("exercise_", "eih_"))
                               or c == "session_id"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def patients():
    return _baseline(simulate_crossover(40, seed=77, sessions=2), 12)


def test_prescription_table(crossover_model, patients):
    result = prescribe(crossover_model, patients)
    table = result.table
    assert list(table.columns) == list(PRESCRIPTION_COLUMNS)
    assert len(table) == 12 * 4
    assert table["participant_id"].unique().tolist() == patients["participant_id"].tolist()
    for _, rows in table.groupby("participant_id"):
        assert sorted(rows["rank"]) == [1, 2, 3, 4]
        best = rows[rows["rank"] == 1].iloc[0]
        assert np.isclose(best["p_impaired_eih"], rows["p_impaired_eih"].min())
        assert np.allclose(rows["difference_to_best"],
                           rows["p_impaired_eih"] - best["p_impaired_eih"])
        assert (rows["difference_to_best"] >= 0).all()
    assert ((table["p_low"] <= table["p_impaired_eih"] + 1e-9)
            & (table["p_impaired_eih"] <= table["p_high"] + 1e-9)).mean() > 0.95
    assert (table["p_high"] > table["p_low"]).all()
    assert result.heterogeneity is not None and result.heterogeneity["df"] == 9
    assert result.causal.startswith("yes: randomised crossover")
    assert result.heading()[0].startswith("heterogeneity test")
    assert set(result.strata["stratum"]) <= {
        f"{c}, {t}" for c in ("efficient CPM", "less efficient CPM", "unknown CPM")
        for t in ("high TS", "low TS", "unknown TS")}


def test_model_card_and_metadata_state_the_design(crossover_model):
    meta = crossover_model.metadata["prescription"]
    assert meta["design"]["design"] == "crossover" and meta["allocation"] == "randomised"
    assert len(meta["options"]) == 4
    card = (crossover_model.path / "model_card.md").read_text()
    assert "Per-patient exercise prescription" in card and "Heterogeneity test" in card
    assert crossover_model.metadata["training_data"]["design"]["sessions_per_participant"] \
        == {"3": 150}


def test_options_outside_training_support_are_refused_by_name(crossover_model, patients):
    with pytest.raises(PrescriptionError, match="'aerobic 90% 20min' is outside the "
                                                "training support: exercise_intensity_pct"):
        prescribe(crossover_model, patients, [{"modality": "aerobic", "intensity_pct": 90,
                                               "duration_min": 20}])
    with pytest.raises(PrescriptionError, match="modality 'walking'"):
        prescribe(crossover_model, patients, [{"modality": "walking", "intensity_pct": 50,
                                               "duration_min": 20}])
    inside = prescribe(crossover_model, patients, [
        {"modality": "aerobic", "intensity_pct": 60, "duration_min": 20},
        {"modality": "isometric", "intensity_pct": 30, "duration_min": 3}])
    assert set(inside.table["option"]) == {"aerobic 60% 20min", "isometric 30% 3min"}


def test_invalid_input_is_refused_naming_row_and_column(crossover_model, patients):
    from eihpredict.validation import CohortValidationError

    bad = patients.astype(object).copy()
    bad.loc[3, "pcs_01"] = 9
    with pytest.raises(CohortValidationError, match="row 4 .*pcs_01"):
        prescribe(crossover_model, bad)
    issues = prescribe_records(crossover_model, json.loads(bad.to_json(orient="records")))
    assert [(i["row"], i["column"]) for i in issues] == [(4, "pcs_01")]


def test_cli_service_and_function_give_the_same_bits(crossover_model, patients, tmp_path):
    from eihpredict.serve import ServiceSettings, create_app

    expected = prescribe(crossover_model, patients).table
    source = tmp_path / "patients.csv"
    patients.to_csv(source, index=False)
    out = tmp_path / "prescriptions.csv"
    result = runner.invoke(app, ["prescribe", "--model", str(crossover_model.path),
                                 "--input", str(source), "--output", str(out),
                                 "--report", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("heterogeneity test")
    from_cli = pd.read_csv(out, dtype={"participant_id": str})
    pd.testing.assert_frame_equal(from_cli, expected, check_exact=True,
                                  check_dtype=False)
    about = json.loads((tmp_path / "prescriptions.csv.about.json").read_text())
    assert about["causal"].startswith("yes")
    assert (tmp_path / "report" / "strata.png").stat().st_size > 1000
    records = json.loads(patients.to_json(orient="records"))
    app_ = create_app(ServiceSettings(model_dir=crossover_model.path), model=crossover_model)
    with TestClient(app_) as client:
        response = client.post("/prescribe", json={"participants": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body)[:3] == ["model_version", "heterogeneity", "allocation"]
    from_http = pd.DataFrame(body["prescriptions"])[list(PRESCRIPTION_COLUMNS)]
    pd.testing.assert_frame_equal(from_http, expected, check_exact=True, check_dtype=False)


def test_a_study_file_is_mapped_as_score_maps_it(crossover_model, patients, tmp_path):
    """``prescribe --mapping`` reads a file in the study's own names and codes; the
    prescription is the contract file's, bit for bit."""
    expected = prescribe(crossover_model, patients).table
    study = patients.rename(columns={"participant_id": "record_id", "sex": "gender"})
    study["gender"] = study["gender"].map({"female": 1, "male": 2})
    source, out = tmp_path / "study.csv", tmp_path / "mapped.csv"
    study.to_csv(source, index=False)
    mapping = tmp_path / "study.yaml"
    mapping.write_text("format: 1\nstudy: crossover\ncolumns:\n"
                       "  participant_id: record_id\n"
                       "  sex: {from: gender, codes: {1: female, 2: male}}\n")
    result = runner.invoke(app, ["prescribe", "--model", str(crossover_model.path),
                                 "--input", str(source), "--output", str(out),
                                 "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(out, dtype={"participant_id": str}),
                                  expected, check_exact=True, check_dtype=False)
    # without the mapping the study's names are refused, naming the missing column
    result = runner.invoke(app, ["prescribe", "--model", str(crossover_model.path),
                                 "--input", str(source), "--output", str(out)])
    assert result.exit_code != 0 and "participant_id" in result.output


def test_service_refuses_bad_records_with_422(crossover_model, patients):
    from eihpredict.serve import ServiceSettings, create_app

    records = json.loads(patients.head(2).to_json(orient="records"))
    records[1]["age_years"] = 500
    app_ = create_app(ServiceSettings(model_dir=crossover_model.path), model=crossover_model)
    with TestClient(app_) as client:
        response = client.post("/prescribe", json={"participants": records})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "age_years"


def test_observational_allocation_is_refused_then_warned(tmp_path, crossover_csv, patients):
    config = small_config(design={"allocation": "observational"},
                          prescription={"bootstrap": 10}, name="observational")
    train(config, crossover_csv, out=tmp_path / "model", track=False)
    loaded = load_model_dir(tmp_path / "model")
    with pytest.raises(PrescriptionError, match="observationally allocated"):
        prescribe(loaded, patients)
    result = prescribe(loaded, patients, allow_observational=True)
    assert result.causal.startswith("no: observational")
    assert any("associations" in w for w in result.warnings)
    assert "observational" in (tmp_path / "model" / "model_card.md").read_text()


def test_model_without_prescription_is_refused(trained, patients):
    loaded = load_model_dir(trained.model_dir)
    with pytest.raises(PrescriptionError, match="has no prescription"):
        prescribe(loaded, patients)
