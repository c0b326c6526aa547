"""The fitted-model protocol: the one interpreter of a fitted model.

Every model kind (a LightGBM or linear pipeline, an ensemble of them, a selector
refitted for biomarkers) answers the same questions on a :class:`ColumnBatch`, a mapping
of column arrays:

``feature_names``            names of the features its contributions are given for
``raw_score(batch)``         the estimator's raw output: log-odds of impaired EIH
                             (binary, shape (n,)), the predicted PPT change in kPa
                             (continuous, (n,)), or one logit per class (three classes,
                             (n, K))
``contributions(batch)``     exact SHAP values that add up to the raw score ((n, p), or
                             (n, p, K) for K classes)
``predict(batch)``           the output columns (calibrated probability, label, ...)

A DataFrame (batch scoring, notebooks, the MLflow pyfunc) and a list of JSON records
(the HTTP service) are thin adapters that build a :class:`ColumnBatch`
(:meth:`ColumnBatch.from_frame`; the records typed by
:func:`eihpredict.validation.validate_records`, :meth:`ColumnBatch.from_columns`); everything after
that is shared, so the same participant gets the same bits wherever it is scored.

:class:`PipelineScorer` implements the protocol for one fitted scikit-learn
:class:`~sklearn.pipeline.Pipeline` built by :func:`eihpredict.modeling.make_pipeline`
(feature union, optional imputation and scaling, estimator). It is the only place that
looks inside a fitted pipeline; callers never read ``named_steps``, ``coef_`` or
``booster_``. Its heads (:class:`_TreeHead`, :class:`_LinearHead`, chosen by the
estimator's registered model family) have ``k`` outputs:
1 for a binary classifier or a regressor, K for a multiclass classifier.

Top-K explanations (:meth:`Contributions.top`) have one tie-break: by absolute
contribution, largest first; equal absolute values keep the order of
``feature_names``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ColumnBatch", "Contributions", "PipelineScorer", "estimator_contributions",
           "lgbm_threads", "missing_explanation_share", "missing_features"]

#: Rows from which LightGBM predictions use every core (below, one thread is faster).
PARALLEL_ROWS = 2000


def lgbm_threads(n_rows: int) -> int:
    """LightGBM ``num_threads`` for a batch: 1 for small batches, 0 (all cores) for large."""
    return 1 if n_rows < PARALLEL_ROWS else 0


@dataclass(frozen=True)
class ColumnBatch:
    """Validated cohort columns as arrays: numbers ``float64`` (NaN = missing), categories
    lower-case text (``pd.Categorical`` or an object array with ``None`` = missing).

    Examples
    --------
    >>> import pandas as pd
    >>> batch = ColumnBatch.from_frame(pd.DataFrame({"age_years": [40.0, None]}))
    >>> batch.n, batch.columns["age_years"].dtype
    (2, dtype('float64'))
    """

    columns: Mapping[str, np.ndarray | pd.Categorical]
    n: int

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, names=None) -> ColumnBatch:
        """Columns of a validated (typed) frame; ``names`` limits which are read."""
        from ..features import column_values

        names = frame.columns if names is None else [c for c in names if c in frame.columns]
        return cls({c: column_values(frame[c]) for c in names}, len(frame))

    @classmethod
    def from_columns(cls, columns: Mapping[str, np.ndarray], n: int) -> ColumnBatch:
        """Columns typed by the validator (see :class:`eihpredict.validation.RecordValidation`)."""
        return cls(dict(columns), n)

    def with_missing(self, names) -> ColumnBatch:
        """Add each of ``names`` that is absent as an all-missing column (a JSON record
        leaves out a field it has no value for; a file must have the column)."""
        from ..schema import COLUMN_BY_NAME

        columns = dict(self.columns)
        for name in names:
            if name not in columns:
                spec = COLUMN_BY_NAME.get(name)
                columns[name] = (np.full(self.n, np.nan) if spec is not None and spec.is_numeric
                                 else np.full(self.n, None, dtype=object))
        return ColumnBatch(columns, self.n)

    def take(self, rows: np.ndarray) -> ColumnBatch:
        """The rows at positions ``rows`` (an index array or boolean mask)."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return ColumnBatch({c: v[rows] for c, v in self.columns.items()}, len(rows))


