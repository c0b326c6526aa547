"""Training at registry scale: Dask workers, PostgreSQL studies, cost against rows.

    python -m benchmarks.scale [--runs 3] [--rows 1000 10000 100000] [--part dask|rows]

All in one run:

1. The nested CV (outer folds x candidates, each with its own Optuna study) on a Dask
   ``LocalCluster`` of 1 and of 2 worker processes (one thread each), with the studies
   in a throwaway PostgreSQL server (initdb/pg_ctl on a loopback port; journal files
   when the server binaries are absent, said so): median wall time of ``--runs`` runs,
   the speed-up from 1 to 2 workers, and whether the out-of-fold predictions equal the
   serial run's (they must).
2. Training cost against rows (1k, 10k, 100k by default): the same nested CV serially,
   against a named baseline measured on the same rows in the same run: one LightGBM fit
   with default settings on the raw contract columns (what a bare script would do), on
   one thread like eihpredict's own LightGBM (many threads on a busy machine are slower).

On a shared 2-core machine the speed-up is noisy (other processes compete for the two
cores); the medians say what the runs saw.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import numpy as np

CONFIG = {
    "name": "bench-scale", "seed": 11,
    "models": [
        {"name": "lightgbm", "kind": "lightgbm", "params": {"n_estimators": 100},
         "search_space": {"num_leaves": {"type": "int", "low": 4, "high": 31},
                          "learning_rate": {"type": "float", "low": 0.02, "high": 0.2,
                                            "log": True}}},
        {"name": "elasticnet", "kind": "logistic",
         "search_space": {"C": {"type": "float", "low": 0.01, "high": 2.0, "log": True}}},
    ],
    "tuning": {"n_trials": 4, "inner_folds": 2},
    "cv": {"outer_folds": 4, "repeats": 1, "bootstrap": 50},
    "calibration": {"method": "sigmoid", "folds": 2},
}


def _cohort(n: int, seed: int = 1):
    from eihpredict.labels import make_labels
    from eihpredict.simulate import simulate_cohort
    from eihpredict.validation import validate_frame

    checked = validate_frame(simulate_cohort(n, seed=seed).frame)
    X = checked.frame.loc[checked.valid].reset_index(drop=True)
    return X, make_labels(X).to_numpy()


@contextlib.contextmanager
def throwaway_postgres():
    """A PostgreSQL URL on 127.0.0.1 (a temp cluster, trust auth), or None when absent."""
    def binary(name):
        found = shutil.which(name) or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
                                       or [None])[-1]
        return found

    initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        initdb = None
    if not (initdb and pg_ctl):
        yield None
        return
    root = tempfile.mkdtemp(prefix="eih-pg-bench-")
    prefix = []
    if os.geteuid() == 0:  # the server refuses root
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    subprocess.run([*prefix, initdb, "-D", data, "-U", "eih", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run([*prefix, pg_ctl, "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://eih@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def dask_speedup(n_rows: int, runs: int) -> None:
    from distributed import LocalCluster

    from eihpredict.config import PipelineConfig
    from eihpredict.modeling._nested import run_outer_cv

    config = PipelineConfig.model_validate(CONFIG)
    X, y = _cohort(n_rows)
    serial = run_outer_cv(config, X, y)
    with throwaway_postgres() as url, tempfile.TemporaryDirectory() as tmp:
        storage = url or f"journal:{tmp}/optuna.log"
        seconds: dict[int, list[float]] = {1: [], 2: []}
        same = True
        for run in range(runs):
            for workers in (1, 2):
                with LocalCluster(n_workers=workers, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster:
                    start = time.perf_counter()
                    result = run_outer_cv(config, X, y, storage=storage,
                                          study_prefix=f"run{run}-w{workers}",
                                          scheduler=cluster.scheduler_address)
                    seconds[workers].append(time.perf_counter() - start)
                for name in serial.candidates:
                    same &= np.array_equal(result.probabilities[name],
                                           serial.probabilities[name], equal_nan=True)
    one, two = statistics.median(seconds[1]), statistics.median(seconds[2])
    jobs = config.cv.outer_folds * len(config.models)
    print(f"### Dask: nested CV on {n_rows:,} rows ({jobs} outer jobs, "
          f"{config.tuning.n_trials} trials each), studies in "
          f"{'PostgreSQL ' + _pg_version() if url else 'journal files (no PostgreSQL server)'}")
    print(f"CPU cores on this machine: {os.cpu_count()}; {runs} runs, medians\n")
    print("| Dask workers | median seconds | runs (s) |")
    print("|---|---|---|")
    for workers, values in seconds.items():
        print(f"| {workers} | {statistics.median(values):.1f} | "
              f"{', '.join(f'{v:.1f}' for v in values)} |")
    print(f"\nspeed-up 1 -> 2 workers: {one / two:.2f}x; out-of-fold predictions equal "
          f"to the serial run's: {same}\n")


def _pg_version() -> str:
    binary = shutil.which("pg_ctl") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
                                        or [""])[-1]
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return out.split()[-1] if out else ""


def cost_against_rows(sizes: list[int]) -> None:
    import lightgbm as lgb

    from eihpredict.config import PipelineConfig
    from eihpredict.modeling._nested import run_outer_cv
    from eihpredict.schema import OUTCOME_COLUMNS

    config = PipelineConfig.model_validate(CONFIG)
    print(f"### Training cost against rows (serial, {config.cv.outer_folds} outer folds x "
          f"{len(config.models)} candidates, {config.tuning.n_trials} trials each)\n")
    print("| rows | nested CV (s) | baseline: one default LightGBM fit (s) | ratio | "
          "s per 1k rows |")
    print("|---|---|---|---|---|")
    for n in sizes:
        X, y = _cohort(n, seed=2)
        raw = X.drop(columns=[c for c in [*OUTCOME_COLUMNS, "participant_id", "site"]
                              if c in X])
        raw = raw.apply(lambda c: c.astype("category") if c.dtype == object
                        or str(c.dtype) in ("string", "str") else c)
        start = time.perf_counter()
        lgb.LGBMClassifier(verbose=-1, n_jobs=1).fit(raw, y)  # one thread, as eihpredict's
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        run_outer_cv(config, X, y)
        nested = time.perf_counter() - start
        print(f"| {n:,} | {nested:.1f} | {baseline:.2f} | {nested / baseline:.0f}x | "
              f"{1000 * nested / n:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dask-rows", type=int, default=1000)
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--part", choices=["all", "dask", "rows"], default="all",
                        help="dask: only the 1 vs 2 workers part; rows: only the cost "
                             "against rows")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if args.part in ("all", "dask"):
        dask_speedup(args.dask_rows, args.runs)
    if args.part in ("all", "rows"):
        cost_against_rows(args.rows)


if __name__ == "__main__":
    main()
