"""A lab's export trains with one mapping, and the model scores the raw export with no
second script: the mapping is stored with the model and applied by score, the service
and MLflow's pyfunc."""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from eihpredict.config import load_config
from eihpredict.mapping import StudyMapping
from eihpredict.model_dir import load_model_dir
from eihpredict.scoring import score_file, score_frame
from eihpredict.serve import ServiceSettings, create_app
from eihpredict.simulate import simulate_cohort
from eihpredict.training import train
from tests.study_export import MAPPING, redcap_export


@pytest.fixture(scope="module")
def study(tmp_path_factory, quick_config):
    root = tmp_path_factory.mktemp("study")
    export, expected = redcap_export(simulate_cohort(300, seed=21).frame)
    export.to_csv(root / "export.csv", index=False)
    config = quick_config.model_copy(update={"features": quick_config.features.model_copy(
        update={"groups": ["ppt", "pcs", "sex", "population", "age"]})})
    config = config.model_copy(update={"models": [m for m in config.models
                                                  if not m.groups and not m.baseline]})
    result = train(config, root / "export.csv", out=root / "model", track=False,
                   mapping=StudyMapping.from_dict(MAPPING))
    return root, export, expected, result


def test_the_mapping_is_stored_in_the_model_directory_and_card(study):
    root, _, _, _ = study
    loaded = load_model_dir(root / "model")
    assert StudyMapping.from_dict(loaded.metadata["mapping"]).to_dict() == \
        StudyMapping.from_dict(MAPPING).to_dict()
    assert "study mapping" in (root / "model" / "model_card.md").read_text()


def test_score_applies_the_stored_mapping_to_the_raw_export(study, tmp_path):
    root, export, expected, _ = study
    raw = root / "export.csv"
    summary = score_file(root / "model", raw, tmp_path / "scores.csv")
    assert summary.n_rejected == 0 and summary.n_scored == len(export)
    scores = pd.read_csv(tmp_path / "scores.csv")
    model = load_model_dir(root / "model").model
    same = score_frame(model, expected.drop(columns=["eih_ppt_pre_kpa",
                                                     "eih_ppt_post_kpa"])).scored
    assert scores["participant_id"].astype(str).tolist() == same["participant_id"].tolist()
    np.testing.assert_allclose(scores["p_impaired_eih"], same["p_impaired_eih"], atol=1e-9)


def test_service_and_pyfunc_accept_records_in_the_study_names(study):
    root, export, _, _ = study
    loaded = load_model_dir(root / "model")
    rows = export.head(5)
    # Full precision (DataFrame.to_json keeps 10 digits), missing cells as null.
    records = json.loads(json.dumps(rows.astype(object).where(rows.notna(), None)
                                    .to_dict(orient="records"), default=float))
    with TestClient(create_app(ServiceSettings(model_dir=root / "model"),
                               model=loaded)) as client:
        body = client.post("/predict", json={"participants": records})
    assert body.status_code == 200, body.text
    served = [p["p_impaired_eih"] for p in body.json()["predictions"]]
    out = mlflow.pyfunc.load_model(str(root / "model")).predict(rows)
    np.testing.assert_array_equal(out["p_impaired_eih"].to_numpy(), np.array(served))
    bad = dict(records[0], gender=7)  # a code the mapping does not know
    with TestClient(create_app(ServiceSettings(model_dir=root / "model"),
                               model=loaded)) as client:
        refused = client.post("/predict", json={"participants": [bad]})
    assert refused.status_code == 422 and "gender" in refused.text


def test_training_refuses_ppts_in_kg_without_a_mapping(study, quick_config):
    root, _, _, _ = study
    with pytest.raises(ValueError):
        train(load_config.__globals__["PipelineConfig"].model_validate(
            quick_config.model_dump()), root / "export.csv", out=root / "x", track=False)
