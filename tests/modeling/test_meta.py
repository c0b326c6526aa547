"""Per-site performance and random-effects meta-analysis against R (pROC, glm, metafor).

R values: tests/data/r/reference_values.json (metafor 3.8-1 ``rma`` run to convergence
1e-12; REML and DerSimonian-Laird, Wald and Knapp-Hartung intervals). The prediction
interval is Riley et al.'s (t with k - 2 df), computed in R from ``rma``'s tau2 and SE;
metafor 3.8's own ``predict()`` uses the normal quantile for ``test = "z"`` and t with
k - 1 df for ``knha``, which the last test shows is the only difference.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import norm
from scipy.stats import t as student_t

from eihpredict.modeling import (
    forest_plot,
    meta_summary,
    pool_site_performance,
    random_effects_meta,
    site_performance,
)

COLUMNS = {"c_statistic": ("logit_c", "logit_c_se"),
           "calibration_slope": ("calibration_slope", "calibration_slope_se"),
           "calibration_in_the_large": ("calibration_in_the_large",
                                        "calibration_in_the_large_se"),
           "observed_expected": ("log_oe", "log_oe_se")}


@pytest.fixture(scope="module")
def sites(r_case):
    data = r_case("multisite")
    return site_performance(data.y, data.p, data.site)


def test_site_performance_equals_r(sites, r_reference):
    ref = pd.DataFrame(r_reference["multisite"]["sites"])
    assert sites.site.tolist() == ref.site.tolist()
    for column in ref.columns.drop("site"):
        assert_allclose(sites[column].to_numpy(float), ref[column].to_numpy(float),
                        rtol=0, atol=1e-6, err_msg=column)


@pytest.mark.parametrize("measure", sorted(COLUMNS))
@pytest.mark.parametrize("variant", ["REML_z", "REML_knha", "DL_z", "DL_knha"])
def test_random_effects_meta_equals_metafor(sites, r_reference, measure, variant):
    ref = r_reference["multisite"]["pooled"][measure][variant]
    method, test = variant.split("_")
    est, se = COLUMNS[measure]
    m = random_effects_meta(sites[est], sites[se], method=method, hksj=test == "knha")
    for key in ("estimate", "se", "tau2", "q_pvalue"):
        assert_allclose(getattr(m, key), ref[key], rtol=0, atol=1e-6, err_msg=key)
    for key in ("q", "i2"):  # larger numbers: relative
        assert_allclose(getattr(m, key), ref[key], rtol=1e-6, atol=1e-8, err_msg=key)
    for key in ("ci_low", "ci_high", "pi_low", "pi_high"):
        assert_allclose(getattr(m, key), ref[key], rtol=0, atol=1e-4, err_msg=key)


def test_prediction_interval_differs_from_metafor_predict_only_in_its_quantile(sites,
                                                                               r_reference):
    k = len(sites)
    for variant, quantile in (("REML_z", norm.ppf(0.975)),
                              ("REML_knha", student_t.ppf(0.975, k - 1))):
        ref = r_reference["multisite"]["pooled"]["calibration_slope"][variant]
        half = quantile * math.sqrt(ref["tau2"] + ref["se"] ** 2)
        assert_allclose([ref["estimate"] - half, ref["estimate"] + half],
                        [ref["metafor_pi_low"], ref["metafor_pi_high"]], atol=1e-8)
        assert ref["pi_high"] - ref["pi_low"] > ref["metafor_pi_high"] - ref["metafor_pi_low"]


def test_pool_site_performance_back_transforms(sites, r_reference):
    pooled = pool_site_performance(sites)  # REML with HKSJ by default
    summary = meta_summary(pooled).set_index("measure")
    ref_c = r_reference["multisite"]["pooled"]["c_statistic"]["REML_knha"]
    assert_allclose(summary.loc["c_statistic", "estimate"],
                    1 / (1 + math.exp(-ref_c["estimate"])), atol=1e-6)
    ref_oe = r_reference["multisite"]["pooled"]["observed_expected"]["REML_knha"]
    assert_allclose(summary.loc["observed_expected", ["ci_low", "ci_high"]].to_numpy(float),
                    np.exp([ref_oe["ci_low"], ref_oe["ci_high"]]), atol=1e-4)
    assert summary.loc["observed_expected", "scale"] == "log"
    assert (summary.k == 8).all()


def test_sites_without_both_classes_are_left_out_and_named(caplog):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    p = np.clip(rng.random(400), 0.05, 0.95)
    site = np.repeat(["a", "b", "c", "d"], 100)
    y[site == "d"] = 0
    table = site_performance(y, p, site)
    assert table.loc[3, "n"] == 100 and np.isnan(table.loc[3, "c_statistic"])
    with caplog.at_level("INFO"):
        pooled = pool_site_performance(table)
    assert pooled["c_statistic"].studies.label.tolist() == ["a", "b", "c"]
    assert "sites d left out" in caplog.text


def test_two_sites_have_no_prediction_interval():
    m = random_effects_meta([0.1, 0.4], [0.1, 0.1])
    assert m.k == 2 and math.isnan(m.pi_low)
    assert m.estimate == pytest.approx(0.25)


def test_homogeneous_sites_have_zero_tau2():
    m = random_effects_meta([0.50, 0.51, 0.49, 0.50], [0.1, 0.1, 0.1, 0.1])
    assert m.tau2 == 0 and m.i2 == 0
    assert_allclose(m.se, 0.05)


@pytest.mark.parametrize(("estimates", "ses", "kwargs", "match"), [
    ([0.1, 0.2], [0.1, 0.0], {}, r"se=0\.0 for site 2"),
    ([0.1, np.nan], [0.1, 0.1], {}, "estimate=nan, se=0.1 for site 2"),
    ([0.1], [0.1], {}, "at least 2"),
    ([0.1, 0.2], [0.1, 0.1], {"method": "PM"}, "method='PM'"),
])
def test_meta_rejects_bad_input(estimates, ses, kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_effects_meta(estimates, ses, **kwargs)


def test_forest_plot_writes_a_png(sites, tmp_path):
    pooled = pool_site_performance(sites)
    path = forest_plot(pooled["observed_expected"], tmp_path / "oe.png",
                       title="O/E by site", reference=1.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000
