"""Shared machinery of the feature transformers: named-column input, fixed outputs.

Every transformer reads contract columns by name. It is fitted on a DataFrame (the
usual case, remembered in ``feature_names_in_``) or on an array whose columns follow
the transformer's canonical input order (``inputs``), so a fitted transformer also
accepts the same columns as a plain array. Optional inputs may be absent; an output
that needs an absent input is missing (NaN), never invented.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ContractTransformer", "column_values"]


class ContractTransformer(TransformerMixin, BaseEstimator):
    """Base class: subclasses define ``_inputs``, ``_required``, ``_outputs`` and ``_compute``.

    ``_inputs()`` lists the contract columns the transformer may read, in canonical
    order; ``_required()`` the groups of columns of which at least one group must be
    present (each group all together); ``_compute(columns, n)`` returns a dict of
    output arrays for the columns present.
    """

    #: Name used in error messages (the feature group).
    group = "features"

    def __setstate__(self, state):
        # A transformer pickled by an earlier release lacks the parameters added since:
        # they take their defaults, which keep that release's behaviour.
        super().__setstate__(state)
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if (name != "self" and name not in self.__dict__
                    and param.default is not inspect.Parameter.empty):
                setattr(self, name, param.default)

    def _inputs(self) -> tuple[str, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _required(self) -> tuple[tuple[str, ...], ...]:
        return ()

    def _validate_params(self) -> None:
        """Check constructor arguments (called in ``fit``)."""

    def _outputs(self, present: set[str]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self, cols: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        raise NotImplementedError  # pragma: no cover - abstract

    # -- scikit-learn API -------------------------------------------------------------
    def fit(self, X, y=None):
        """Check parameters and which input columns are present.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Cohort table (contract column names), or an array whose columns follow
            ``inputs`` order.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        frame = self._as_frame(X, fitting=True)
        self.inputs_ = [c for c in self._inputs() if c in frame.columns]
        required = self._required()
        if required and not any(all(c in frame.columns for c in grp) for grp in required):
            needed = " or ".join("(" + ", ".join(grp) + ")" for grp in required)
            raise ValueError(
                f"Feature group {self.group!r} needs columns {needed}; the data has none of "
                f"these sets. Remove the group from the pipeline or add the columns."
            )
        self.feature_names_out_ = np.asarray(self._outputs(set(self.inputs_)), dtype=object)
        return self

    def transform(self, X):
        """Compute the features.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self, "feature_names_out_")
        frame = self._as_frame(X, fitting=False)
        return self.transform_columns(
            {c: column_values(frame[c]) for c in self.inputs_ if c in frame.columns}, len(frame))

    def transform_columns(self, columns, n):
        """Compute the features from column arrays (the fitted-model protocol's path).

        Parameters
        ----------
        columns : mapping of str to array
            Contract columns as :func:`column_values` gives them (numbers ``float64``,
            categories lower-case ``Categorical`` or object arrays).
        n : int
            Number of rows.

        Returns
        -------
        ndarray of shape (n, n_features_out)
        """
        check_is_fitted(self, "feature_names_out_")
        missing = [c for c in self.inputs_ if c not in columns]
        if missing:
            raise ValueError(
                f"Feature group {self.group!r} was fitted with columns the data lacks: "
                f"{', '.join(missing)}."
            )
        out = self._compute({c: columns[c] for c in self.inputs_}, n)
        return np.column_stack([out[name] for name in self.feature_names_out_]).astype(
            "float64", copy=False
        ) if len(self.feature_names_out_) else np.empty((n, 0))

    def get_feature_names_out(self, input_features=None):
        """Names of the output features (each starts with its source group).

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.requires_fit = True
        return tags

    # -- helpers --------------------------------------------------------------------------
    def _as_frame(self, X, *, fitting: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            if fitting:
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                self.n_features_in_ = X.shape[1]
            return X
        array = validate_data(self, X, reset=fitting, dtype=None, ensure_all_finite=False,
                              ensure_min_features=1)
        names = getattr(self, "feature_names_in_", None)
        if names is None or fitting:
            inputs = self._inputs()
            if array.shape[1] > len(inputs):
                raise ValueError(
                    f"Got an array with {array.shape[1]} columns; {type(self).__name__} reads "
                    f"at most {len(inputs)} ({', '.join(inputs)}). Pass a DataFrame with the "
                    "contract's column names."
                )
            names = inputs[: array.shape[1]]
        return pd.DataFrame(array, columns=list(names))


def column_values(series: pd.Series) -> np.ndarray | pd.Categorical:
    """Numbers as float64 (NaN for missing); text and categories as a lower-case Categorical.

    Categories are compared through their integer codes, so one-hot encoding a million
    rows costs a few array comparisons, not a million string comparisons.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        values = series.array
        lowered = [str(c).strip().lower() for c in values.categories]
        if len(set(lowered)) == len(lowered):
            return values.rename_categories(lowered) if lowered != list(values.categories) \
                else values
        series = series.astype("str")
    elif pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    elif series.dtype == object:
        numbers = pd.to_numeric(series, errors="coerce")
        if numbers.notna().sum() == series.notna().sum():
            return numbers.to_numpy(dtype="float64", na_value=np.nan)
    return pd.Categorical(series.astype("str").str.strip().str.lower())


def is_missing(values: np.ndarray | pd.Categorical) -> np.ndarray:
    """Boolean mask of missing values for numbers or categories."""
    if isinstance(values, pd.Categorical):
        return values.codes == -1
    return np.isnan(values) if np.issubdtype(values.dtype, np.floating) else pd.isna(values)


def equals(values: np.ndarray | pd.Categorical, category: str) -> np.ndarray:
    """Boolean mask ``values == category`` (False where missing)."""
    if isinstance(values, pd.Categorical):
        try:
            return values.codes == values.categories.get_loc(category)
        except KeyError:
            return np.zeros(len(values), dtype=bool)
    return np.asarray(values == category, dtype=bool)


def one_hot(values, categories: tuple[str, ...], prefix: str) -> dict[str, np.ndarray]:
    """0/1 columns per category; a missing value gives NaN in every column."""
    missing = is_missing(values)
    out = {}
    for category in categories:
        column = equals(values, category).astype("float64")
        column[missing] = np.nan
        out[f"{prefix}_{category}"] = column
    return out
