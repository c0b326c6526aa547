"""Conditioned pain modulation (CPM) features (Yarnitsky et al. 2015 recommendations).

``cpm_abs = after - before`` (kPa) and ``cpm_pct = 100 * cpm_abs / before``; for a PPT
test stimulus, positive means inhibition (efficient CPM). An optional responder flag
uses ``cpm_abs > k * SEM`` (``responder_rule="sem"``) or ``cpm_pct >= threshold``
(``"percent"``). The paradigm and conditioning stimulus are one-hot encoded.
"""

from __future__ import annotations

import numpy as np

from ..instruments import CPM_FORMS
from ..schema import COLUMN_BY_NAME
from ._base import ContractTransformer, equals, one_hot

__all__ = ["CPMFeatures", "CPMRatingFeatures"]

_PPT = CPM_FORMS["cpm"]
_BEFORE, _AFTER = _PPT.before, _PPT.after


class CPMFeatures(ContractTransformer):
    """Absolute and percent CPM, an optional responder flag, and protocol encodings.

    Parameters
    ----------
    responder_rule : {None, "sem", "percent"}, default=None
        Add ``cpm_responder`` (1 = efficient CPM) by this rule.
    k : float, default=2.0
        Multiple of the SEM for the ``"sem"`` rule.
    sem_kpa : float, default=20.0
        Standard error of measurement of a PPT (kPa; about 20 kPa, Mailloux 2021).
    percent_threshold : float, default=20.0
        Threshold (%) for the ``"percent"`` rule.
    encode_protocol : bool, default=True
        One-hot encode ``cpm_paradigm`` and ``cpm_conditioning`` when present.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``cpm_abs``, ``cpm_pct``, then ``cpm_responder`` and protocol columns if asked.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"cpm_test_before_kpa": [300.0, 400.0],
    ...                   "cpm_test_after_kpa": [360.0, 380.0]})
    >>> CPMFeatures(responder_rule="percent").fit_transform(X).tolist()
    [[60.0, 20.0, 1.0], [-20.0, -5.0, 0.0]]
    """

    group = "cpm"

    def __init__(self, responder_rule=None, k=2.0, sem_kpa=20.0, percent_threshold=20.0,
                 encode_protocol=True):
        self.responder_rule = responder_rule
        self.k = k
        self.sem_kpa = sem_kpa
        self.percent_threshold = percent_threshold
        self.encode_protocol = encode_protocol

    def _validate_params(self) -> None:
        if self.responder_rule not in (None, "sem", "percent"):
            raise ValueError(
                f"Got responder_rule={self.responder_rule!r}; expected None, 'sem' or 'percent'."
            )
        for name in ("k", "sem_kpa"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"Got {name}={value!r}; expected a positive number.")
        if not isinstance(self.percent_threshold, int | float):
            raise ValueError(
                f"Got percent_threshold={self.percent_threshold!r}; expected a number."
            )

    def _inputs(self):
        return (_BEFORE, _AFTER, "cpm_paradigm", "cpm_conditioning")

    def _required(self):
        return ((_BEFORE, _AFTER),)

    def _outputs(self, present):
        out = ["cpm_abs", "cpm_pct"]
        if self.responder_rule is not None:
            out.append("cpm_responder")
        if self.encode_protocol:
            for col in ("cpm_paradigm", "cpm_conditioning"):
                if col in present:
                    out.extend(f"{col}_{c}" for c in COLUMN_BY_NAME[col].categories)
        return out

    def _compute(self, cols, n):
        cpm_abs, cpm_pct = _PPT.effect(cols[_BEFORE], cols[_AFTER])
        out = {"cpm_abs": cpm_abs, "cpm_pct": cpm_pct}
        if self.responder_rule is not None:
            with np.errstate(invalid="ignore"):
                flag = (cpm_abs > self.k * self.sem_kpa) if self.responder_rule == "sem" \
                    else (cpm_pct >= self.percent_threshold)
            out["cpm_responder"] = np.where(np.isnan(cpm_abs), np.nan, flag.astype("float64"))
        for col in ("cpm_paradigm", "cpm_conditioning"):
            if self.encode_protocol and col in cols:
                out.update(one_hot(cols[col], COLUMN_BY_NAME[col].categories, col))
        return out


