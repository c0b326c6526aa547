"""A new model family is one declaration: registered in a test module only, it trains,
saves, loads and scores through the one protocol like the shipped families."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import SGDClassifier, SGDRegressor

from eihpredict.config import PipelineConfig
from eihpredict.model_dir import load_model_dir
from eihpredict.modeling import (
    FAMILIES,
    TASKS,
    ModelFamily,
    get_task,
    register_family,
    unregister_family,
)
from eihpredict.scoring import score_file
from eihpredict.training import train

TOY = ModelFamily(
    name="toy_sgd",
    classifier=lambda params, seed: SGDClassifier(loss="log_loss", random_state=seed,
                                                  **params),
    regressor=lambda params, seed: SGDRegressor(random_state=seed, **params),
    flavour="linear", head="linear",
    recognises=lambda e: isinstance(e, SGDClassifier | SGDRegressor),
    default_params={"alpha": 0.01, "max_iter": 2000, "tol": 1e-6},
    packages=("scikit-learn",),
    param_types={"alpha": (float, 0, None)},
)


@pytest.fixture
def toy_family():
    register_family(TOY)
    try:
        yield TOY
    finally:
        unregister_family(TOY.name)
    assert TOY.name not in FAMILIES


def _config(base: PipelineConfig, label: dict) -> PipelineConfig:
    data = base.model_dump()
    data["name"] = "toy"
    data["label"] = label
    data["models"] = [{"name": "toy", "kind": "toy_sgd",
                       "search_space": {"alpha": {"type": "float", "low": 1e-4, "high": 0.1,
                                                  "log": True}}},
                      {"name": "cpm_only", "kind": "logistic", "groups": ["cpm"],
                       "baseline": True}]
    data["calibration"]["method"] = "auto"
    return PipelineConfig.model_validate(data)


@pytest.mark.parametrize("label", [{"rule": "no_rise"}, {"rule": "continuous"}],
                         ids=["binary", "continuous"])
def test_a_family_declared_in_a_test_trains_saves_and_scores(toy_family, label, quick_config,
                                                             cohort_csv, tmp_path):
    config = _config(quick_config, label)
    result = train(config, cohort_csv, out=tmp_path / "model", track=False)
    assert result.chosen == "toy"  # baselines are never chosen

    loaded = load_model_dir(tmp_path / "model")
    assert loaded.metadata["kind"] == "toy_sgd"
    requirements = (tmp_path / "model" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements

    out = tmp_path / "scores.csv"
    score_file(tmp_path / "model", cohort_csv, out, explain=3)
    scores = pd.read_csv(out)
    p = scores["p_impaired_eih"].to_numpy()
    assert len(scores) == 300 and np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    # the linear head's SHAP values add up to the raw score: contributions of the top 3
    # never exceed the row's whole explanation, and the head read a fitted SGD model
    batch = loaded.model.batch(pd.read_csv(cohort_csv).head(20))
    contributions = loaded.model.contributions(batch)
    raw = loaded.model.raw_score(batch)
    total = contributions.values.sum(axis=1) + contributions.base
    np.testing.assert_allclose(np.ravel(total), np.ravel(raw), atol=1e-9)


def test_an_unregistered_kind_is_refused_at_load_naming_the_families(quick_config):
    data = quick_config.model_dump()
    data["models"] = [{"name": "toy", "kind": "toy_sgd"}]
    with pytest.raises(ValueError, match="unknown model family 'toy_sgd'; expected one of "
                                         "lightgbm, logistic"):
        PipelineConfig.model_validate(data)


def test_a_family_without_the_tasks_estimator_is_refused_at_load(quick_config):
    register_family(ModelFamily(name="classifier_only", classifier=TOY.classifier,
                                regressor=None, flavour="linear", head="linear",
                                recognises=lambda e: False))
    try:
        data = quick_config.model_dump()
        data["label"] = {"rule": "continuous"}
        data["models"] = [{"name": "c", "kind": "classifier_only"}]
        with pytest.raises(ValueError, match="no estimator for a continuous outcome"):
            PipelineConfig.model_validate(data)
    finally:
        unregister_family("classifier_only")


def test_registering_a_name_twice_or_a_bad_head_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_family(FAMILIES["lightgbm"])
    with pytest.raises(ValueError, match="flavour and head"):
        register_family(ModelFamily(name="x", classifier=None, regressor=None,
                                    flavour="forest", head="tree", recognises=bool))
    assert "x" not in FAMILIES


def test_every_task_declares_what_its_callers_ask():
    for name, task in TASKS.items():
        assert get_task(name) is task and task.name == name
        assert task.estimator_role in ("classifier", "regressor")
        assert task.table_columns and task.card_metrics and task.headline
        assert task.selection_keys["log_loss"][1] is True  # lower is better
    with pytest.raises(ValueError, match="expected one of binary, continuous, three_class"):
        get_task("ordinal_regression")


def test_a_familys_declared_param_types_are_checked_when_the_config_is_read(toy_family,
                                                                            quick_config):
    data = quick_config.model_dump()
    data["models"] = [{"name": "toy", "kind": "toy_sgd", "params": {"alpha": "lots"}}]
    with pytest.raises(ValueError, match=r"expected a number, got 'lots'"):
        PipelineConfig.model_validate(data)
    data["models"][0]["params"] = {"alpha": -1.0}
    with pytest.raises(ValueError, match=r"got -1\.0"):
        PipelineConfig.model_validate(data)
    data["models"][0]["params"] = {"alpha": 0.05}
    assert PipelineConfig.model_validate(data).models[0].params == {"alpha": 0.05}
