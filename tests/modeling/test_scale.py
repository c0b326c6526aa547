"""Training at registry scale: outer folds on a real Dask cluster (a LocalCluster of two
worker processes) give the serial run's numbers, and Optuna studies live in a real
PostgreSQL server (a throwaway cluster started here with initdb/pg_ctl on a loopback
port; skipped, with the reason, when the server binaries are absent)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import numpy as np
import pytest

from eihpredict.config import ParamSpec, PipelineConfig
from eihpredict.labels import make_labels
from eihpredict.modeling import make_pipeline
from eihpredict.modeling._nested import SELECTED, run_outer_cv
from eihpredict.modeling._tuning import tune
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame

CONFIG = {
    "name": "scale-test", "seed": 5,
    "features": {"groups": ["cpm", "ts", "pcs", "ppt", "sex", "population"]},
    "models": [
        {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 30},
         "search_space": {"num_leaves": {"type": "int", "low": 2, "high": 8}}},
        {"name": "elasticnet", "kind": "logistic",
         "search_space": {"C": {"type": "float", "low": 0.01, "high": 2.0, "log": True}}},
    ],
    "tuning": {"n_trials": 2, "inner_folds": 2},
    "cv": {"outer_folds": 3, "repeats": 1, "bootstrap": 50},
    "calibration": {"method": "sigmoid", "folds": 2},
}


@pytest.fixture(scope="module")
def cohort():
    checked = validate_frame(simulate_cohort(240, seed=3).frame)
    X = checked.frame.loc[checked.valid].reset_index(drop=True)
    return X, make_labels(X).to_numpy()


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local:
        yield local


def test_outer_folds_on_dask_equal_the_serial_run(cohort, cluster):
    from distributed import Client, get_task_stream

    X, y = cohort
    config = PipelineConfig.model_validate(CONFIG)
    serial = run_outer_cv(config, X, y)
    with Client(cluster.scheduler_address) as client, get_task_stream(client) as stream:
        on_dask = run_outer_cv(config, X, y, scheduler=cluster.scheduler_address)
    workers = {t["worker"] for t in stream.data if "eihpredict-outer" in str(t["key"])}
    assert len(workers) == 2, "both workers ran outer folds"
    assert on_dask.candidates == serial.candidates
    for name in serial.candidates:
        np.testing.assert_array_equal(on_dask.probabilities[name], serial.probabilities[name])
        np.testing.assert_array_equal(on_dask.decisions[name], serial.decisions[name])
    chosen = lambda r: [f["params"] for f in r.folds if f["candidate"] == SELECTED]  # noqa: E731
    assert chosen(on_dask) == chosen(serial)
    assert [f["params"] for f in on_dask.folds] == [f["params"] for f in serial.folds]


def test_the_config_key_dispatches_and_an_unreachable_scheduler_is_named(cohort):
    X, y = cohort
    port = _free_port()
    config = PipelineConfig.model_validate({**CONFIG, "cv": {**CONFIG["cv"],
                                            "scheduler": f"tcp://127.0.0.1:{port}"}})
    with pytest.raises(ValueError, match=f"no Dask scheduler answered.*{port}|{port}"):
        run_outer_cv(config, X.head(60), y[:60])


# -- PostgreSQL -----------------------------------------------------------------------------
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, a temp dir), stopped after."""
    pytest.importorskip("psycopg", reason="the psycopg driver (test extra) is not installed")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: "
                    "apt-get install postgresql (make test does, when it can)")
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="eih-pg-")
    if os.geteuid() == 0:  # the server refuses to run as root: use an unprivileged user
        import pwd

        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None or not shutil.which("runuser"):
            pytest.skip("running as root without a postgres/nobody user and runuser")
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    data, port = os.path.join(root, "data"), _free_port()
    subprocess.run([*prefix, initdb, "-D", data, "-U", "eih", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*prefix, pg_ctl, "-D", data, "-o", options, "-l",
                    os.path.join(root, "log"), "-w", "start"], check=True,
                   capture_output=True)
    try:
        yield f"postgresql+psycopg://eih@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _tune_shared(storage: str, seed: int, n_trials: int, X, y) -> tuple[dict, int]:
    space = {"C": ParamSpec(type="float", low=0.001, high=10.0, log=True)}
    result = tune(lambda p: make_pipeline("logistic", ["cpm", "ts"], p, seed=0), X, y,
                  space, n_trials=n_trials, timeout=120, inner_folds=2, metric="log_loss",
                  seed=seed, storage=storage, study_name="shared-on-dask")
    return result.best_params, result.n_trials


def test_optuna_trials_on_dask_workers_share_one_postgresql_study(cohort, cluster,
                                                                   postgres):
    """Two Dask tasks (one per worker) tune one study held in PostgreSQL: they split the
    trial budget, and the study's best parameters are the best of all their trials.
    (Each task reads the study when it stops, so one may see the other's last trial and
    the other not: their own reads can differ by that trial.)"""
    import optuna
    from distributed import Client

    X, y = cohort
    with Client(cluster.scheduler_address) as client:
        futures = [client.submit(_tune_shared, postgres, seed, 10, X, y, pure=False,
                                 workers=[worker])
                   for seed, worker in zip((1, 2), sorted(client.scheduler_info(
                       n_workers=-1)["workers"]), strict=True)]
        results = client.gather(futures)
    study = optuna.load_study(study_name="shared-on-dask",
                              storage=optuna.storages.RDBStorage(postgres))
    finished = [t for t in study.trials if t.state.is_finished()]
    assert 10 <= len(finished) < 10 + 2  # the budget split, not doubled
    for _best, seen in results:  # each saw at least the budget, at most every trial
        assert 10 <= seen <= len(finished)
    assert study.best_params in (results[0][0], results[1][0])
    completed = [t for t in finished if t.value is not None]
    assert study.best_value == min(t.value for t in completed)


def test_training_with_a_postgresql_study_on_dask_equals_the_serial_run(cohort, cluster,
                                                                         postgres):
    """Outer folds on Dask with their studies in PostgreSQL: the serial run's numbers."""
    X, y = cohort
    config = PipelineConfig.model_validate(CONFIG)
    start = time.perf_counter()
    serial = run_outer_cv(config, X, y)
    on_dask = run_outer_cv(config, X, y, storage=postgres, study_prefix="pgtest",
                           scheduler=cluster.scheduler_address)
    assert time.perf_counter() - start < 600
    for name in serial.candidates:
        np.testing.assert_array_equal(on_dask.probabilities[name], serial.probabilities[name])