@dataclass
class Contributions:
    """Exact SHAP values of a batch, in the raw score's units.

    Attributes
    ----------
    values : ndarray of shape (n, p), or (n, p, K) for a model with K outputs
        Contributions; ``base + values.sum(axis=1)`` is the raw score.
    data : ndarray of shape (n, p)
        The feature values explained, as the model saw them before scaling (imputed
        values and missing-value indicators for linear models; NaN where missing).
    base : float, or ndarray
        Expected raw score (the output with no information): a float; shape (K,) for K
        outputs; shape (n,) when rows are answered by different fitted models (a
        continuous model scoring rows with and without its covariate).
    names : list of str
        Feature names (columns of ``values``).
    outputs : list of str, optional
        Names of the K outputs (the classes), when ``values`` has three dimensions.
    """

    values: np.ndarray
    data: np.ndarray
    base: float | np.ndarray
    names: list[str]
    outputs: list[str] | None = None

    def missing_share(self) -> np.ndarray:
        """Per row, the share of the absolute contributions carried by missing inputs
        (feature by feature; the ``missing_explanation_share`` output column is the
        two-group share of :func:`missing_explanation_share` instead).

        A feature counts as missing in a row when its value is NaN, when it is a set
        ``<name>_missing`` indicator, or when it is the imputed ``<name>`` such an
        indicator flags. Rows whose contributions are all zero get 0. Contributions to
        one output only (two-dimensional ``values``).

        Examples
        --------
        >>> c = Contributions(np.array([[1.0, 3.0, 0.0]]), np.array([[5.0, 1.0, 2.0]]),
        ...                   0.0, ["pcs_total", "pcs_total_missing", "age_years"])
        >>> c.missing_share().tolist()
        [1.0]
        """
        if self.values.ndim != 2:
            raise ValueError("missing_share needs the contributions to one output "
                             "(select an output first)")
        missing = missing_features(self.data, self.names)
        magnitude = np.abs(self.values)
        total = magnitude.sum(axis=1)
        carried = (magnitude * missing).sum(axis=1)
        return np.divide(carried, total, out=np.zeros(len(total)), where=total > 0)

    def select(self, output: int | np.ndarray) -> Contributions:
        """The contributions to one output: ``output`` is an index for every row or one
        index per row (e.g. each row's predicted class).

        Examples
        --------
        >>> c = Contributions(np.arange(12.0).reshape(2, 2, 3), np.zeros((2, 2)),
        ...                   np.array([0.1, 0.2, 0.3]), ["a", "b"], ["x", "y", "z"])
        >>> c.select(np.array([0, 2])).values.tolist(), c.select(np.array([0, 2])).base.tolist()
        ([[0.0, 3.0], [8.0, 11.0]], [0.1, 0.3])
        """
        if self.values.ndim == 2:
            return self
        base = np.asarray(self.base, dtype="float64")
        if np.ndim(output) == 0:
            return Contributions(self.values[:, :, int(output)], self.data,
                                 float(base[int(output)]), self.names)
        index = np.asarray(output, dtype=int)
        rows = np.arange(len(index))
        return Contributions(self.values[rows, :, index], self.data, base[index], self.names)

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices, values and contributions of the ``k`` largest contributions per row.

        Ordered by absolute contribution, largest first; ties keep the order of
        ``names`` (a stable sort), whatever the batch. A model with K outputs first
        :meth:`select` s the output to explain.

        Examples
        --------
        >>> c = Contributions(np.array([[0.1, -0.3, 0.3]]), np.zeros((1, 3)), 0.0,
        ...                   ["a", "b", "c"])
        >>> c.top(2)[0].tolist()
        [[1, 2]]
        """
        if self.values.ndim != 2:
            raise ValueError("Got contributions to several outputs; select one output "
                             "(Contributions.select) before taking the top K.")
        k = min(max(k, 0), self.values.shape[1])
        order = np.argsort(-np.abs(self.values), axis=1, kind="stable")[:, :k]
        rows = np.arange(len(self.values))[:, None]
        return order, self.data[rows, order], self.values[rows, order]


def missing_features(data: np.ndarray, names: list[str]) -> np.ndarray:
    """Which features are missing in each row: NaN, a set ``<name>_missing`` indicator,
    or the imputed ``<name>`` such an indicator flags.

    Examples
    --------
    >>> missing_features(np.array([[np.nan, 3.0, 1.0]]), ["a", "b", "b_missing"]).tolist()
    [[True, True, True]]
    """
    missing = np.isnan(data)
    index = {name: j for j, name in enumerate(names)}
    for j, name in enumerate(names):
        if name.endswith("_missing"):
            flagged = data[:, j] == 1
            missing[:, j] |= flagged
            imputed = index.get(name[: -len("_missing")])
            if imputed is not None:
                missing[:, imputed] |= flagged
    return missing


def missing_explanation_share(split: np.ndarray) -> np.ndarray:
    """``|phi_M| / (|phi_M| + |phi_O|)`` per row from two-group Shapley values
    ``split[:, 0] = phi_M`` (the missing features together) and ``split[:, 1] = phi_O``
    (the observed ones); 0 when both are 0.

    The prediction's departure from the expected raw score, ``raw - base = phi_M +
    phi_O``, is shared between the two groups as the Shapley value of a two-player game
    whose value of a group is the model's own expectation given that group (TreeSHAP's
    tree-path-dependent expectation for trees, linear SHAP for linear models): the share
    is how much of the prediction rests on what was learned about missing inputs.

    Examples
    --------
    >>> missing_explanation_share(np.array([[3.0, -1.0], [0.0, 0.0]])).tolist()
    [0.75, 0.0]
    """
    magnitude = np.abs(np.asarray(split, dtype="float64"))
    total = magnitude[:, 0] + magnitude[:, 1]
    return np.divide(magnitude[:, 0], total, out=np.zeros(len(total)), where=total > 0)


class PipelineScorer:
    """The protocol for one fitted pipeline: features, then optional imputation and
    scaling (linear models), then LightGBM or a linear estimator.

    Works on a :class:`ColumnBatch`: the feature union's transformers compute their
    columns from the arrays (:meth:`ContractTransformer.transform_columns`), the
    imputer fills and flags (:meth:`ImputeWithIndicators.impute_array`), the scaler's
    fitted mean and scale standardise, and the estimator's head gives the raw score and
    exact contributions. ``Pipeline.transform`` on a DataFrame runs the same transformer
    code, so the model trained by scikit-learn is the model scored here.
    """

    def __init__(self, pipeline) -> None:
        steps = dict(pipeline.steps)
        union = steps["features"]
        self.transformers = [t for _, t in union.transformer_list]
        self.input_columns = list(dict.fromkeys(c for t in self.transformers
                                                for c in t.inputs_))
        self.feature_names_in = [str(n) for t in self.transformers
                                 for n in t.get_feature_names_out()]
        self.impute = steps.get("impute")
        scale = steps.get("scale")
        self.mean = None if scale is None else scale.mean_
        self.scale = None if scale is None else scale.scale_
        estimator = pipeline.steps[-1][1]
        self.head = _head(estimator)
        self.outputs = [str(c) for c in getattr(estimator, "classes_", [])] \
            if self.head.k > 1 else None
        self._last: tuple | None = None
        self.feature_names = (list(map(str, self.impute.get_feature_names_out(
            self.feature_names_in))) if self.impute is not None else self.feature_names_in)

    @property
    def linear(self) -> bool:
        """A linear model (imputed and standardised inputs) rather than trees."""
        return self.impute is not None

    def features(self, batch: ColumnBatch) -> np.ndarray:
        """The feature matrix (before imputation), columns ``feature_names_in``."""
        blocks = [t.transform_columns(batch.columns, batch.n) for t in self.transformers]
        return np.hstack(blocks) if blocks else np.empty((batch.n, 0))

    def design(self, batch: ColumnBatch) -> tuple[np.ndarray, np.ndarray]:
        """``(shown, design)``: values as explained (imputed, unscaled) and as the
        estimator sees them (standardised for linear models)."""
        last = self._last  # the same batch asked for a score and its explanation
        if last is not None and last[0] is batch:
            return last[1], last[2]
        matrix = self.features(batch)
        if self.impute is None:
            shown = design = matrix
        else:
            shown = self.impute.impute_array(matrix)
            design = shown.copy()
            design -= self.mean  # exactly StandardScaler.transform's arithmetic
            design /= self.scale
        self._last = (batch, shown, design)  # one tuple: safe to share between threads
        return shown, design

    @property
    def n_outputs(self) -> int:
        """1 (binary classifier, regressor) or K (multiclass classifier)."""
        return self.head.k

    def raw_score(self, batch: ColumnBatch) -> np.ndarray:
        return self.head.raw(self.design(batch)[1])

    def contributions(self, batch: ColumnBatch) -> Contributions:
        shown, design = self.design(batch)
        values, base = self.head.contributions(design)
        return Contributions(values, shown, base, self.feature_names, self.outputs)

    def missing_split(self, batch: ColumnBatch, raw: np.ndarray | None = None,
                      rows: np.ndarray | None = None) -> np.ndarray:
        """Two-group Shapley values ``(phi_M, phi_O)`` of the missing and the observed
        features (:func:`missing_features`), shape (n, 2, k): a tree model's by tree
        walks (:mod:`._treegroups`, no TreeSHAP), an additive model's as sums of its
        exact contributions. ``rows``: a mask of the rows to compute (the batch's design,
        cached from its scores, is reused); ``raw``: :meth:`raw_score` of those rows,
        when known."""
        shown, design = self.design(batch)
        if rows is not None:
            shown, design = shown[rows], design[rows]
        missing = missing_features(shown, self.feature_names)
        group_values = getattr(self.head, "group_values", None)
        if group_values is not None:
            return group_values(design, missing, raw)
        return _additive_split(self.head.contributions(design)[0], missing)

    def interaction_values(self, batch: ColumnBatch) -> tuple[list[str], np.ndarray] | None:
        """Exact SHAP interaction values ``(names, (n, p, p))`` of a one-output tree
        model; ``None`` for a linear model (no interactions) or K outputs."""
        if self.head.k > 1:
            return None
        values = self.head.interactions(self.design(batch)[1])
        return None if values is None else (self.feature_names, values)


def estimator_contributions(estimator, design: np.ndarray) -> np.ndarray:
    """Exact SHAP values of a fitted LightGBM or linear estimator on its own design matrix
    (for refits outside a pipeline, e.g. the biomarker resampling)."""
    return _head(estimator).contributions(np.asarray(design, dtype="float64"))[0]


def _additive_split(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Two-group Shapley values of an additive model: the sums of its contributions over
    the missing and over the observed features ((n, 2, k))."""
    values = values if values.ndim == 3 else values[:, :, None]
    weight = missing[:, :, None]
    return np.stack([(values * weight).sum(axis=1), (values * ~weight).sum(axis=1)], axis=1)


