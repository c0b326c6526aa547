"""Hyperparameter tuning with Optuna inside one training set.

Every call creates (or joins, with shared storage) its own study, so no study is ever
continued across outer folds: a study continued across folds leaks the held-out rows
of earlier folds into the search (the ``OptunaSearchCV`` inside ``cross_validate``
pattern). The study's best value is an optimistic inner-CV figure; it is logged as
``inner_best_*`` and never reported as performance.

Shared storage lets several processes or machines work on one study: a JournalStorage
file on one machine (Optuna advises against SQLite for parallel workers), an RDB URL
(PostgreSQL, MySQL) across machines. Each worker stops when the study holds
``n_trials`` finished trials, waits for the running ones, and reads the same best
parameters, so all workers end with one consistent result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from ._protocol import ColumnBatch, PipelineScorer
from ._tasks import get_task

if TYPE_CHECKING:  # the config imports modeling's registries
    from ..config import ParamSpec

__all__ = ["TuningResult", "cv_splitter", "open_storage", "tune", "tuning_score"]

logger = logging.getLogger(__name__)

_DIRECTION = {"log_loss": "minimize", "brier": "minimize", "roc_auc": "maximize",
              "mse": "minimize", "rmse": "minimize", "mae": "minimize"}


@dataclass
class TuningResult:
    best_params: dict[str, Any]
    inner_best_value: float
    n_trials: int
    n_pruned: int


def open_storage(url: str | None):
    """Optuna storage from a URL: ``journal:PATH`` or a ``*.log``/``*.journal`` path gives
    a JournalStorage file; ``sqlite://``, ``postgresql://`` (``postgresql+psycopg://``
    with the psycopg driver), ``mysql://`` an RDB storage (its tables created by the
    first worker; others that start at the same moment wait for them).
    """
    if url is None:
        return None
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if url.startswith("journal:"):
        path = url.removeprefix("journal:").removeprefix("//")
        return JournalStorage(JournalFileBackend(path))
    if url.endswith((".log", ".journal")) and "://" not in url:
        return JournalStorage(JournalFileBackend(url))
    if "://" in url:
        return _rdb_storage(url)
    raise ValueError(
        f"Got storage={url!r}; expected journal:PATH, a .log file, or a database URL "
        "(postgresql://..., mysql://..., sqlite:///...)."
    )


def _rdb_storage(url: str, attempts: int = 5):
    """An Optuna RDB storage; workers that open a fresh database at the same moment race
    to create its tables (one fails on a duplicate key): the loser tries again once the
    winner's tables exist."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _suggest(trial, space: dict[str, ParamSpec]) -> dict[str, Any]:
    params = {}
    for name, spec in space.items():
        if spec.type == "float":
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
        elif spec.type == "int":
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
        else:
            params[name] = trial.suggest_categorical(name, spec.choices)
    return params


def tuning_score(metric: str, y: np.ndarray, z: np.ndarray, task: str = "binary") -> float:
    """Only the tuning metric of raw scores ``z`` (this runs for every inner fold of every
    trial).

    Binary: ``z`` are log-odds. Three classes: ``z`` are logits (n, K); ``log_loss`` is
    the multinomial log loss, ``brier`` sums the squared errors over classes, ``roc_auc``
    is the mean one-vs-rest AUROC. Continuous: ``z`` is the predicted change; ``mse``,
    ``rmse``, ``mae`` as named, and ``log_loss`` and ``brier`` give the mean squared
    error: with one residual variance for every row (the Gaussian log score, the CRPS)
    both rank models as the mean squared error does.

    Examples
    --------
    >>> tuning_score("log_loss", np.array([1.0, -1.0]), np.array([0.0, 1.0]), "continuous")
    2.5
    """
    return get_task(task).tuning_score(metric, y, z)


def cv_splitter(task: str, n_folds: int, seed: int):
    """K-fold splits: stratified by the label for binary and three classes, plain
    shuffled K-fold for a continuous outcome."""
    return get_task(task).splitter(n_folds, seed)


def tune(make: Callable[[dict[str, Any]], Any], X, y: np.ndarray,
         space: dict[str, ParamSpec], *, n_trials: int, timeout: float | None,
         inner_folds: int, metric: str, seed: int, pruning: bool = True,
         storage: str | None = None, study_name: str | None = None,
         groups: np.ndarray | None = None, task: str = "binary") -> TuningResult:
    """Tune the pipeline ``make(params)`` on ``X, y`` by inner K-fold CV (stratified for
    binary and three classes; grouped by site when ``groups`` are given).

    The objective is the mean inner-fold ``metric`` (:func:`tuning_score`) of the raw
    (uncalibrated) model; each fold's running mean is reported so the median pruner can
    stop poor trials.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
              if pruning else optuna.pruners.NopPruner())
    study = optuna.create_study(
        direction=_DIRECTION[metric], sampler=sampler, pruner=pruner,
        storage=open_storage(storage), study_name=study_name,
        load_if_exists=storage is not None,
    )
    folds = inner_splits(X, y, inner_folds, seed, groups, task)
    template = make({})

    def objective(trial) -> float:
        params = _suggest(trial, space)
        scores = []
        for step, (train, val) in enumerate(folds):
            model = clone(template).set_params(**{f"model__{k}": v for k, v in params.items()})
            model.fit(X.iloc[train], y[train])
            scores.append(tuning_score(metric, y[val], _raw(model, X.iloc[val]), task))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    callbacks = [optuna.study.MaxTrialsCallback(n_trials, states=finished)]
    done = len([t for t in study.get_trials(deepcopy=False) if t.state in finished])
    if done < n_trials:
        study.optimize(objective, n_trials=n_trials - done, timeout=timeout,
                       callbacks=callbacks, gc_after_trial=False)
    if storage is not None:  # other workers may still be running trials of this study
        deadline = time.monotonic() + (timeout or 3600)
        while time.monotonic() < deadline and any(
                t.state == optuna.trial.TrialState.RUNNING
                for t in study.get_trials(deepcopy=False)):
            time.sleep(0.2)
    trials = study.get_trials(deepcopy=False)
    return TuningResult(
        best_params=dict(study.best_params),
        inner_best_value=float(study.best_value),
        n_trials=len([t for t in trials if t.state in finished]),
        n_pruned=len([t for t in trials if t.state == optuna.trial.TrialState.PRUNED]),
    )


def _raw(pipeline, X) -> np.ndarray:
    """Raw scores of a fitted fold pipeline (the fitted-model protocol)."""
    scorer = PipelineScorer(pipeline)
    return scorer.raw_score(ColumnBatch.from_frame(X, scorer.input_columns))


def inner_splits(X, y: np.ndarray, n_folds: int, seed: int, groups=None,
                 task: str = "binary") -> list:
    """Inner folds: stratified (plain K-fold for a continuous outcome), and grouped by site
    when ``groups`` are given and there are enough of them (a site never sits on both
    sides, as in leave-site-out)."""
    if groups is not None and len(np.unique(groups)) >= n_folds:
        return list(get_task(task).splitter(n_folds, seed, grouped=True).split(X, y, groups))
    return list(cv_splitter(task, n_folds, seed).split(X, y))
