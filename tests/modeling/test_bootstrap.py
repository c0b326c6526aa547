"""Row and cluster (site) bootstrap of metric functions."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from eihpredict.modeling import binary_point_estimates, bootstrap_weights, cluster_bootstrap


def test_row_weights_are_resampling_counts():
    W = bootstrap_weights(50, 400, seed=1)
    assert W.shape == (400, 50)
    assert (W.sum(axis=1) == 50).all()
    # each row is drawn with probability 1 - (1 - 1/n)^n in a replicate
    assert_allclose((W > 0).mean(), 1 - (1 - 1 / 50) ** 50, atol=0.01)


def test_cluster_weights_move_whole_clusters():
    clusters = np.repeat(["a", "b", "c", "d"], [5, 10, 2, 3])
    W = bootstrap_weights(20, 300, clusters=clusters, seed=2)
    for label in "abcd":
        block = W[:, clusters == label]
        assert (block == block[:, :1]).all()
    counts = W[:, [0, 5, 15, 17]]
    assert (counts.sum(axis=1) == 4).all()  # four clusters drawn per replicate


def test_batched_and_per_replicate_statistics_agree():
    rng = np.random.default_rng(3)
    p = expit(rng.normal(0, 1, 300))
    y = (rng.random(300) < p).astype(int)
    batched = cluster_bootstrap(partial(binary_point_estimates, threshold=0.5), y, p,
                                n_boot=60, seed=9, batch_size=20)
    single = cluster_bootstrap(partial(binary_point_estimates, threshold=0.5), y, p,
                               n_boot=60, seed=9)
    pd.testing.assert_frame_equal(batched, single, rtol=1e-8)


def test_sklearn_metric_with_sample_weight_works_unchanged():
    rng = np.random.default_rng(4)
    p = rng.random(200)
    y = (rng.random(200) < p).astype(int)
    out = cluster_bootstrap(roc_auc_score, y, p, n_boot=300)
    assert out.metric.tolist() == ["statistic"]
    assert_allclose(out.estimate[0], roc_auc_score(y, p))


def test_bootstrap_interval_of_a_mean_matches_its_standard_error():
    rng = np.random.default_rng(5)
    x = rng.normal(10, 2, 400)

    def mean(v, sample_weight):
        return np.average(v, weights=sample_weight)

    row = cluster_bootstrap(mean, x, n_boot=4000, seed=1).iloc[0]
    half = 1.96 * x.std(ddof=1) / np.sqrt(400)
    assert_allclose([row.ci_low, row.ci_high], [x.mean() - half, x.mean() + half], atol=0.03)


def test_site_bootstrap_is_wider_when_sites_differ():
    # Sites with their own calibration-in-the-large: resampling rows ignores that
    # variation, resampling sites does not.
    rng = np.random.default_rng(6)
    site = np.repeat(np.arange(12), 250)
    lp = rng.normal(-0.5, 1, site.size)
    y = (rng.random(site.size) < expit(lp + rng.normal(0, 0.6, 12)[site])).astype(int)
    stat = partial(binary_point_estimates, threshold=0.4)
    rows = cluster_bootstrap(stat, y, expit(lp), n_boot=300, batch_size=100)
    sites = cluster_bootstrap(stat, y, expit(lp), clusters=site, n_boot=300, batch_size=100)
    width = {name: (t.set_index("metric").ci_high - t.set_index("metric").ci_low)
             for name, t in (("rows", rows), ("sites", sites))}
    assert width["sites"]["calibration_in_the_large"] > 2 * width["rows"][
        "calibration_in_the_large"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_boot": 0}, "n_boot=0"),
    ({"level": 95}, "level=95"),
    ({"clusters": ["a", None, "b"]}, "missing cluster label at row 1"),
])
def test_bootstrap_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cluster_bootstrap(roc_auc_score, [0, 1, 1], [0.2, 0.6, 0.7], **kwargs)