def _head(estimator):
    """The head that reads a fitted estimator, as its model family declares."""
    from ._estimators import family_of

    return _HEADS[family_of(estimator).head](estimator)


class _TreeHead:
    """LightGBM: raw score and exact TreeSHAP through the booster's own ``pred_contrib``
    (identical to ``shap.TreeExplainer``'s tree-path-dependent algorithm). A multiclass
    booster has ``k`` trees per iteration; ``pred_contrib`` gives, per row, ``k`` blocks
    of ``p`` contributions and a bias."""

    def __init__(self, estimator) -> None:
        self.booster = estimator.booster_
        self.k = int(self.booster.num_model_per_iteration())

    def raw(self, design: np.ndarray) -> np.ndarray:
        if not len(design):
            return np.empty(0) if self.k == 1 else np.empty((0, self.k))
        return self.booster.predict(design, raw_score=True, num_threads=lgbm_threads(
            len(design)))

    def contributions(self, design: np.ndarray) -> tuple[np.ndarray, float | np.ndarray]:
        probe = design if len(design) else np.zeros((1, design.shape[1]))
        contrib = self.booster.predict(probe, pred_contrib=True,
                                       num_threads=lgbm_threads(len(probe)))
        if self.k == 1:
            return contrib[: len(design), :-1], float(contrib[0, -1])
        blocks = contrib.reshape(len(probe), self.k, -1)
        return (np.ascontiguousarray(blocks[: len(design), :, :-1].transpose(0, 2, 1)),
                blocks[0, :, -1].copy())

    def group_values(self, design: np.ndarray, missing: np.ndarray,
                     raw: np.ndarray | None = None) -> np.ndarray:
        """Two-group Shapley values (n, 2, k) by tree walks (:mod:`._treegroups`)."""
        from ._treegroups import TreeTable, group_values

        table = self.__dict__.get("_table")
        if table is None:
            table = self.__dict__["_table"] = TreeTable.from_dump(self.booster.dump_model())
        return group_values(table, design, missing, self.raw(design) if raw is None else raw)

    def interactions(self, design: np.ndarray) -> np.ndarray:
        import shap

        return np.asarray(shap.TreeExplainer(self.booster).shap_interaction_values(design))


