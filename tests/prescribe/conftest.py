"""A small randomised crossover cohort and a model trained on it with a prescription."""

from __future__ import annotations

from pathlib import Path

import pytest

from eihpredict.config import PipelineConfig, load_config
from eihpredict.simulate import simulate_crossover

ROOT = Path(__file__).resolve().parents[2]


def small_config(**changes) -> PipelineConfig:
    data = load_config(ROOT / "pipelines" / "crossover.yaml").model_dump()
    data.update({"cv": {**data["cv"], "outer_folds": 2, "bootstrap": 50},
                 "calibration": {**data["calibration"], "folds": 3},
                 "prescription": {"bootstrap": 30}})
    data["models"] = data["models"][:1]
    data.update(changes)
    return PipelineConfig.model_validate(data)


@pytest.fixture(scope="session")
def crossover_cohort():
    return simulate_crossover(150, seed=31, sessions=3)


@pytest.fixture(scope="session")
def crossover_csv(tmp_path_factory, crossover_cohort) -> Path:
    path = tmp_path_factory.mktemp("crossover") / "crossover.csv"
    crossover_cohort.frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def crossover_model(tmp_path_factory, crossover_csv):
    from eihpredict.model_dir import load_model_dir
    from eihpredict.training import train

    out = tmp_path_factory.mktemp("crossover-model") / "model"
    train(small_config(), crossover_csv, out=out, track=False)
    return load_model_dir(out)
