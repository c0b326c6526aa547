"""Nested cross-validation and the final refit.

Outer loop: stratified K-fold (repeated when the cohort is small) or leave-site-out.
For each outer training set and each candidate, :func:`fit_candidate` tunes (a fresh
Optuna study), calibrates on inner out-of-fold predictions, chooses the decision
threshold on those same inner predictions, and refits on the whole outer training set;
the outer test rows are then predicted once. All preprocessing lives in the pipeline,
so it is fitted inside every fold. The outer predictions are the honest estimate; the
final model repeats :func:`fit_candidate` on all rows with the chosen candidate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold

from ..config import CandidateConfig, PipelineConfig
from ._calibration import Calibrator, resolve_method
from ._estimators import make_pipeline
from ._metrics import choose_threshold
from ._model import EnsembleModel, FittedModel, TrainedModel
from ._protocol import ColumnBatch, PipelineScorer
from ._tuning import inner_splits, tune

__all__ = ["SELECTED", "FittedCandidate", "OuterResult", "fit_candidate", "outer_splits",
           "run_outer_cv"]

logger = logging.getLogger("eihpredict.train")


@dataclass
class FittedCandidate:
    model: FittedModel
    params: dict[str, Any]
    inner_best_value: float | None
    n_trials: int
    n_pruned: int
    calibration_method: str
    seconds: float
    raw_oof: np.ndarray | None = None


@dataclass
class OuterResult:
    """Out-of-fold predictions of every candidate (one row per repeat)."""

    candidates: list[str]
    probabilities: dict[str, np.ndarray]
    decisions: dict[str, np.ndarray]
    folds: list[dict[str, Any]] = field(default_factory=list)
    n_repeats: int = 1


def n_repeats(config: PipelineConfig, n_rows: int) -> int:
    """Outer CV repeats: the config's number, or by cohort size when ``auto``."""
    if config.cv.scheme == "leave_site_out":
        return 1
    if config.cv.repeats != "auto":
        return int(config.cv.repeats)
    return 3 if n_rows < 300 else 2 if n_rows < 1000 else 1


def outer_splits(config: PipelineConfig, X: pd.DataFrame, y: np.ndarray):
    """Yield ``(repeat, fold, train_idx, test_idx, label)`` for the outer loop."""
    if config.cv.scheme == "leave_site_out":
        if "site" not in X or X["site"].isna().any():
            raise ValueError(
                "cv.scheme is leave_site_out but the data has no complete 'site' column; "
                "add site for every row or use stratified_kfold."
            )
        sites = X["site"].astype(str).to_numpy()
        if len(np.unique(sites)) < 2:
            raise ValueError("leave_site_out needs at least two sites; the data has one.")
        for fold, (train, test) in enumerate(LeaveOneGroupOut().split(X, y, sites)):
            yield 0, fold, train, test, f"site {sites[test][0]}"
        return
    repeats = n_repeats(config, len(y))
    splitter = RepeatedStratifiedKFold(n_splits=config.cv.outer_folds, n_repeats=repeats,
                                       random_state=config.seed)
    for i, (train, test) in enumerate(splitter.split(X, y)):
        yield i // config.cv.outer_folds, i % config.cv.outer_folds, train, test, ""