class _LinearHead:
    """A linear model on standardised features: the raw score is ``x . coef + b`` summed
    row by row (the same bits for a row whatever the batch; a BLAS product changes the
    last bit with the batch size), and linear SHAP with the training data as background
    is ``coef_j * x_j`` (the standardised features have background mean 0). A
    multinomial model has one coefficient row and intercept per class."""

    def __init__(self, estimator) -> None:
        coef = np.asarray(estimator.coef_, dtype="float64")
        self.coefs = coef.reshape(1, -1) if coef.ndim == 1 else coef
        self.intercepts = np.ravel(np.asarray(estimator.intercept_, dtype="float64"))
        self.k = len(self.coefs)
        self.coef, self.intercept = self.coefs[0], float(self.intercepts[0])

    def raw(self, design: np.ndarray) -> np.ndarray:
        design = np.ascontiguousarray(design)
        if self.k == 1:
            return (design * self.coef).sum(axis=1) + self.intercept
        return np.column_stack([(design * c).sum(axis=1) + b
                                for c, b in zip(self.coefs, self.intercepts, strict=True)])

    def contributions(self, design: np.ndarray) -> tuple[np.ndarray, float | np.ndarray]:
        if self.k == 1:
            return design * self.coef, self.intercept
        return np.stack([design * c for c in self.coefs], axis=2), self.intercepts.copy()

    def group_values(self, design: np.ndarray, missing: np.ndarray,
                     raw: np.ndarray | None = None) -> np.ndarray:
        """Two-group Shapley values (n, 2, k): sums of the contributions by group."""
        return _additive_split(self.contributions(design)[0], missing)

    def interactions(self, design: np.ndarray) -> None:
        return None


