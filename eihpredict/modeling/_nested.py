"""Nested cross-validation and the final refit.

Outer loop: K-fold (stratified by the label for binary and three classes; repeated
when the cohort is small) or leave-site-out. For each outer training set and each
candidate, :func:`fit_candidate` tunes (a fresh Optuna study), calibrates on inner
out-of-fold predictions, chooses the decision threshold on those same inner
predictions, and refits on the whole outer training set; the outer test rows are then
predicted once. All preprocessing lives in the pipeline, so it is fitted inside every
fold. The outer predictions are the honest estimate; the final model repeats
:func:`fit_candidate` on all rows with the chosen candidate.

Calibration by task (the config's ``task``, from the label rule):

- binary: :class:`Calibrator` on out-of-fold log-odds, threshold by the config's rule.
- three classes: :class:`MulticlassCalibrator` on out-of-fold logits (``auto`` and
  ``sigmoid``: vector scaling; ``temperature``; ``none``); the class is the most
  probable one.
- continuous: :class:`ResidualDistribution` of out-of-fold residuals (conformal
  interval, smoothed P(change <= threshold_kpa)); the decision threshold on that
  probability by the config's rule. With ``continuous.adjust_for_pre`` the candidate
  is fitted with the pre-exercise PPT as a covariate (ANCOVA) and again without it
  (same hyperparameters, own out-of-fold calibration), as a
  :class:`CovariateAdjustedModel`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import LeaveOneGroupOut

from ..sessions import ISSUE, participant_groups
from ._calibration import Calibrator
from ._estimators import get_family, make_pipeline
from ._model import CovariateAdjustedModel, EnsembleModel, FittedModel, TrainedModel
from ._outputs import (
    OutputMap,
)
from ._protocol import ColumnBatch, PipelineScorer
from ._tasks import PRE_COVARIATE, get_task
from ._tuning import inner_splits, tune

if TYPE_CHECKING:  # the config imports modeling's registries
    from ..config import CandidateConfig, PipelineConfig

__all__ = ["PRE_COVARIATE", "SELECTED", "FittedCandidate", "OuterResult", "fit_candidate",
           "outer_splits", "run_outer_cv", "split_groups"]

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
    unadjusted: FittedCandidate | None = None


@dataclass
class OuterResult:
    """Out-of-fold predictions of every candidate (one row per repeat).

    ``probabilities[name]``: P(impaired EIH) of shape (repeats, n) (binary, continuous)
    or class probabilities (repeats, n, 3); ``decisions[name]``: ``eih_prediction ==
    "impaired"`` (bool) or the predicted class (int); ``outputs[name]``: every numeric
    output column, (repeats, n) each; ``without_covariate[name]``: the same for the
    test rows scored without the model's optional covariate (a covariate-adjusted
    continuous model's fallback), when there is one.
    """

    candidates: list[str]
    probabilities: dict[str, np.ndarray]
    decisions: dict[str, np.ndarray]
    folds: list[dict[str, Any]] = field(default_factory=list)
    n_repeats: int = 1
    task: str = "binary"
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    without_covariate: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


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
    participants = participant_groups(X)
    if participants is not None and not config.cv.group_by_participant:
        raise ValueError(
            "cv.group_by_participant is false but the cohort has repeated sessions "
            f"({ISSUE}): splitting one participant's sessions across training and test "
            "rows gives optimistic metrics; remove the setting")
    if participants is not None:
        # Repeated sessions: whole participants on one side of every split, repeated
        # with another seed per repeat (as RepeatedStratifiedKFold does for rows).
        repeats = n_repeats(config, len(np.unique(participants)))
        task = get_task(config.task)
        for repeat in range(repeats):
            splitter = task.splitter(config.cv.outer_folds, config.seed + repeat, grouped=True)
            for fold, (train, test) in enumerate(splitter.split(X, y, participants)):
                yield repeat, fold, train, test, ""
        return
    repeats = n_repeats(config, len(y))
    splitter = get_task(config.task).repeated_splitter(config.cv.outer_folds, repeats,
                                                       config.seed)
    for i, (train, test) in enumerate(splitter.split(X, y)):
        yield i // config.cv.outer_folds, i % config.cv.outer_folds, train, test, ""


def fit_candidate(candidate: CandidateConfig, config: PipelineConfig, X: pd.DataFrame,
                  y: np.ndarray, *, seed: int, storage: str | None = None,
                  study_name: str | None = None,
                  params: dict[str, Any] | None = None) -> FittedCandidate:
    """Tune, calibrate, choose the threshold and fit one candidate on ``X, y``.

    An ensemble fits each member this way, then averages their out-of-fold raw scores
    (the members use the same calibration folds) for its own calibration. A continuous
    model adjusted for the pre-exercise PPT (``continuous.adjust_for_pre``) is fitted
    with it, then without it (same hyperparameters), as a
    :class:`CovariateAdjustedModel`; ``X`` must then hold ``eih_ppt_pre_kpa``.
    ``params`` given (a refit, e.g. a bootstrap replicate): not tuned again.
    """
    start = time.perf_counter()
    if not get_task(config.task).covariates(config):
        return _fit(candidate, config, X, y, seed=seed, storage=storage,
                    study_name=study_name, covariates=(), start=start, params=params)
    if PRE_COVARIATE not in X.columns:
        raise ValueError(f"continuous.adjust_for_pre needs {PRE_COVARIATE} in the training "
                         "rows; set continuous.adjust_for_pre: false to model the change "
                         "without it")
    adjusted = _fit(candidate, config, X, y, seed=seed, storage=storage,
                    study_name=study_name, covariates=(PRE_COVARIATE,), start=start,
                    params=params)
    unadjusted = _fit(candidate, config, X, y, seed=seed, storage=None, study_name=None,
                      covariates=(), start=time.perf_counter(), params=adjusted.params)
    inner = adjusted.model
    model = CovariateAdjustedModel(
        adjusted=inner, unadjusted=unadjusted.model, covariate=PRE_COVARIATE,
        candidate=inner.candidate, kind=inner.kind, groups=inner.groups,
        input_columns=list(unadjusted.model.input_columns), threshold=inner.threshold)
    return FittedCandidate(model, adjusted.params, adjusted.inner_best_value,
                           adjusted.n_trials, adjusted.n_pruned, adjusted.calibration_method,
                           time.perf_counter() - start, adjusted.raw_oof, unadjusted)


def _fit(candidate: CandidateConfig, config: PipelineConfig, X: pd.DataFrame, y: np.ndarray,
         *, seed: int, storage: str | None, study_name: str | None,
         covariates: tuple[str, ...], start: float,
         params: dict[str, Any] | None = None) -> FittedCandidate:
    """One candidate (``params`` given: not tuned again)."""
    task = config.task
    groups = config.groups_for(candidate)
    if candidate.members:
        return _fit_ensemble(candidate, config, X, y, seed=seed, storage=storage,
                             study_name=study_name, start=start, covariates=covariates,
                             params=params)

    def make(values: dict[str, Any]):
        return make_pipeline(candidate.kind, groups, {**candidate.params, **values}, seed=seed,
                             feature_options=config.features.options, task=task,
                             covariates=covariates)

    inner_best, n_trials, n_pruned = None, 0, 0
    if params is None:
        params = {}
        if candidate.search_space:
            tuned = tune(make, X, y, candidate.search_space, n_trials=config.tuning.n_trials,
                         timeout=config.tuning.timeout_seconds,
                         inner_folds=config.tuning.inner_folds, metric=config.tuning.metric,
                         seed=seed, pruning=config.tuning.pruning, storage=storage,
                         study_name=study_name, groups=_site_groups(config, X), task=task)
            params, inner_best = tuned.best_params, tuned.inner_best_value
            n_trials, n_pruned = tuned.n_trials, tuned.n_pruned
    pipeline = make(params)
    # Out-of-fold raw scores for the calibration and the threshold.
    raw_oof: np.ndarray | None = None
    for train, val in inner_splits(X, y, config.calibration.folds, seed + 1,
                                   _site_groups(config, X), task):
        fold_model = PipelineScorer(clone(pipeline).fit(X.iloc[train], y[train]))
        raw = fold_model.raw_score(ColumnBatch.from_frame(X.iloc[val],
                                                          fold_model.input_columns))
        if raw_oof is None:
            raw_oof = np.zeros((len(y), *raw.shape[1:]))
        raw_oof[val] = raw
    output_map, calibrator, threshold, method = _calibrate(
        config, raw_oof, y, X=X, groups=groups, seed=seed,
        site_groups=_site_groups(config, X))
    pipeline.fit(X, y)
    input_columns = _with_map_columns(
        [c for c in PipelineScorer(pipeline).input_columns if c in X.columns], output_map,
        X)
    model = TrainedModel(pipeline=pipeline, calibrator=calibrator, threshold=threshold,
                         candidate=candidate.name, kind=candidate.kind, groups=groups,
                         input_columns=input_columns, output_map=output_map)
    return FittedCandidate(model, params, inner_best, n_trials, n_pruned, method,
                           time.perf_counter() - start, raw_oof)


def split_groups(config: PipelineConfig, X: pd.DataFrame) -> np.ndarray | None:
    """Groups of the inner (tuning and calibration) folds: sites when the outer loop
    leaves sites out (a site holds its participants whole), participants when sessions
    repeat, else none."""
    if config.cv.scheme == "leave_site_out" and "site" in X and not X["site"].isna().any():
        return X["site"].astype(str).to_numpy()
    return participant_groups(X)


_site_groups = split_groups


def _calibrate(config: PipelineConfig, raw_oof: np.ndarray, y: np.ndarray, **rows
               ) -> tuple[OutputMap | None, Calibrator | None, float, str]:
    """The output map from out-of-fold raw scores: ``(output_map, calibrator, threshold,
    method)`` (see the module docstring; ``rows``: the training rows and what a map
    that reads them needs, :meth:`Task.calibrate`)."""
    return get_task(config.task).calibrate(config, raw_oof, y, **rows)


def _with_map_columns(columns: list[str], output_map: OutputMap | None,
                      X: pd.DataFrame) -> list[str]:
    """A model's input columns plus those its output map reads (a scale model's, the
    stratifier) that the training rows have."""
    extra = getattr(output_map, "input_columns", ())
    return columns + [c for c in extra if c in X.columns and c not in columns]


def _fit_ensemble(candidate: CandidateConfig, config: PipelineConfig, X: pd.DataFrame,
                  y: np.ndarray, *, seed: int, storage: str | None, study_name: str | None,
                  start: float, covariates: tuple[str, ...],
                  params: dict[str, Any] | None) -> FittedCandidate:
    members = [_fit(config.candidate(name), config, X, y, seed=seed, storage=storage,
                    study_name=f"{study_name}-{name}" if study_name else None,
                    covariates=covariates, start=time.perf_counter(),
                    params=None if params is None else params[name])
               for name in candidate.members or []]
    raw_oof = np.mean([m.raw_oof for m in members], axis=0)
    output_map, calibrator, threshold, method = _calibrate(
        config, raw_oof, y, X=X, groups=config.groups_for(candidate), seed=seed,
        site_groups=_site_groups(config, X))
    input_columns: list[str] = []
    for member in members:
        input_columns += [c for c in member.model.input_columns if c not in input_columns]
    input_columns = _with_map_columns(input_columns, output_map, X)
    model = EnsembleModel(members=[m.model for m in members], calibrator=calibrator,
                          threshold=threshold, candidate=candidate.name,
                          groups=config.groups_for(candidate), input_columns=input_columns,
                          output_map=output_map)
    return FittedCandidate(model, {m.model.candidate: m.params for m in members}, None,
                           sum(m.n_trials for m in members), sum(m.n_pruned for m in members),
                           method, time.perf_counter() - start, raw_oof)


def _outer_task(candidate, config, X, y, repeat, fold, train, test, storage, study_prefix):
    seed = config.seed + 1000 * repeat + fold
    name = f"{study_prefix}-r{repeat}f{fold}-{candidate.name}" if storage else None
    fitted = fit_candidate(candidate, config, X.iloc[train], y[train], seed=seed,
                           storage=storage, study_name=name)
    model = fitted.model
    rows = X.iloc[test]
    outputs = model.predict(model.batch(rows))
    without = None
    if model.optional_columns:  # also scored as rows that lack the optional covariate
        bare = rows.drop(columns=[c for c in model.optional_columns if c in rows.columns])
        without = model.predict(model.batch(bare))
    inner = _inner_score(config, y[train], fitted, participant_groups(X.iloc[train]))
    return candidate.name, repeat, fold, test, outputs, without, fitted, inner


def _inner_score(config: PipelineConfig, y: np.ndarray, fitted: FittedCandidate,
                 groups: np.ndarray | None = None
                 ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """The selection metric on a training set's own out-of-fold predictions (lower is
    better; AUROC is negated), each row's loss (``None`` for AUROC) and the rows'
    participants when sessions repeat (``groups``, for the clustered SE). Binary:
    calibrated probabilities; continuous: the squared (or absolute, for ``mae``) error of
    the predicted change; three classes: the raw logits."""
    task = get_task(config.task)
    return (task.selection_score(config.selection_metric, y, fitted),
            task.row_losses(config.selection_metric, y, task.oof_predictions(fitted)),
            groups)


def candidate_complexity(config: PipelineConfig, name: str) -> float:
    """A candidate's rank for the one-standard-error rule: its family's
    :attr:`~eihpredict.modeling.ModelFamily.complexity`; an ensemble ranks at the mean of
    its members' (averaging a linear model with trees varies less than the trees
    alone)."""
    candidate = config.candidate(name)
    if candidate.members:
        return float(np.mean([candidate_complexity(config, m) for m in candidate.members]))
    return float(get_family(candidate.kind).complexity)


def _mean_se(values: np.ndarray, groups: np.ndarray | None) -> float:
    """Standard error of the mean of ``values``; with ``groups`` (a participant's
    sessions), clustered: the sum over each group varies as one unit."""
    n = len(values)
    if n < 2:
        return 0.0
    if groups is None:
        return float(np.std(values, ddof=1)) / np.sqrt(n)
    _, index = np.unique(np.asarray(groups), return_inverse=True)
    centred = np.bincount(index, weights=values - values.mean())
    g = len(centred)
    return float(np.sqrt(g / max(g - 1, 1) * np.sum(centred**2))) / n if g > 1 else 0.0


def select_candidate(config: PipelineConfig, scores: dict[str, float],
                     losses: dict[str, np.ndarray | None],
                     groups: np.ndarray | None = None) -> str:
    """The candidate ``selection_rule`` chooses from outer-CV (or inner) results.

    ``scores``: the selection metric per candidate, lower is better (ties go to the
    first listed); ``losses``: each row's loss per candidate (its mean is the metric);
    ``groups``: each row's participant when sessions repeat (the standard error is then
    clustered by participant). ``best``: the lowest score. ``one_se`` (Breiman's
    one-standard-error rule): every candidate whose mean loss exceeds the best's by at
    most one standard error of the paired per-row difference is as good as the data can
    tell; the least complex of them wins (:func:`candidate_complexity`; then the lower
    score). A metric without per-row losses (AUROC) falls back to ``best``.
    """
    names = list(scores)
    best = min(names, key=lambda c: scores[c])
    if config.selection_rule == "best" or any(losses.get(c) is None for c in names):
        return best
    best = min(names, key=lambda c: float(np.mean(losses[c])))
    within = []
    for name in names:
        difference = np.asarray(losses[name]) - np.asarray(losses[best])
        if float(np.mean(difference)) <= _mean_se(difference, groups):
            within.append(name)
    return min(within, key=lambda c: (candidate_complexity(config, c),
                                      float(np.mean(losses[c]))))


def _store(target: dict[str, np.ndarray], outputs: dict[str, np.ndarray], repeat: int,
           test: np.ndarray, shape: tuple[int, int]) -> None:
    for column, values in outputs.items():
        if np.asarray(values).dtype.kind in "fiub":
            target.setdefault(column, np.full(shape, np.nan))[repeat, test] = values


def run_outer_cv(config: PipelineConfig, X: pd.DataFrame, y: np.ndarray, *,
                 storage: str | None = None, study_prefix: str = "eihpredict",
                 on_fold=None, scheduler: str | None = None) -> OuterResult:
    """Run the outer loop for every candidate; collect out-of-fold predictions.

    Each (candidate, repeat, fold) is one job: run in this process (``cv.n_jobs: 1``),
    in local processes (``cv.n_jobs``), or as a task on a Dask cluster (``scheduler``,
    else ``cv.scheduler``: ``tcp://host:port``; the data are scattered to the workers
    once). A job's seeds depend only on its repeat and fold, and the results are put
    together in the same order whatever the order jobs finish in, so every way gives
    the same numbers.
    """
    from joblib import Parallel, delayed

    splits = list(outer_splits(config, X, y))
    repeats = max(s[0] for s in splits) + 1
    names = [c.name for c in config.models]
    task = config.task
    k = get_task(task).n_outputs
    result = OuterResult(
        candidates=names,
        probabilities={n: np.full((repeats, len(y), *([k] if k else [])), np.nan)
                       for n in names},
        decisions={n: np.zeros((repeats, len(y)), dtype=int if k else bool) for n in names},
        n_repeats=repeats, task=task,
        outputs={n: {} for n in names},
    )
    tasks = [(cand, r, f, tr, te, label) for (r, f, tr, te, label) in splits
             for cand in config.models]
    total = len(tasks)
    n_jobs = config.cv.n_jobs
    logger.info("nested CV: %d outer fold(s) x %d candidate(s), %d repeat(s), %d trial(s) "
                "per tuned candidate", len(splits), len(names), repeats, config.tuning.n_trials)
    scheduler = scheduler or config.cv.scheduler
    if scheduler:
        iterator = _on_dask(scheduler, tasks, config, X, y, storage, study_prefix)
    elif n_jobs != 1:
        iterator = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_outer_task)(cand, config, X, y, r, f, tr, te, storage, study_prefix)
            for cand, r, f, tr, te, _ in tasks)
    else:
        iterator = (_outer_task(cand, config, X, y, r, f, tr, te, storage, study_prefix)
                    for cand, r, f, tr, te, _ in tasks)
    labels = {(r, f): label for (r, f, _, _, label) in splits}
    shape = (repeats, len(y))
    inner: dict[tuple[int, int], dict[str, tuple]] = {}
    eligible = {c.name for c in config.models if not c.baseline}
    for done, (name, repeat, fold, test, outputs, without, fitted, score) in enumerate(
            iterator, start=1):
        model = fitted.model
        probability = model.outputs_map.probability(outputs)
        decision = (np.argmax(probability, axis=1) if k
                    else outputs["eih_prediction"] == "impaired")
        score, row_losses, inner_groups = score
        if name in eligible:
            inner.setdefault((repeat, fold), {})[name] = (score, test, probability, decision,
                                                         outputs, model.threshold, row_losses,
                                                         inner_groups)
        result.probabilities[name][repeat, test] = probability
        result.decisions[name][repeat, test] = decision
        _store(result.outputs[name], outputs, repeat, test, shape)
        if without is not None:
            _store(result.without_covariate.setdefault(name, {}), without, repeat, test, shape)
        result.folds.append({
            "candidate": name, "repeat": repeat, "fold": fold, "label": labels[(repeat, fold)],
            "n_test": len(test),
            "threshold": None if np.isnan(model.threshold) else model.threshold,
            "params": fitted.params, "inner_best_value": fitted.inner_best_value,
            "n_trials": fitted.n_trials, "n_pruned": fitted.n_pruned,
            "seconds": round(fitted.seconds, 2), "inner_selection_score": score,
        })
        logger.info("outer fold %d/%d done: %s repeat %d fold %d (%d trials, %.1f s)", done,
                    total, name, repeat + 1, fold + 1, fitted.n_trials, fitted.seconds)
        if on_fold is not None:
            on_fold(done, total)
    _select_inside(config, result, inner, labels, len(y), k)
    result.folds.sort(key=lambda d: (d["candidate"], d["repeat"], d["fold"]))
    return result


def _on_dask(scheduler: str, tasks, config, X, y, storage, study_prefix):
    """Yield the outer jobs' results as they finish on the Dask cluster at ``scheduler``."""
    try:
        from distributed import Client, as_completed
    except ImportError as error:  # pragma: no cover (a dependency of the package)
        raise RuntimeError("cv.scheduler needs dask[distributed]") from error
    try:
        client = Client(scheduler, timeout="30s")
    except OSError as error:
        raise ValueError(f"Got scheduler={scheduler!r}; no Dask scheduler answered there "
                         f"({error}). Start one (dask scheduler; dask worker ADDRESS) or "
                         "leave cv.scheduler unset.") from None
    with client:
        logger.info("nested CV on the Dask cluster at %s (%d worker(s))", scheduler,
                    len(client.scheduler_info(n_workers=-1)["workers"]))
        X_remote, y_remote = client.scatter([X, y], broadcast=True)
        futures = [client.submit(_outer_task, cand, config, X_remote, y_remote, r, f, tr,
                                 te, storage, study_prefix, pure=False,
                                 key=f"eihpredict-outer-{study_prefix}-{cand.name}-r{r}f{f}")
                   for cand, r, f, tr, te, _ in tasks]
        for future in as_completed(futures):
            yield future.result()


