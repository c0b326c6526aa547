"""Optuna tuning: fresh studies per call, and one study shared by two worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from eihpredict.config import ParamSpec
from eihpredict.modeling import make_pipeline
from eihpredict.modeling._tuning import tune
from eihpredict.validation import validate_frame

WORKER = textwrap.dedent("""
    import json, sys
    from eihpredict.config import ParamSpec
    from eihpredict.modeling import make_pipeline
    from eihpredict.modeling._tuning import tune
    from eihpredict.simulate import simulate_cohort
    from eihpredict.validation import validate_frame
    from eihpredict.labels import make_labels
    X = validate_frame(simulate_cohort(200, seed=1).frame).frame
    y = make_labels(X).to_numpy()
    space = {"C": ParamSpec(type="float", low=0.001, high=10.0, log=True)}
    result = tune(lambda p: make_pipeline("logistic", ["cpm", "ts"], p, seed=0), X, y, space,
                  n_trials=12, timeout=None, inner_folds=2, metric="log_loss",
                  seed=int(sys.argv[2]), storage=sys.argv[1], study_name="shared")
    print(json.dumps({"best": result.best_params, "n_trials": result.n_trials}))
""")


def test_two_workers_share_one_study_and_agree(tmp_path):
    storage = f"journal:{tmp_path / 'optuna.log'}"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, storage, str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert outputs[0]["best"] == outputs[1]["best"]
    assert outputs[0]["n_trials"] == outputs[1]["n_trials"] >= 12
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    study = optuna.load_study(study_name="shared", storage=JournalStorage(
        JournalFileBackend(str(tmp_path / "optuna.log"))))
    assert len(study.trials) < 12 + 2  # the workers split the budget, not doubled it


def test_tuning_is_deterministic_for_a_seed(small_cohort):
    X = validate_frame(small_cohort.frame).frame
    y = (small_cohort.frame["eih_ppt_post_kpa"] <= small_cohort.frame["eih_ppt_pre_kpa"]).to_numpy()
    space = {"C": ParamSpec(type="float", low=0.001, high=10.0, log=True),
             "l1_ratio": ParamSpec(type="float", low=0.0, high=1.0)}

    def run():
        return tune(lambda p: make_pipeline("logistic", ["cpm", "pcs"], p, seed=0), X,
                    y.astype(int), space, n_trials=6, timeout=None, inner_folds=2,
                    metric="log_loss", seed=5)

    a, b = run(), run()
    assert a.best_params == b.best_params and np.isfinite(a.inner_best_value)
