"""Repeated sessions: every split groups by participant; ignoring it is optimistic and refused."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from eihpredict.config import PipelineConfig
from eihpredict.modeling import (
    bootstrap_metrics,
    fit_candidate,
    make_pipeline,
    outer_splits,
    split_groups,
)
from eihpredict.modeling._tuning import inner_splits
from eihpredict.simulate import simulate_crossover


@pytest.fixture(scope="module")
def crossover():
    cohort = simulate_crossover(90, seed=4, sessions=3)
    X = cohort.frame.drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
    y = (cohort.frame["eih_ppt_post_kpa"] <= cohort.frame["eih_ppt_pre_kpa"]).to_numpy(int)
    return X, y


def _config(quick_config, **cv) -> PipelineConfig:
    data = quick_config.model_dump()
    data["cv"] = {**data["cv"], "repeats": 2, **cv}
    return PipelineConfig.model_validate(data)


def _apart(X, train, test) -> bool:
    ids = X["participant_id"].to_numpy()
    return not set(ids[train]) & set(ids[test])


def test_outer_splits_keep_participants_whole(crossover, quick_config):
    X, y = crossover
    splits = list(outer_splits(_config(quick_config), X, y))
    assert {s[0] for s in splits} == {0, 1}  # two repeats, different partitions
    assert all(_apart(X, train, test) for _, _, train, test, _ in splits)
    tested = np.concatenate([test for r, _, _, test, _ in splits if r == 0])
    assert sorted(tested) == list(range(len(y)))
    first = [frozenset(test) for r, _, _, test, _ in splits if r == 0]
    second = [frozenset(test) for r, _, _, test, _ in splits if r == 1]
    assert set(first) != set(second)


def test_inner_and_calibration_folds_keep_participants_whole(crossover, quick_config):
    X, y = crossover
    config = _config(quick_config)
    groups = split_groups(config, X)
    assert groups is not None and len(np.unique(groups)) == 90
    for n_folds in (config.tuning.inner_folds, config.calibration.folds):
        folds = inner_splits(X, y, n_folds, 0, groups, config.task)
        assert len(folds) == n_folds
        assert all(_apart(X, train, val) for train, val in folds)


def test_fit_candidate_on_sessions_uses_grouped_calibration_folds(crossover, quick_config):
    X, y = crossover
    config = _config(quick_config)
    fitted = fit_candidate(config.candidate("cpm_only"), config, X, y, seed=0)
    assert fitted.raw_oof.shape[0] == len(y)
    # The same folds, recomputed: no participant is on both sides.
    folds = inner_splits(X, y, config.calibration.folds, 1, split_groups(config, X),
                         config.task)
    assert all(_apart(X, train, val) for train, val in folds)


def test_ignoring_participants_is_optimistic():
    """A flexible model recognises a participant's other sessions: row-wise CV reports an
    AUROC far above the one for participants it never saw."""
    cohort = simulate_crossover(120, seed=5, sessions=3, participant_sd_kpa=80.0)
    X = cohort.frame
    y = (X["eih_ppt_post_kpa"] <= X["eih_ppt_pre_kpa"]).to_numpy(int)
    ids = X["participant_id"].to_numpy()
    auroc = {}
    for name, folds in (
            ("rows", StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)),
            ("participants", StratifiedGroupKFold(5, shuffle=True, random_state=0)
             .split(X, y, ids))):
        p = np.zeros(len(y))
        for train, test in folds:
            model = make_pipeline("lightgbm", ["cpm", "ts", "pcs", "exercise", "ppt", "sex"],
                                  {"n_estimators": 200, "num_leaves": 31,
                                   "min_child_samples": 2, "subsample_freq": 0}, seed=0)
            p[test] = model.fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])[:, 1]
        auroc[name] = roc_auc_score(y, p)
    assert auroc["rows"] > auroc["participants"] + 0.1, auroc


def test_ignoring_grouping_is_refused(crossover, quick_config):
    X, y = crossover
    with pytest.raises(ValueError, match="issue 23"):
        list(outer_splits(_config(quick_config, group_by_participant=False), X, y))
    with pytest.raises(ValueError, match="issue 23.*no session_id|no session_id.*issue 23"):
        list(outer_splits(_config(quick_config), X.drop(columns="session_id"), y))


def test_cluster_bootstrap_intervals_are_wider_for_correlated_rows():
    """Whole participants resampled: with a participant's three rows identical, the row
    bootstrap treats them as independent and its interval is too narrow."""
    rng = np.random.default_rng(0)
    p = np.repeat(rng.random(60), 3)
    y = np.repeat((rng.random(60) < 0.5).astype(int), 3)
    ids = np.repeat(np.arange(60), 3)
    rows = bootstrap_metrics(y, p, 0.5, n_boot=200, seed=1)
    grouped = bootstrap_metrics(y, p, 0.5, n_boot=200, seed=1, clusters=ids)
    width = lambda t: t.loc["auroc", "ci_high"] - t.loc["auroc", "ci_low"]  # noqa: E731
    assert width(grouped) > 1.4 * width(rows)
    assert grouped.loc["auroc", "estimate"] == rows.loc["auroc", "estimate"]
