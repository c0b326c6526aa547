"""The fast missingness share of a tree model: two-group Shapley values from tree walks,
checked against an independent pure-Python walk of LightGBM's own model dump, against
LightGBM's raw score and ``pred_contrib`` bias, and against TreeSHAP itself where the
two must agree (an additive model: stumps)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from eihpredict.modeling._protocol import missing_explanation_share
from eihpredict.modeling._treegroups import TreeTable, group_values


def _data(seed=0, n=400, p=5, k=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 3] = rng.integers(0, 3, n)  # exact zeros (a missing_type "Zero" feature)
    logit = X[:, 0] - X[:, 1] * X[:, 2] + 0.5 * X[:, 3]
    y = (logit > 0).astype(int) if k == 1 else np.digitize(logit, [-0.5, 0.5])
    X[rng.random((n, p)) < 0.2] = np.nan
    X[:, 4] = rng.normal(size=n)  # never missing in training: missing_type "None"
    return X, y


def _fit(X, y, **params):
    params = {"n_estimators": 25, "num_leaves": 6, "min_child_samples": 5, "verbose": -1,
              **params}
    return lgb.LGBMClassifier(**params).fit(X, y).booster_


def _value(node, x, fixed):
    """v(S) of one tree by recursion on the dump (LightGBM's decision rule written out)."""
    if "split_index" not in node:
        return node["leaf_value"]
    j = node["split_feature"]
    left, right = node["left_child"], node["right_child"]
    if not fixed[j]:
        count = lambda n: n.get("internal_count", n.get("leaf_count"))  # noqa: E731
        share = count(left) / node["internal_count"]
        return share * _value(left, x, fixed) + (1 - share) * _value(right, x, fixed)
    value = x[j]
    if np.isnan(value) and node["missing_type"] != "NaN":
        value = 0.0
    if (node["missing_type"] == "Zero" and value == 0) or (
            node["missing_type"] == "NaN" and np.isnan(value)):
        go_left = node["default_left"]
    else:
        go_left = value <= node["threshold"]
    return _value(left if go_left else right, x, fixed)


def _brute(booster, x, fixed):
    dump = booster.dump_model()
    k = dump["num_tree_per_iteration"]
    out = np.zeros(k)
    for t, tree in enumerate(dump["tree_info"]):
        out[t % k] += _value(tree["tree_structure"], x, fixed)
    return out


def test_tree_walk_matches_an_independent_walk_of_the_dump():
    X, y = _data()
    booster = _fit(X, y, zero_as_missing=False)
    X[:, 4][::7] = np.nan  # a gap in a feature that had none in training
    dump = booster.dump_model()
    kinds = {n for t in dump["tree_info"] for n in _missing_types(t["tree_structure"])}
    assert {"NaN", "None"} <= kinds
    table = TreeTable.from_dump(dump)
    rng = np.random.default_rng(1)
    fixed = rng.random(X[:30].shape) < 0.5
    got = table.expected(X[:30], fixed)
    expected = np.array([_brute(booster, x, f) for x, f in zip(X[:30], fixed, strict=True)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def _missing_types(node):
    if "split_index" in node:
        yield node["missing_type"]
        yield from _missing_types(node["left_child"])
        yield from _missing_types(node["right_child"])


def test_zero_as_missing_follows_the_default_direction():
    X, y = _data(seed=2)
    booster = _fit(X, y, zero_as_missing=True)
    table = TreeTable.from_dump(booster.dump_model())
    rows = X[:40]
    np.testing.assert_allclose(table.expected(rows, np.ones(rows.shape, bool))[:, 0],
                               booster.predict(rows, raw_score=True), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_ends_are_the_raw_score_and_the_treeshap_bias(k):
    X, y = _data(seed=3, k=k)
    booster = _fit(X, y)
    table = TreeTable.from_dump(booster.dump_model())
    raw = booster.predict(X, raw_score=True).reshape(len(X), k)
    np.testing.assert_allclose(table.expected(X, np.ones(X.shape, bool)), raw, atol=1e-12)
    bias = booster.predict(X[:1], pred_contrib=True).reshape(k, -1)[:, -1]
    base = table.expected(X[:1], np.zeros((1, X.shape[1]), bool))[0]
    np.testing.assert_allclose(base, bias, atol=1e-9)
    split = group_values(table, X, np.isnan(X))
    assert split.shape == (len(X), 2, k)
    np.testing.assert_allclose(split.sum(axis=1), raw - bias, atol=1e-9)  # efficiency


def test_two_group_shapley_values_by_hand():
    X, y = _data(seed=4)
    booster = _fit(X, y)
    table = TreeTable.from_dump(booster.dump_model())
    missing = np.isnan(X)
    split = group_values(table, X[:25], missing[:25])
    none = np.zeros(X.shape[1], bool)
    for i in range(25):
        m, x = missing[i], X[i]
        v = {s: _brute(booster, x, mask)[0] for s, mask in
             {"": none, "M": m, "O": ~m, "MO": ~none}.items()}
        phi_m = 0.0 if not m.any() else 0.5 * ((v["M"] - v[""]) + (v["MO"] - v["O"]))
        np.testing.assert_allclose(split[i, :, 0], [phi_m, v["MO"] - v[""] - phi_m],
                                   atol=1e-12)


def test_an_additive_model_gives_the_sum_of_the_missing_features_treeshap_values():
    """Stumps (one split per tree) add up: the missing group's Shapley value is then the
    sum of its features' TreeSHAP values (LightGBM's own pred_contrib)."""
    X, y = _data(seed=5)
    booster = _fit(X, y, num_leaves=2, n_estimators=40)
    missing = np.isnan(X)
    split = group_values(TreeTable.from_dump(booster.dump_model()), X, missing)
    contrib = booster.predict(X, pred_contrib=True)[:, :-1]
    np.testing.assert_allclose(split[:, 0, 0], (contrib * missing).sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(split[:, 1, 0], (contrib * ~missing).sum(axis=1), atol=1e-9)
    share = missing_explanation_share(split[:, :, 0])
    assert ((share >= 0) & (share <= 1)).all() and (share[~missing.any(axis=1)] == 0).all()


def test_a_row_gets_the_same_numbers_alone_and_in_a_batch():
    X, y = _data(seed=6)
    table = TreeTable.from_dump(_fit(X, y).dump_model())
    missing = np.isnan(X)
    together = group_values(table, X, missing)
    for i in (0, 13, 101):
        alone = group_values(table, X[i:i + 1], missing[i:i + 1])
        np.testing.assert_array_equal(alone[0], together[i])
    large = group_values(table, np.tile(X, (11, 1)), np.tile(missing, (11, 1)))  # threads
    np.testing.assert_array_equal(large, np.tile(together, (11, 1, 1)))


def test_a_categorical_split_is_refused_by_name():
    X, y = _data(seed=7)
    X[:, 3] = np.nan_to_num(X[:, 3])
    booster = lgb.LGBMClassifier(n_estimators=5, verbose=-1, min_child_samples=5).fit(
        X, y, categorical_feature=[3]).booster_
    if not any("==" in str(t) for t in booster.dump_model()["tree_info"]):
        pytest.skip("LightGBM made no categorical split on this sample")
    with pytest.raises(ValueError, match="categorical split"):
        TreeTable.from_dump(booster.dump_model())