def fit_candidate(candidate: CandidateConfig, config: PipelineConfig, X: pd.DataFrame,
                  y: np.ndarray, *, seed: int, storage: str | None = None,
                  study_name: str | None = None) -> FittedCandidate:
    """Tune, calibrate, choose the threshold and fit one candidate on ``X, y``.

    An ensemble fits each member this way, then averages their out-of-fold raw
    log-odds (the members use the same calibration folds) for its own calibrator.
    """
    start = time.perf_counter()
    groups = config.groups_for(candidate)
    if candidate.members:
        return _fit_ensemble(candidate, config, X, y, seed=seed, storage=storage,
                             study_name=study_name, start=start)

    def make(params: dict[str, Any]):
        return make_pipeline(candidate.kind, groups, {**candidate.params, **params}, seed=seed,
                             feature_options=config.features.options)

    params: dict[str, Any] = {}
    inner_best, n_trials, n_pruned = None, 0, 0
    if candidate.search_space:
        tuned = tune(make, X, y, candidate.search_space, n_trials=config.tuning.n_trials,
                     timeout=config.tuning.timeout_seconds,
                     inner_folds=config.tuning.inner_folds, metric=config.tuning.metric,
                     seed=seed, pruning=config.tuning.pruning, storage=storage,
                     study_name=study_name, groups=_site_groups(config, X))
        params, inner_best = tuned.best_params, tuned.inner_best_value
        n_trials, n_pruned = tuned.n_trials, tuned.n_pruned
    pipeline = make(params)
    method = resolve_method(config.calibration.method, len(y))
    # Out-of-fold raw log-odds for the calibrator and the threshold.
    raw_oof = np.zeros(len(y))
    for train, val in inner_splits(X, y, config.calibration.folds, seed + 1,
                                   _site_groups(config, X)):
        fold_model = PipelineScorer(clone(pipeline).fit(X.iloc[train], y[train]))
        raw_oof[val] = fold_model.raw_score(ColumnBatch.from_frame(X.iloc[val],
                                                                   fold_model.input_columns))
    calibrator, threshold = _calibrate(config, method, raw_oof, y)
    pipeline.fit(X, y)
    input_columns = [c for c in PipelineScorer(pipeline).input_columns if c in X.columns]
    model = TrainedModel(pipeline=pipeline, calibrator=calibrator, threshold=threshold,
                         candidate=candidate.name, kind=candidate.kind, groups=groups,
                         input_columns=input_columns)
    return FittedCandidate(model, params, inner_best, n_trials, n_pruned, method,
                           time.perf_counter() - start, raw_oof)


def _site_groups(config: PipelineConfig, X: pd.DataFrame) -> np.ndarray | None:
    """Sites for grouped inner folds, when the outer loop leaves sites out."""
    if config.cv.scheme == "leave_site_out" and "site" in X and not X["site"].isna().any():
        return X["site"].astype(str).to_numpy()
    return None


def _calibrate(config: PipelineConfig, method: str, raw_oof: np.ndarray, y: np.ndarray):
    """Calibrator on out-of-fold log-odds, and the threshold on its probabilities."""
    calibrator = Calibrator(method).fit(raw_oof, y)
    threshold = choose_threshold(y, calibrator.predict(raw_oof), config.threshold.rule,
                                 value=config.threshold.value,
                                 min_sensitivity=config.threshold.min_sensitivity)
    return calibrator, threshold


def _fit_ensemble(candidate: CandidateConfig, config: PipelineConfig, X: pd.DataFrame,
                  y: np.ndarray, *, seed: int, storage: str | None, study_name: str | None,
                  start: float) -> FittedCandidate:
    members = [fit_candidate(config.candidate(name), config, X, y, seed=seed, storage=storage,
                             study_name=f"{study_name}-{name}" if study_name else None)
               for name in candidate.members or []]
    raw_oof = np.mean([m.raw_oof for m in members], axis=0)
    method = resolve_method(config.calibration.method, len(y))
    calibrator, threshold = _calibrate(config, method, raw_oof, y)
    input_columns: list[str] = []
    for member in members:
        input_columns += [c for c in member.model.input_columns if c not in input_columns]
    model = EnsembleModel(members=[m.model for m in members], calibrator=calibrator,
                          threshold=threshold, candidate=candidate.name,
                          groups=config.groups_for(candidate), input_columns=input_columns)
    return FittedCandidate(model, {m.model.candidate: m.params for m in members}, None,
                           sum(m.n_trials for m in members), sum(m.n_pruned for m in members),
                           method, time.perf_counter() - start, raw_oof)


def _outer_task(candidate, config, X, y, repeat, fold, train, test, storage, study_prefix):
    seed = config.seed + 1000 * repeat + fold
    name = f"{study_prefix}-r{repeat}f{fold}-{candidate.name}" if storage else None
    fitted = fit_candidate(candidate, config, X.iloc[train], y[train], seed=seed,
                           storage=storage, study_name=name)
    p = fitted.model.predict_proba(X.iloc[test])
    inner = _inner_score(config.selection_metric, y[train],
                         fitted.model.calibrator.predict(fitted.raw_oof))
    return candidate.name, repeat, fold, test, p, fitted, inner


def _inner_score(metric: str, y: np.ndarray, p: np.ndarray) -> float:
    """The selection metric on a training set's own out-of-fold calibrated predictions
    (lower is better; AUROC is negated)."""
    from ._metrics import point_metrics

    value = point_metrics(y, p, 0.5)[{"log_loss": "log_loss", "brier": "brier",
                                 "roc_auc": "auroc"}[metric]]
    return -value if metric == "roc_auc" else value


