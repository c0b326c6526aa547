"""Pipeline configs: the shipped ones load; typos fail with the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from eihpredict.config import ConfigError, load_config

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


@pytest.mark.parametrize("name", ["default.yaml", "quick.yaml", "continuous.yaml",
                                  "three_class.yaml", "rest_controlled.yaml"])
def test_shipped_configs_load(name):
    config = load_config(PIPELINES / name)
    assert any(not c.baseline for c in config.models)


def test_default_config_has_lightgbm_elasticnet_and_cpm_baseline():
    config = load_config(PIPELINES / "default.yaml")
    kinds = {c.name: (c.kind, c.baseline, c.groups) for c in config.models}
    assert kinds["lightgbm"][0] == "lightgbm"
    assert kinds["elasticnet"][0] == "logistic" and "l1_ratio" in config.models[1].search_space
    assert kinds["cpm_only"] == ("logistic", True, ["cpm"])


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


MINIMAL = "models:\n  - {name: m, kind: logistic}\n"


def test_unknown_key_is_refused_with_its_path_and_file(tmp_path):
    path = write(tmp_path, MINIMAL + "tuning:\n  n_trail: 5\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: unknown key 'tuning.n_trail'"):
        load_config(path)


@pytest.mark.parametrize(("text", "match"), [
    (MINIMAL + "cv: {scheme: leave_one_out}\n", "cv.scheme"),
    ("models:\n  - {name: m, kind: xgboost}\n", r"models\[0\]\.kind: unknown model family"),
    ("models:\n  - {name: m, kind: logistic, baseline: true}\n", "not be a baseline"),
    (MINIMAL + "features: {groups: [cpm, mood]}\n", "unknown feature groups"),
    (MINIMAL.rstrip() + "\n  - {name: e, kind: ensemble, members: [m, ghost]}\n",
     "needs at least two members"),
    ("models:\n  - {name: m, kind: logistic, members: [x]}\n", "only for kind ensemble"),
    ("models: [\n", "not valid YAML"),
    ("- just\n- a list\n", "mapping of keys"),
    (MINIMAL + "features: {options: {cpm: {respnder_rule: sem}}}\n",
     r"features.options: unknown option 'respnder_rule' for feature group 'cpm' .*did you "
     r"mean 'responder_rule'\?"),
    (MINIMAL + "features: {options: {mood: {k: 2}}}\n", "unknown feature group 'mood'"),
    (MINIMAL + "features: {options: {sex: {k: 2}}}\n", r"its options: none"),
])
def test_bad_values_are_refused(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text))


def test_overrides_and_name_from_file(tmp_path):
    config = load_config(write(tmp_path, MINIMAL), seed=9, n_trials=4)
    assert (config.name, config.seed, config.tuning.n_trials) == ("exp", 9, 4)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="no such config file"):
        load_config("nope.yaml")


def test_feature_options_that_exist_load(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + "features: {options: {cpm: "
                                                   "{responder_rule: sem, k: 1.5}}}\n"))
    assert config.features.options["cpm"] == {"responder_rule": "sem", "k": 1.5}
