"""Choosing the final candidate: the one-standard-error rule against the best value."""

from __future__ import annotations

import numpy as np
import pytest

from eihpredict.config import load_config
from eihpredict.modeling import candidate_complexity, select_candidate


@pytest.fixture(scope="module")
def config():
    return load_config("pipelines/default.yaml")


def _losses(rng, n, means):
    """Per-row losses with exactly these mean excesses over a common part (rows share
    most of their loss across candidates) and a per-row difference of SD 0.05."""
    common = rng.normal(0.6, 0.3, n)
    out = {}
    for name, mean in means.items():
        noise = rng.normal(0, 1, n)
        out[name] = common + mean + 0.05 * (noise - noise.mean()) / noise.std(ddof=1)
    return out


def test_complexity_ranks_linear_below_their_ensemble_below_trees(config):
    assert [candidate_complexity(config, n) for n in ("elasticnet", "ensemble", "lightgbm")] \
        == [0, 0.5, 1]


def test_a_simpler_candidate_within_one_standard_error_wins(config):
    rng = np.random.default_rng(0)
    n = 1000
    # one SE of a paired difference here: about 0.05 * sqrt(2) / sqrt(1000) = 0.0022
    losses = _losses(rng, n, {"lightgbm": 0.0, "elasticnet": 0.001, "ensemble": -0.0005})
    scores = {k: float(v.mean()) for k, v in losses.items()}
    difference = losses["elasticnet"] - losses["ensemble"]
    # the premise: elastic net is worse on average, by less than one standard error
    assert 0 < difference.mean() < difference.std(ddof=1) / np.sqrt(n)
    assert select_candidate(config, scores, losses) == "elasticnet"
    best = config.model_copy(update={"selection_rule": "best"})
    assert select_candidate(best, scores, losses) == "ensemble"


def test_a_clearly_better_complex_candidate_is_chosen(config):
    rng = np.random.default_rng(1)
    losses = _losses(rng, 1000, {"lightgbm": 0.0, "elasticnet": 0.05, "ensemble": 0.001})
    scores = {k: float(v.mean()) for k, v in losses.items()}
    # the ensemble is within one SE of lightgbm, elastic net is not: the ensemble wins
    assert select_candidate(config, scores, losses) == "ensemble"
    losses = _losses(rng, 1000, {"lightgbm": 0.0, "elasticnet": 0.05, "ensemble": 0.02})
    scores = {k: float(v.mean()) for k, v in losses.items()}
    assert select_candidate(config, scores, losses) == "lightgbm"  # clearly the best


def test_a_metric_without_per_row_losses_takes_the_best(config):
    scores = {"lightgbm": -0.80, "elasticnet": -0.79, "ensemble": -0.81}  # AUROC negated
    losses = dict.fromkeys(scores)
    assert select_candidate(config, scores, losses) == "ensemble"


def test_with_sessions_the_standard_error_is_clustered_by_participant(config):
    """Two sessions per participant whose losses move together: half as many independent
    units, a wider standard error, so a gap one naive SE wide no longer counts."""
    from eihpredict.modeling._nested import _mean_se

    rng = np.random.default_rng(2)
    z = rng.normal(0, 1, 500)
    per_person = 0.05 * (z - z.mean()) / z.std(ddof=1)
    difference = np.repeat(per_person, 2)  # each participant's two sessions alike
    groups = np.repeat([f"p{i}" for i in range(500)], 2)
    naive, clustered = _mean_se(difference, None), _mean_se(difference, groups)
    assert 1.35 < clustered / naive < 1.45  # about sqrt(2)
    gap = 1.2 * naive  # between the two standard errors
    common = rng.normal(0.6, 0.3, 1000)
    losses = {"lightgbm": common, "elasticnet": common + difference + gap,
              "ensemble": common + 0.2}
    scores = {k: float(v.mean()) for k, v in losses.items()}
    assert select_candidate(config, scores, losses) == "lightgbm"
    assert select_candidate(config, scores, losses, groups) == "elasticnet"
