"""MLflow tracking: the one place that talks to MLflow's tracking API.

The store is MLflow's own default SQLite database, ``sqlite:///mlflow.db`` in the
working directory, unless ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` names another
(an ``http://`` server, a PostgreSQL URL, ...). One parent run per training, with one
nested run per candidate holding its per-fold figures. See the runs with
``mlflow ui --backend-store-uri sqlite:///mlflow.db``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_TRACKING_URI", "package_versions", "resolve_tracking_uri", "training_run"]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
logger = logging.getLogger(__name__)


def resolve_tracking_uri(explicit: str | None = None, configured: str | None = None) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else the config, else SQLite."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or configured or \
        DEFAULT_TRACKING_URI


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("eihpredict", "numpy", "pandas", "scikit-learn", "lightgbm", "optuna",
                 "mlflow", "shap", "scipy"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class TrainingRun:
    """Handle on the parent run; methods log into it."""

    def __init__(self, run) -> None:
        self.run = run
        self.run_id = run.info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params({k: _short(v) for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
        mlflow.log_metrics(clean, step=step)

    def log_dict(self, data: Any, name: str) -> None:
        import mlflow

        mlflow.log_text(json.dumps(data, indent=2, default=str), name)

    def log_text(self, text: str, name: str) -> None:
        import mlflow

        mlflow.log_text(text, name)

    def log_artifact(self, path: str | os.PathLike[str], folder: str | None = None) -> None:
        import mlflow

        mlflow.log_artifact(str(path), folder)

    def log_candidate(self, name: str, metrics: dict[str, float], folds: list[dict],
                      params: dict[str, Any]) -> None:
        """A nested run for one candidate: its metrics and per-fold figures."""
        import mlflow

        with mlflow.start_run(run_name=name, nested=True):
            mlflow.set_tag("candidate", name)
            mlflow.log_params({k: _short(v) for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
            for i, fold in enumerate(folds):
                values = {"fold_seconds": fold["seconds"]}
                if fold["threshold"] is not None:  # three classes have no threshold
                    values["fold_threshold"] = fold["threshold"]
                if fold["inner_best_value"] is not None:
                    # The inner study's best value is optimistic: logged, never reported.
                    values["inner_best_value_optimistic"] = fold["inner_best_value"]
                mlflow.log_metrics(values, step=i)
            mlflow.log_text(json.dumps(folds, indent=2, default=str), "folds.json")

    def log_model(self, model_dir: Path) -> None:
        """Log the saved model directory as this run's MLflow model (``runs:/ID/model``)."""
        import mlflow

        mlflow.log_artifacts(str(model_dir), "model")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 500 else text[:497] + "..."


@contextlib.contextmanager
def training_run(experiment: str, tracking_uri: str, run_name: str,
                 tags: dict[str, str] | None = None) -> Iterator[TrainingRun]:
    """Start the parent MLflow run of one training (ends it, failed or not)."""
    import mlflow

    for noisy in ("alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None and tracking_uri.startswith("sqlite:///"):
        # Keep a local store's artifacts beside its database, not in the working directory.
        db = Path(tracking_uri.removeprefix("sqlite:///")).resolve()
        with contextlib.suppress(Exception):  # another process may create it first
            mlflow.create_experiment(experiment, artifact_location=(db.parent / "mlruns").as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({"eihpredict.git_commit": git_commit() or "unknown", **(tags or {})})
        yield TrainingRun(run)


def log_to_run(tracking_uri: str, run_id: str, folder: Path, artifact_path: str) -> None:
    """Add a folder of files to an existing run (e.g. the explain report)."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    client.get_run(run_id)  # fails clearly when the run is not in this store
    client.log_artifacts(run_id, str(folder), artifact_path)