class _OrdinalHead:
    """A cumulative-link (proportional-odds) model on standardised features: the raw
    score is the log probability of each class (K columns; softmax gives the class
    probabilities back), a function of one latent linear predictor ``eta = x . coef``
    (summed row by row, as in :class:`_LinearHead`).

    Contributions are along that predictor: feature ``j`` gets the share ``coef_j x_j /
    eta`` of each class's change ``log P_k(eta) - log P_k(0)`` from the background
    (``eta = 0``, the standardised features' mean), i.e. the integrated gradients of the
    straight path, exact for a function of one linear index; at ``eta = 0`` the share
    of the derivative. They add up to the raw score with ``base = log P(0)``. A
    feature's sign on the latent predictor is the same for every class; its size on a
    class follows how that class's probability moves."""

    def __init__(self, estimator) -> None:
        self.coef = np.asarray(estimator.coef_, dtype="float64")
        self.thresholds = np.asarray(estimator.thresholds_, dtype="float64")
        self.k = len(self.thresholds) + 1

    def _eta(self, design: np.ndarray) -> np.ndarray:
        return (np.ascontiguousarray(design) * self.coef).sum(axis=1)

    def _log_probabilities(self, eta: np.ndarray) -> np.ndarray:
        from ._estimators import log_class_probabilities

        return log_class_probabilities(eta, self.thresholds)

    def raw(self, design: np.ndarray) -> np.ndarray:
        return self._log_probabilities(self._eta(design))

    def contributions(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        terms = np.ascontiguousarray(design) * self.coef
        eta = terms.sum(axis=1)
        base = self._log_probabilities(np.zeros(1))[0]
        change = self._log_probabilities(eta) - base
        small = np.abs(eta) < 1e-9
        step = 1e-6  # the derivative at eta = 0 (central difference)
        slope = (self._log_probabilities(np.array([step]))
                 - self._log_probabilities(np.array([-step])))[0] / (2 * step)
        ratio = np.divide(change, eta[:, None], out=np.tile(slope, (len(eta), 1)),
                          where=~small[:, None])
        return terms[:, :, None] * ratio[:, None, :], base.copy()

    def interactions(self, design: np.ndarray) -> None:
        return None


#: Protocol heads by the name a model family declares (``ModelFamily.head``).
_HEADS = {"tree": _TreeHead, "linear": _LinearHead, "ordinal": _OrdinalHead}
