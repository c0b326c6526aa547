"""Service fixtures: the trained tiny model served in-process (TestClient)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from eihpredict.model_dir import load_model_dir
from eihpredict.serve import ServiceSettings, create_app


@pytest.fixture(scope="session")
def loaded(trained):
    return load_model_dir(trained.model_dir)


@pytest.fixture(scope="session")
def records(cohort_csv) -> list[dict]:
    frame = pd.read_csv(cohort_csv).drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
    return json.loads(frame.to_json(orient="records"))


@pytest.fixture
def make_client(loaded):
    clients = []

    def make(**settings) -> TestClient:
        app = create_app(ServiceSettings(model_dir=loaded.path, **settings), model=loaded)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def make_client_session(loaded):
    app = create_app(ServiceSettings(model_dir=loaded.path), model=loaded)
    with TestClient(app) as client:
        yield client
