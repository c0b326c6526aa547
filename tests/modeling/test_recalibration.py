"""Model updating (intercept, logistic recalibration, closed test) against R's glm.

R values: tests/data/r/reference_values.json, from two update samples of an existing
model ``lp = -1 + 0.8 x1 + 0.5 x2 - 0.4 x3``: one where only the baseline risk moved
(the closed test keeps the model and updates the intercept) and one where the predictor
effects changed (it chooses the refit). R computed the LR tests of Vergouwe et al.
(2017) from ``logLik`` of each ``glm``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

from eihpredict.modeling import (
    binary_metrics,
    closed_test,
    recalibrate_intercept,
    recalibrate_logistic,
)


@pytest.mark.parametrize("case", ["shift", "revised"])
def test_recalibration_fits_equal_glm(case, r_reference, r_case):
    data = r_case(f"update_{case}")
    ref = r_reference["update"][case]
    z = 1.959963984540054
    a = recalibrate_intercept(data.lp, data.y)
    assert_allclose([a.intercept, a.intercept - z * a.intercept_se,
                     a.intercept + z * a.intercept_se], ref["intercept"], atol=1e-6)
    b = recalibrate_logistic(data.lp, data.y)
    assert_allclose([b.intercept, b.intercept - z * b.intercept_se,
                     b.intercept + z * b.intercept_se], ref["logistic_intercept"], atol=1e-6)
    assert_allclose([b.slope, b.slope - z * b.slope_se, b.slope + z * b.slope_se],
                    ref["logistic_slope"], atol=1e-6)


@pytest.mark.parametrize(("case", "expected"), [("shift", "intercept"), ("revised", "refit")])
def test_closed_test_equals_r(case, expected, r_reference, r_case):
    data = r_case(f"update_{case}")
    ref = r_reference["update"][case]
    result = closed_test(data.lp, data.y, ref["refit_loglik"], ref["refit_df"])
    assert result.method == ref["method"] == expected
    assert len(result.tests) == len(ref["tests"])
    for ours, theirs in zip(result.tests.to_dict(orient="records"), ref["tests"], strict=True):
        assert ours["model"] == theirs["model"] and ours["df"] == theirs["df"]
        assert_allclose([ours["loglik"], ours["lr_statistic"]],
                        [theirs["loglik"], theirs["lr_statistic"]], atol=1e-6)
        assert_allclose(ours["p_value"], theirs["p_value"], rtol=1e-6, atol=1e-12)
    assert result.to_dict()["method"] == expected


def test_closed_test_keeps_the_original_model_when_nothing_changed():
    rng = np.random.default_rng(4)
    lp = rng.normal(-0.5, 1, 800)
    y = (rng.random(800) < expit(lp)).astype(int)
    refit = recalibrate_logistic(lp, y).loglik + 1.0  # a 5-parameter refit gains little
    result = closed_test(lp, y, refit, 5)
    assert result.method == "original"
    assert result.recalibration.intercept == 0 and result.recalibration.slope == 1
    assert result.tests.shape[0] == 1


def test_intercept_update_removes_calibration_in_the_large_in_new_data():
    # The acceptance check of issue 13: update on part of a shifted population, then
    # calibration-in-the-large on the rest is within 0.1 of 0.
    rng = np.random.default_rng(7)
    lp = rng.normal(-0.8, 1.1, 4000)
    y = (rng.random(4000) < expit(lp + 0.9)).astype(int)  # the risk is higher there
    update, rest = slice(0, 1500), slice(1500, None)
    before = binary_metrics(y[rest], expit(lp[rest]), n_boot=0).set_index("metric")
    fit = recalibrate_intercept(lp[update], y[update])
    after = binary_metrics(y[rest], fit.predict_proba(lp[rest]), n_boot=0).set_index("metric")
    assert before.loc["calibration_in_the_large", "estimate"] > 0.7
    assert abs(after.loc["calibration_in_the_large", "estimate"]) < 0.1


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"refit_loglik": -300.0, "refit_df": 2}, "refit_df=2"),
    ({"refit_loglik": 5.0, "refit_df": 4}, r"refit_loglik=5\.0"),
    ({"refit_loglik": -300.0, "refit_df": 4, "alpha": 1.5}, r"alpha=1\.5"),
])
def test_closed_test_rejects_bad_input(kwargs, match):
    rng = np.random.default_rng(0)
    lp = rng.normal(size=50)
    y = (rng.random(50) < 0.4).astype(int)
    with pytest.raises(ValueError, match=match):
        closed_test(lp, y, **kwargs)


def test_recalibration_rejects_bad_input():
    with pytest.raises(ValueError, match="lp=inf at row 1"):
        recalibrate_intercept([0.1, np.inf, 0.3], [0, 1, 1])
    with pytest.raises(ValueError, match="one outcome class"):
        recalibrate_logistic([0.1, 0.2, 0.3], [1, 1, 1])
