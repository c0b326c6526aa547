"""Probability calibration on out-of-fold raw log-odds.

The calibrator maps the model's raw log-odds to a calibrated probability. It is
fitted on out-of-fold predictions (never on the rows the model was fitted on), the
way ``CalibratedClassifierCV(ensemble=False)`` does, so the final model is one fitted
pipeline plus one calibrator:

``sigmoid``     Platt scaling, ``p = sigmoid(a * z + b)`` (2 parameters).
``temperature`` ``p = sigmoid(z / T)`` (1 parameter; keeps the decision ranking and
                 the 0.5 point).
``isotonic``    monotone step function; needs thousands of rows, overfits small sets.
``none``        ``p = sigmoid(z)``.

``auto`` picks ``sigmoid`` below 5,000 rows and ``isotonic`` from 5,000: default
LightGBM is badly overconfident at a few hundred to a few thousand rows (calibration
slopes of 0.3-0.4), and isotonic regression overfits small sets.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

__all__ = ["Calibrator", "resolve_method"]

ISOTONIC_MIN_ROWS = 5000


def resolve_method(method: str, n_rows: int) -> str:
    """Resolve ``"auto"`` by cohort size.

    Examples
    --------
    >>> resolve_method("auto", 800), resolve_method("auto", 20_000)
    ('sigmoid', 'isotonic')
    """
    if method == "auto":
        return "sigmoid" if n_rows < ISOTONIC_MIN_ROWS else "isotonic"
    return method


class Calibrator:
    """Map raw log-odds to calibrated probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 3, 2000)
    >>> y = rng.random(2000) < 1 / (1 + np.exp(-z / 3))  # overconfident raw scores
    >>> cal = Calibrator("sigmoid").fit(z, y)
    >>> round(float(cal.slope_), 1)
    0.3
    """

    def __init__(self, method: str = "sigmoid") -> None:
        if method not in ("sigmoid", "temperature", "isotonic", "none"):
            raise ValueError(
                f"Got method={method!r}; expected sigmoid, temperature, isotonic or none."
            )
        self.method = method

    def fit(self, z: np.ndarray, y: np.ndarray) -> Calibrator:
        z = np.asarray(z, dtype="float64")
        y = np.asarray(y).astype(int)
        self.slope_, self.intercept_ = 1.0, 0.0
        if self.method in ("sigmoid", "temperature"):
            model = LogisticRegression(C=np.inf, fit_intercept=self.method == "sigmoid")
            model.fit(z[:, None], y)
            self.slope_ = float(model.coef_[0, 0])
            self.intercept_ = float(model.intercept_[0]) if self.method == "sigmoid" else 0.0
        elif self.method == "isotonic":
            self.isotonic_ = IsotonicRegression(out_of_bounds="clip", y_min=1e-6,
                                                y_max=1 - 1e-6).fit(z, y)
        return self

    def parameters(self) -> dict[str, float]:
        """``slope`` and ``intercept`` on the log-odds scale (1 and 0 for isotonic/none)."""
        return {"slope": float(self.slope_), "intercept": float(self.intercept_)}

    def predict(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype="float64")
        if self.method == "isotonic":
            return self.isotonic_.predict(z)
        return expit(self.slope_ * z + self.intercept_)


class MulticlassCalibrator:
    """Map per-class raw scores (logits) to calibrated class probabilities.

    Fitted on out-of-fold logits ``Z`` (n, K) by maximum likelihood of the multinomial
    model ``p = softmax(a * Z + b)``:

    ``vector``       one scale ``a_k`` and one shift ``b_k`` per class (vector scaling,
                     Guo et al. 2017; the K-class form of Platt scaling; ``b_0 = 0``).
    ``temperature``  one scale for every class, ``p = softmax(Z / T)`` (keeps the order
                     of each row's classes).
    ``none``         ``p = softmax(Z)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(0, 2, (3000, 3))
    >>> P = np.exp(Z / 2) / np.exp(Z / 2).sum(1, keepdims=True)  # truth: T = 2
    >>> y = (rng.random(3000)[:, None] > P.cumsum(1)).sum(1)
    >>> round(float(1 / MulticlassCalibrator("temperature").fit(Z, y).scale_[0]), 1)
    2.0
    """

    METHODS = ("vector", "temperature", "none")

    def __init__(self, method: str = "vector") -> None:
        if method not in self.METHODS:
            raise ValueError(f"Got method={method!r}; expected vector, temperature or none.")
        self.method = method

    @staticmethod
    def _softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def fit(self, Z: np.ndarray, y: np.ndarray) -> MulticlassCalibrator:
        from scipy.optimize import minimize

        Z = np.asarray(Z, dtype="float64")
        y = np.asarray(y).astype(int)
        n, k = Z.shape
        onehot = np.eye(k)[y]
        self.scale_, self.shift_ = np.ones(k), np.zeros(k)
        if self.method == "none":
            return self

        def unpack(theta):
            if self.method == "temperature":
                return np.full(k, theta[0]), np.zeros(k)
            return theta[:k], np.r_[0.0, theta[k:]]

        def loss(theta):
            a, b = unpack(theta)
            s = a * Z + b
            s_max = s.max(axis=1, keepdims=True)
            log_norm = s_max[:, 0] + np.log(np.exp(s - s_max).sum(axis=1))
            nll = np.mean(log_norm - (s * onehot).sum(axis=1))
            resid = (self._softmax(s) - onehot) / n  # d nll / d s
            grad_a = (resid * Z).sum(axis=0)
            if self.method == "temperature":
                return nll, np.array([grad_a.sum()])
            return nll, np.r_[grad_a, resid.sum(axis=0)[1:]]

        start = np.ones(1) if self.method == "temperature" else np.r_[np.ones(k), np.zeros(k - 1)]
        result = minimize(loss, start, jac=True, method="L-BFGS-B")
        self.scale_, self.shift_ = (np.asarray(v, dtype="float64") for v in unpack(result.x))
        return self

    def parameters(self) -> dict[str, list[float]]:
        """Per-class ``scale`` and ``shift``."""
        return {"scale": [float(v) for v in self.scale_],
                "shift": [float(v) for v in self.shift_]}

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, rows summing to 1."""
        return self._softmax(np.asarray(Z, dtype="float64") * self.scale_ + self.shift_)
