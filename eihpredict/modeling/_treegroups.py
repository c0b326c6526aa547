"""Two-group Shapley values of a tree ensemble: how much of a prediction the missing inputs
carry, at the cost of a few tree walks instead of TreeSHAP.

The players are two groups of features, ``M`` (missing in the row) and ``O`` (observed).
The value of a group ``S`` is TreeSHAP's own tree-path-dependent expectation
``v(S)``: walk each tree, follow the row's value at a split on a feature in ``S``, and
at a split on any other feature go down both sides weighted by the training rows that
went each way (the cover). ``v(M + O)`` is the raw score, ``v({})`` the expected raw
score (the bias of ``pred_contrib``). With two players the Shapley values are

``phi_M = ((v(M) - v({})) + (v(M + O) - v(O))) / 2`` and ``phi_O = raw - base - phi_M``.

Cost: ``v(O)`` follows the row's observed values and branches only at splits on a
missing feature (a path or a few per tree); ``v(M)`` depends only on *which* features
are missing (their values are all missing), so it is computed once per missingness
pattern of the batch. Both are exact (no sampling), in the raw score's units.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ._protocol import PARALLEL_ROWS

__all__ = ["TreeTable", "group_values"]

_NONE, _ZERO, _NAN = 0, 1, 2
_MISSING_TYPES = {"None": _NONE, "Zero": _ZERO, "NaN": _NAN}
#: LightGBM's ``kZeroThreshold``: |x| at or below it counts as zero.
_ZERO_THRESHOLD = 1e-35


@dataclass(frozen=True)
class TreeTable:
    """A LightGBM model's trees as flat arrays (one row per node, leaves included).

    ``feature`` is -1 at a leaf; ``left``/``right`` are node indices; ``left_share`` is
    the share of the node's training rows that went left (the cover weight);
    ``value`` is a leaf's output; ``roots`` the first node of each tree, ``output``
    the output (class) each tree adds to; ``uses[t, j]`` says tree ``t`` splits on
    feature ``j``; ``tree_base`` is each tree's expected output ``v({})``.
    """

    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    missing_type: np.ndarray
    left: np.ndarray
    right: np.ndarray
    left_share: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    output: np.ndarray
    k: int
    max_nodes: int
    uses: np.ndarray
    tree_base: np.ndarray

    @classmethod
    def from_dump(cls, dump: dict) -> TreeTable:
        """From ``Booster.dump_model()``; categorical splits are refused by name."""
        k = int(dump.get("num_tree_per_iteration", 1))
        rows: list[list] = []
        roots, outputs, max_nodes = [], [], 1

        def add(node: dict) -> int:
            index = len(rows)
            if "split_index" not in node:
                rows.append([-1, 0.0, False, 0, -1, -1, 0.0, float(node["leaf_value"])])
                return index
            if node["decision_type"] != "<=":
                raise ValueError(
                    f"the model has a categorical split (feature {node['split_feature']}); "
                    "the missingness columns support numerical splits only: score with "
                    "--no-missing-explanation")
            rows.append(None)  # filled once the children have indices
            left, right = add(node["left_child"]), add(node["right_child"])
            count = float(node["internal_count"])
            left_count = float(_count(node["left_child"]))
            rows[index] = [int(node["split_feature"]), float(node["threshold"]),
                           bool(node["default_left"]), _MISSING_TYPES[node["missing_type"]],
                           left, right, left_count / count if count > 0 else 0.5, 0.0]
            return index

        for t, tree in enumerate(dump["tree_info"]):
            start = len(rows)
            roots.append(add(tree["tree_structure"]))
            outputs.append(t % k)
            max_nodes = max(max_nodes, len(rows) - start)
        columns = list(zip(*rows, strict=True)) if rows else [[]] * 8
        features = np.asarray(columns[0], dtype=np.int64)
        uses = np.zeros((len(roots), int(features.max(initial=-1)) + 1), dtype=np.bool_)
        ends = [*roots[1:], len(rows)]
        for t, (a, b) in enumerate(zip(roots, ends, strict=True)):
            used = features[a:b]
            uses[t, used[used >= 0]] = True
        return cls(
            feature=np.asarray(columns[0], dtype=np.int64),
            threshold=np.asarray(columns[1], dtype=np.float64),
            default_left=np.asarray(columns[2], dtype=np.bool_),
            missing_type=np.asarray(columns[3], dtype=np.int64),
            left=np.asarray(columns[4], dtype=np.int64),
            right=np.asarray(columns[5], dtype=np.int64),
            left_share=np.asarray(columns[6], dtype=np.float64),
            value=np.asarray(columns[7], dtype=np.float64),
            roots=np.asarray(roots, dtype=np.int64),
            output=np.asarray(outputs, dtype=np.int64),
            k=k, max_nodes=max_nodes, uses=uses,
            tree_base=np.array([_expected(t["tree_structure"]) for t in dump["tree_info"]]),
        )

    @property
    def base(self) -> np.ndarray:
        """The expected raw score ``v({})`` per output, shape (k,)."""
        return np.bincount(self.output, weights=self.tree_base, minlength=self.k)

    def expected(self, design: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """``v(S)`` per row, shape (n, k): ``fixed[i, j]`` says feature ``j`` is in
        row ``i``'s ``S`` (its value followed); other features are averaged by cover."""
        return self.walk(design, fixed, None)[0]

    def walk(self, design: np.ndarray, fixed: np.ndarray, only: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums over trees, per row and output: ``v(S)``, the raw score (every feature
        followed) and ``v({})``, in one walk. With ``only`` (n, p) bool, a row walks only
        the trees that split on one of its ``only`` features (the sums are then over
        those trees)."""
        design = np.ascontiguousarray(design, dtype=np.float64)
        fixed = np.ascontiguousarray(fixed, dtype=np.bool_)
        every = only is None
        only = np.ascontiguousarray(fixed if every else only, dtype=np.bool_)
        n = len(design)
        out, full, bases = (np.zeros((n, self.k)) for _ in range(3))
        if not n or not len(self.roots):
            return out, full, bases

        def walk(rows: slice) -> None:
            _walk(design[rows], fixed[rows], only[rows], every, self.uses, self.tree_base,
                  self.feature, self.threshold, self.default_left, self.missing_type,
                  self.left, self.right, self.left_share, self.value, self.roots,
                  self.output, self.max_nodes, out[rows], full[rows], bases[rows])

        # The compiled walk releases the GIL: large batches use every core (each row's
        # numbers are the same whatever the batch and the split).
        threads = min(os.cpu_count() or 1, n // PARALLEL_ROWS)
        if threads <= 1:
            walk(slice(0, n))
        else:
            from concurrent.futures import ThreadPoolExecutor

            edges = np.linspace(0, n, threads + 1).astype(int)
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(walk, [slice(a, b) for a, b in zip(edges[:-1], edges[1:],
                                                                   strict=True)]))
        return out, full, bases


def _count(node: dict) -> float:
    return node["internal_count"] if "split_index" in node else node["leaf_count"]


def _expected(node: dict) -> float:
    """A tree's ``v({})``: its leaves' values weighted by cover."""
    if "split_index" not in node:
        return float(node["leaf_value"])
    share = _count(node["left_child"]) / node["internal_count"] \
        if node["internal_count"] > 0 else 0.5
    return share * _expected(node["left_child"]) + (1 - share) * _expected(
        node["right_child"])


def group_values(table: TreeTable, design: np.ndarray, missing: np.ndarray,
                 raw: np.ndarray | None = None) -> np.ndarray:
    """``(phi_M, phi_O)`` per row and output, shape (n, 2, k): the two-group Shapley
    values of the missing and the observed features (module docstring). ``raw`` is the
    model's raw score of ``design`` when the caller has it ((n,) or (n, k)).

    A tree that splits on none of a row's missing features adds the same to ``v(O)``
    as to the raw score, and the same to ``v(M)`` as to ``v({})``: only the trees that
    split on a missing feature are walked, and ``phi_M`` needs only their sums.
    """
    n = len(design)
    missing = np.ascontiguousarray(missing, dtype=np.bool_)
    if raw is None:
        raw = table.walk(design, np.ones(design.shape, dtype=bool), None)[1]
    raw = np.asarray(raw, dtype=np.float64).reshape(n, table.k)
    observed, path, _ = table.walk(design, ~missing, missing)
    # v(M): the missing features' values are all "missing", so it depends on the pattern.
    packed = np.packbits(missing, axis=1) if n else np.zeros((0, 1), dtype=np.uint8)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    fixed_missing, _, bases = table.walk(design[first], missing[first], missing[first])
    inverse = np.ravel(inverse)
    phi_m = 0.5 * ((fixed_missing - bases)[inverse] + (path - observed))
    phi_m[~missing.any(axis=1)] = 0.0  # no missing feature: exactly no share
    return np.stack([phi_m, raw - table.base - phi_m], axis=1)


def _disk_cache() -> bool:
    """Cache the compiled walk on disk next to this file, unless this file is a model
    directory's copy of the package (``MODEL/code/eihpredict/...``): a model directory
    holds exactly what its manifest lists, and its loader refuses any cache in it."""
    here = Path(__file__).resolve()
    return len(here.parents) < 4 or not (here.parents[3] / "checksums.sha256").is_file()


@numba.njit(cache=_disk_cache(), nogil=True)
def _walk(design, fixed, only, every, uses, tree_base, feature, threshold, default_left,
          missing_type, left, right, left_share, value, roots, output, max_nodes, out, full,
          bases):  # pragma: no cover (compiled)
    """Add, per row, ``v(S)`` of each tree walked to ``out``, its raw score to ``full``
    and its ``v({})`` to ``bases`` (see :meth:`TreeTable.walk`): one pass down each
    tree, going down both sides only at splits on a feature outside ``S``."""
    stack = np.empty(max_nodes + 1, dtype=np.int64)
    weights = np.empty(max_nodes + 1, dtype=np.float64)
    on_path = np.empty(max_nodes + 1, dtype=np.bool_)
    listed = np.empty(design.shape[1], dtype=np.int64)
    for i in range(design.shape[0]):
        n_listed = 0
        if not every:
            for j in range(min(design.shape[1], uses.shape[1])):
                if only[i, j]:
                    listed[n_listed] = j
                    n_listed += 1
        for t in range(roots.shape[0]):
            if not every:
                hit = False
                for a in range(n_listed):
                    if uses[t, listed[a]]:
                        hit = True
                        break
                if not hit:
                    continue
            total = 0.0
            raw = 0.0
            top = 0
            stack[0] = roots[t]
            weights[0] = 1.0
            on_path[0] = True
            while top >= 0:
                node = stack[top]
                w = weights[top]
                path = on_path[top]
                top -= 1
                while True:  # down one branch; the other side of an open split waits
                    f = feature[node]
                    if f < 0:
                        total += w * value[node]
                        if path:
                            raw += value[node]
                        break
                    x = design[i, f]  # LightGBM's NumericalDecision
                    rule = missing_type[node]
                    if np.isnan(x) and rule != _NAN:
                        x = 0.0
                    if (rule == _ZERO and -_ZERO_THRESHOLD <= x <= _ZERO_THRESHOLD) or (
                            rule == _NAN and np.isnan(x)):
                        go_left = default_left[node]
                    else:
                        go_left = x <= threshold[node]
                    if fixed[i, f]:
                        node = left[node] if go_left else right[node]
                    else:  # not in S: both sides, weighted by cover
                        share = left_share[node]
                        top += 1
                        stack[top] = right[node]
                        weights[top] = w * (1.0 - share)
                        on_path[top] = path and not go_left
                        node = left[node]
                        w = w * share
                        path = path and go_left
            out[i, output[t]] += total
            full[i, output[t]] += raw
            bases[i, output[t]] += tree_base[t]
    return out
