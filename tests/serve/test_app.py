"""The FastAPI app in-process: routes, strict input, limits, API key."""

from __future__ import annotations

import pytest

from eihpredict.serve.deps import get_model


def test_predict_returns_one_prediction_per_participant(make_client, records, loaded):
    client = make_client()
    response = client.post("/predict", json={"participants": records[:5]})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == loaded.version
    assert [p["participant_id"] for p in body["predictions"]] == [
        r["participant_id"] for r in records[:5]]
    for p in body["predictions"]:
        assert 0 <= p["p_impaired_eih"] <= 1
        assert p["eih_prediction"] == ("impaired" if p["p_impaired_eih"] >=
                                       loaded.model.threshold else "responder")
        assert "contributions" not in p


def test_explain_adds_k_contributions_that_add_up(make_client, records, loaded):
    import pandas as pd

    from eihpredict.explain import explain_frame
    from eihpredict.validation import validate_frame

    client = make_client()
    body = client.post("/predict?explain=3", json={"participants": records[:4]}).json()
    typed = validate_frame(pd.DataFrame(records[:4])).frame
    full = explain_frame(loaded.model, typed).values
    for i, p in enumerate(body["predictions"]):
        assert len(p["contributions"]) == 3
        for c in p["contributions"]:
            assert c["contribution"] == pytest.approx(full.iloc[i][c["feature"]], abs=1e-12)
        sizes = [abs(c["contribution"]) for c in p["contributions"]]
        assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize(("change", "field", "rule_part"), [
    ({"pcs_01": 7}, "pcs_01", "whole number between 0 and 4"),
    ({"pcs_01": 2.5}, "pcs_01", "got a fraction"),
    ({"pcs_01": True}, "pcs_01", "got true/false"),
    ({"pcs_01": "1_000"}, "pcs_01", "not a number"),
    ({"sex": "robot"}, "sex", "one of female, male"),
    ({"ppt_local_kpa": 0}, "ppt_local_kpa", "number between 0.5 and 2000"),
    ({"participant_id": None}, "participant_id", "required"),
    ({"pcs_total": 50}, "pcs_total", "must"),
])
def test_invalid_participant_gets_422_naming_participant_field_and_rule(
        make_client, records, change, field, rule_part):
    client = make_client()
    bad = {**records[1], **change}
    response = client.post("/predict", json={"participants": [records[0], bad]})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(d["field"] == field and d["participant"] == 1 and rule_part in d["rule"]
               for d in detail), detail
    assert "Traceback" not in response.text and "predictions" not in response.text


def test_duplicate_ids_in_one_request_are_refused(make_client, records):
    response = make_client().post("/predict", json={"participants": [records[0], records[0]]})
    assert response.status_code == 422
    assert "unique" in response.json()["detail"][0]["rule"]


def test_limits_participants_body_size_and_explain(make_client, records):
    client = make_client(max_participants=3, max_body_bytes=16_384, max_explain=5)
    assert client.post("/predict", json={"participants": records[:4]}).status_code == 422
    assert client.post("/predict", json={"participants": []}).status_code == 422
    big = client.post("/predict", json={"participants": records[:3] * 5})
    assert big.status_code == 413
    assert client.post("/predict?explain=6", json={"participants": records[:1]}
                       ).status_code == 422


def test_api_key_guards_every_route_but_health(make_client, records):
    client = make_client(api_key="s3cret")
    assert client.get("/health").status_code == 200
    assert client.get("/model").status_code == 401
    assert client.post("/predict", json={"participants": records[:1]}).status_code == 401
    wrong = client.post("/predict", json={"participants": records[:1]},
                        headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    ok = client.post("/predict", json={"participants": records[:1]},
                     headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200


def test_model_and_health_routes(make_client, loaded):
    client = make_client()
    health = client.get("/health").json()
    assert health == {"status": "ok", "model_loaded": True, "model_version": loaded.version}
    info = client.get("/model").json()
    assert info["features"] == loaded.metadata["features"]
    assert 0 < info["threshold"]["value"] < 1
    assert "auroc" in info["validation_metrics"]["metrics"][info["candidate"]]
    assert client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    assert client.get("/docs").status_code == 200


def test_dependency_override_serves_another_model(make_client, records, trained):
    """Routes get the model through a dependency, so a test can swap it."""
    from eihpredict.model_dir import LoadedModel
    from eihpredict.serve.deps import ServedModel

    client = make_client()
    loaded = client.app.state.model.loaded
    other = LoadedModel(loaded.model, {**loaded.metadata, "model_version": "swapped"},
                        loaded.path)
    swapped = ServedModel(other)
    client.app.dependency_overrides[get_model] = lambda: swapped
    body = client.post("/predict", json={"participants": records[:1]}).json()
    assert body["model_version"] == "swapped"
    client.app.dependency_overrides.clear()


def test_cors_is_off_by_default(make_client):
    response = make_client().options("/predict", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in response.headers
    response = make_client(cors_origins=["https://example.org"]).options("/predict", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST"})
    assert response.headers["access-control-allow-origin"] == "https://example.org"


def test_no_participant_data_in_logs_by_default(make_client, records, caplog):
    client = make_client()
    with caplog.at_level("DEBUG"):
        client.post("/predict", json={"participants": records[:1]})
    assert records[0]["participant_id"] not in caplog.text