_RATING = CPM_FORMS["cpm_rating"]
_RATING_BEFORE, _RATING_AFTER = _RATING.before, _RATING.after
_RATING_SCALE, _RATING_STIMULUS = _RATING.scale_column, "cpm_test_stimulus"


class CPMRatingFeatures(ContractTransformer):
    """CPM measured by pain ratings of a test stimulus: absolute and percent inhibition.

    One sign convention for both CPM forms: **positive = inhibition** (efficient CPM).
    For ratings a fall is inhibition, so ``cpm_rating_abs = before - after`` (points on
    a 0-100 scale; ratings on the ``0-10`` scale are multiplied by 10) and
    ``cpm_rating_pct = 100 * (before - after) / before`` (scale-free; missing when the
    rating before is 0). A row whose ``cpm_rating_scale`` is missing has no
    ``cpm_rating_abs`` (its points cannot be put on one scale) but keeps its percent.

    Parameters
    ----------
    encode_stimulus : bool, default=True
        One-hot encode ``cpm_test_stimulus`` (``cpm_rating_stimulus_<modality>``) when
        present.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``cpm_rating_abs``, ``cpm_rating_pct``, then the stimulus columns if asked.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"cpm_test_before_rating": [6.0, 50.0],
    ...                   "cpm_test_after_rating": [3.0, 60.0],
    ...                   "cpm_rating_scale": ["0-10", "0-100"]})
    >>> CPMRatingFeatures().fit_transform(X).tolist()
    [[30.0, 50.0], [-10.0, -20.0]]
    """

    group = "cpm_rating"

    def __init__(self, encode_stimulus=True):
        self.encode_stimulus = encode_stimulus

    def _inputs(self):
        return (_RATING_BEFORE, _RATING_AFTER, _RATING_SCALE, _RATING_STIMULUS)

    def _required(self):
        return ((_RATING_BEFORE, _RATING_AFTER),)

    def _outputs(self, present):
        out = ["cpm_rating_abs", "cpm_rating_pct"]
        if self.encode_stimulus and _RATING_STIMULUS in present:
            out.extend(f"cpm_rating_stimulus_{c}"
                       for c in COLUMN_BY_NAME[_RATING_STIMULUS].categories)
        return out

    def _compute(self, cols, n):
        before, after = cols[_RATING_BEFORE], cols[_RATING_AFTER]
        factor = np.full(n, np.nan)
        if _RATING_SCALE in cols:
            scale = cols[_RATING_SCALE]
            ten, hundred = equals(scale, "0-10"), equals(scale, "0-100")
            with np.errstate(invalid="ignore"):
                over = np.flatnonzero(ten & ((before > 10) | (after > 10)))
            if len(over):
                i = over[0]
                raise ValueError(
                    f"cpm_rating_scale is 0-10 but a rating exceeds 10 in {len(over)} row(s); "
                    f"first at row {i + 1}: before={before[i]:g}, after={after[i]:g}.")
            factor = np.where(ten, _RATING.scale_factors["0-10"],
                              np.where(hundred, _RATING.scale_factors["0-100"], np.nan))
        drop, pct = _RATING.effect(before, after)
        out = {"cpm_rating_abs": drop * factor, "cpm_rating_pct": pct}
        if self.encode_stimulus and _RATING_STIMULUS in cols:
            out.update(one_hot(cols[_RATING_STIMULUS],
                               COLUMN_BY_NAME[_RATING_STIMULUS].categories,
                               "cpm_rating_stimulus"))
        return out