#: The whole procedure's predictions: in each outer fold, the candidate the outer
#: training set's own out-of-fold predictions choose (selection inside the outer loop).
SELECTED = "selected_by_inner_cv"


def _select_inside(config: PipelineConfig, result: OuterResult, inner, labels, n: int,
                   k: int | None) -> None:
    """Add :data:`SELECTED`: the honest figure of "tune every candidate, then pick one"
    (by the same rule as the final choice, :func:`select_candidate`)."""
    result.probabilities[SELECTED] = np.full((result.n_repeats, n, *([k] if k else [])),
                                             np.nan)
    result.decisions[SELECTED] = np.zeros((result.n_repeats, n), dtype=int if k else bool)
    result.outputs[SELECTED] = {}
    for (repeat, fold), scores in sorted(inner.items()):
        # ties go to the candidate listed first, whatever order the jobs finished in
        listed = [c for c in result.candidates if c in scores]
        name = select_candidate(config, {c: scores[c][0] for c in listed},
                                {c: scores[c][6] for c in listed}, scores[listed[0]][7])
        score, test, probability, decision, outputs, threshold, _, _ = scores[name]
        result.probabilities[SELECTED][repeat, test] = probability
        result.decisions[SELECTED][repeat, test] = decision
        _store(result.outputs[SELECTED], outputs, repeat, test, (result.n_repeats, n))
        result.folds.append({"candidate": SELECTED, "repeat": repeat, "fold": fold,
                             "label": labels[(repeat, fold)], "n_test": len(test),
                             "threshold": None if np.isnan(threshold) else threshold,
                             "params": {"chosen": name}, "inner_best_value": None,
                             "n_trials": 0, "n_pruned": 0, "seconds": 0.0,
                             "inner_selection_score": score})
    result.candidates = [*result.candidates, SELECTED]
