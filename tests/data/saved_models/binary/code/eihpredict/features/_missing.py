"""Median imputation with ``<feature>_missing`` indicators, for linear models.

scikit-learn's ``SimpleImputer(add_indicator=True)`` names its indicators
``missingindicator_<feature>``, which breaks the contract rule that every feature name
starts with its source group; this transformer keeps the group first.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ImputeWithIndicators"]


class ImputeWithIndicators(TransformerMixin, BaseEstimator):
    """Fill missing values with the training median and flag them.

    Parameters
    ----------
    add_indicator : bool, default=True
        Append ``<feature>_missing`` (0/1) for every feature that had missing values
        at fit.

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features_in_,)
        Training medians (0 for a column with no observed value).
    indicator_features_ : ndarray of int
        Indices of the features that get an indicator.
    feature_names_in_ : ndarray of str
        Input names, when fitted on a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"cpm_pct": [10.0, None, 30.0], "age_years": [20.0, 30.0, 40.0]})
    >>> est = ImputeWithIndicators().fit(X)
    >>> est.transform(X).tolist(), list(est.get_feature_names_out())
    ([[10.0, 20.0, 0.0], [20.0, 30.0, 1.0], [30.0, 40.0, 0.0]], \
['cpm_pct', 'age_years', 'cpm_pct_missing'])
    """

    def __init__(self, add_indicator=True):
        self.add_indicator = add_indicator

    def fit(self, X, y=None):
        """Learn medians and which features need indicators.

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan")
        missing = np.isnan(X)
        with np.errstate(all="ignore"):
            observed = ~missing.all(axis=0)
            medians = np.zeros(X.shape[1])
            if observed.any():
                medians[observed] = np.nanmedian(X[:, observed], axis=0)
        self.statistics_ = medians
        self.indicator_features_ = (
            np.flatnonzero(missing.any(axis=0)) if self.add_indicator else np.array([], int)
        )
        return self

    def transform(self, X):
        """Impute and append indicators.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_ + n_indicators)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan", reset=False,
                          copy=True)
        return self.impute_array(X, copy=False)

    def impute_array(self, X, copy=True):
        """Impute and append indicators on a float64 array, without input checks.

        The fitted-model protocol's path (``transform`` checks its input, then calls
        this).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features_in_), float64
        copy : bool, default=True
            Work on a copy (``False`` fills ``X`` in place).

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_ + n_indicators)
        """
        check_is_fitted(self)
        if copy:
            X = np.array(X, dtype="float64")
        missing = np.isnan(X)
        X[missing] = np.take(self.statistics_, np.nonzero(missing)[1])
        if len(self.indicator_features_):
            X = np.hstack([X, missing[:, self.indicator_features_].astype("float64")])
        return X

    def get_feature_names_out(self, input_features=None):
        """Input names, then ``<name>_missing`` for each indicator.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            names = np.asarray(input_features, dtype=object)
        if names is None:
            names = np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        extra = [f"{names[i]}_missing" for i in self.indicator_features_]
        return np.concatenate([np.asarray(names, dtype=object), np.array(extra, dtype=object)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
