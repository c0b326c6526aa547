"""Shared fixtures: small simulated cohorts, session-scoped so the suite stays fast."""

from __future__ import annotations

import pandas as pd
import pytest

from eihpredict.simulate import simulate_cohort


@pytest.fixture(scope="session")
def small_cohort():
    """300 participants of the default scenario (with ground truth)."""
    return simulate_cohort(300, seed=11, scenario="default")


@pytest.fixture(scope="session")
def cohort_csv(tmp_path_factory, small_cohort) -> str:
    path = tmp_path_factory.mktemp("data") / "cohort.csv"
    small_cohort.frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture
def minimal_frame() -> pd.DataFrame:
    """Three valid rows with only the required columns plus a few optional ones."""
    return pd.DataFrame({
        "participant_id": ["p1", "p2", "p3"],
        "sex": ["female", "Male", "FEMALE"],
        "pcs_01": ["0", "4", ""],
        "ppt_local_kpa": ["350.5", "600", ""],
    })


@pytest.fixture(scope="session")
def quick_config():
    from pathlib import Path

    from eihpredict.config import load_config

    return load_config(Path(__file__).resolve().parents[1] / "pipelines" / "quick.yaml")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, cohort_csv, quick_config):
    """The quick pipeline trained on the 300-row cohort, tracked in a fresh SQLite store."""
    from eihpredict.training import train

    root = tmp_path_factory.mktemp("trained")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return train(quick_config, cohort_csv, out=root / "model", tracking_uri=uri)


def _train_task(tmp_path_factory, cohort_csv, quick_config, name: str, label: dict):
    """Trained and tracked in a fresh SQLite store (the tracking path is tested too)."""
    from eihpredict.config import PipelineConfig
    from eihpredict.training import train

    config = PipelineConfig.model_validate({**quick_config.model_dump(), "label": label,
                                            "name": f"quick-{name}"})
    import mlflow

    root = tmp_path_factory.mktemp(f"trained-{name}")
    previous = mlflow.get_tracking_uri()  # other tests resolve runs:/ URIs through it
    try:
        return train(config, cohort_csv, out=root / "model",
                     tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def trained_continuous(tmp_path_factory, cohort_csv, quick_config):
    """The quick pipeline with ``label: {rule: continuous}`` on the 300-row cohort."""
    return _train_task(tmp_path_factory, cohort_csv, quick_config, "continuous",
                       {"rule": "continuous"})


@pytest.fixture(scope="session")
def trained_three_class(tmp_path_factory, cohort_csv, quick_config):
    """The quick pipeline with ``label: {rule: three_class, binary: false}``."""
    return _train_task(tmp_path_factory, cohort_csv, quick_config, "three-class",
                       {"rule": "three_class", "binary": False})