def run_outer_cv(config: PipelineConfig, X: pd.DataFrame, y: np.ndarray, *,
                 storage: str | None = None, study_prefix: str = "eihpredict",
                 on_fold=None) -> OuterResult:
    """Run the outer loop for every candidate; collect out-of-fold predictions."""
    from joblib import Parallel, delayed

    splits = list(outer_splits(config, X, y))
    repeats = max(s[0] for s in splits) + 1
    names = [c.name for c in config.models]
    result = OuterResult(
        candidates=names,
        probabilities={n: np.full((repeats, len(y)), np.nan) for n in names},
        decisions={n: np.zeros((repeats, len(y)), dtype=bool) for n in names},
        n_repeats=repeats,
    )
    tasks = [(cand, r, f, tr, te, label) for (r, f, tr, te, label) in splits
             for cand in config.models]
    total = len(tasks)
    n_jobs = config.cv.n_jobs
    logger.info("nested CV: %d outer fold(s) x %d candidate(s), %d repeat(s), %d trial(s) "
                "per tuned candidate", len(splits), len(names), repeats, config.tuning.n_trials)
    runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered") if n_jobs != 1 else None
    jobs = (delayed(_outer_task)(cand, config, X, y, r, f, tr, te, storage, study_prefix)
            for cand, r, f, tr, te, _ in tasks)
    iterator = runner(jobs) if runner is not None else (
        _outer_task(cand, config, X, y, r, f, tr, te, storage, study_prefix)
        for cand, r, f, tr, te, _ in tasks)
    labels = {(r, f): label for (r, f, _, _, label) in splits}
    inner: dict[tuple[int, int], dict[str, tuple[float, np.ndarray, np.ndarray, float]]] = {}
    eligible = {c.name for c in config.models if not c.baseline}
    for done, (name, repeat, fold, test, p, fitted, score) in enumerate(iterator, start=1):
        if name in eligible:
            inner.setdefault((repeat, fold), {})[name] = (score, test, p,
                                                         fitted.model.threshold)
        result.probabilities[name][repeat, test] = p
        result.decisions[name][repeat, test] = p >= fitted.model.threshold
        result.folds.append({
            "candidate": name, "repeat": repeat, "fold": fold, "label": labels[(repeat, fold)],
            "n_test": len(test), "threshold": fitted.model.threshold, "params": fitted.params,
            "inner_best_value": fitted.inner_best_value, "n_trials": fitted.n_trials,
            "n_pruned": fitted.n_pruned, "seconds": round(fitted.seconds, 2),
            "inner_selection_score": score,
        })
        logger.info("outer fold %d/%d done: %s repeat %d fold %d (%d trials, %.1f s)", done,
                    total, name, repeat + 1, fold + 1, fitted.n_trials, fitted.seconds)
        if on_fold is not None:
            on_fold(done, total)
    _select_inside(result, inner, labels, len(y))
    result.folds.sort(key=lambda d: (d["candidate"], d["repeat"], d["fold"]))
    return result


#: The whole procedure's predictions: in each outer fold, the candidate the outer
#: training set's own out-of-fold predictions choose (selection inside the outer loop).
SELECTED = "selected_by_inner_cv"


def _select_inside(result: OuterResult, inner, labels, n: int) -> None:
    """Add :data:`SELECTED`: the honest figure of "tune every candidate, then pick one"."""
    result.probabilities[SELECTED] = np.full((result.n_repeats, n), np.nan)
    result.decisions[SELECTED] = np.zeros((result.n_repeats, n), dtype=bool)
    for (repeat, fold), scores in sorted(inner.items()):
        name = min(scores, key=lambda k: scores[k][0])
        _, test, p, threshold = scores[name]
        result.probabilities[SELECTED][repeat, test] = p
        result.decisions[SELECTED][repeat, test] = p >= threshold
        result.folds.append({"candidate": SELECTED, "repeat": repeat, "fold": fold,
                             "label": labels[(repeat, fold)], "n_test": len(test),
                             "threshold": threshold, "params": {"chosen": name},
                             "inner_best_value": None, "n_trials": 0, "n_pruned": 0,
                             "seconds": 0.0, "inner_selection_score": scores[name][0]})
    result.candidates = [*result.candidates, SELECTED]
