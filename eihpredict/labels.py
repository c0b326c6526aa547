"""EIH label rules: which participants count as having impaired EIH.

The outcome is the change of PPT at the test site, ``change = post - pre`` (kPa), or
``100 * change / pre`` (%). Rules (``shared/DOMAIN.md``):

``no_rise`` (default, the contract's rule)
    impaired = 1 when ``post <= pre``.
``absolute``
    impaired = 1 when ``change <= threshold_kpa`` (e.g. a rise under 30 kPa does not count).
``relative``
    impaired = 1 when ``100 * change / pre <= threshold_pct``.
``sem``
    impaired = 1 when ``change <= k * sem_kpa``: no rise beyond measurement error.
``continuous``
    No dichotomising: the label is the change itself (kPa, float). A continuous model
    predicts it and derives P(impaired) = P(change <= ``threshold_kpa``).
``three_class``
    0 = hypoalgesia (``change > band_kpa``), 1 = no change (within the band),
    2 = hyperalgesia (``change < -band_kpa``). For a binary model, ``binary=True``
    maps "no change" and "hyperalgesia" to impaired = 1.

An ``eih_impaired`` column, where present and not missing, overrides the rule for its
row (binary rules only; never for ``continuous``). A row with neither the label nor both PPTs has no label:
:func:`make_labels` raises a ``ValueError`` naming those rows instead of dropping them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LabelRule", "make_labels"]

PRE, POST, LABEL = "eih_ppt_pre_kpa", "eih_ppt_post_kpa", "eih_impaired"


class LabelRule(BaseModel):
    """A label rule, as written under ``label:`` in a pipeline config.

    Examples
    --------
    >>> LabelRule().describe()
    'impaired EIH = 1 when eih_ppt_post_kpa <= eih_ppt_pre_kpa (no rise in PPT)'
    >>> LabelRule(rule="sem", k=2, sem_kpa=20).describe()
    'impaired EIH = 1 when post - pre <= 2 x 20 kPa (no rise beyond measurement error)'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["no_rise", "absolute", "relative", "sem", "three_class", "continuous"] = (
        "no_rise")
    threshold_kpa: float = 0.0
    threshold_pct: float = 0.0
    k: float = Field(2.0, gt=0)
    sem_kpa: float = Field(20.0, gt=0)
    band_kpa: float = Field(20.0, gt=0)
    binary: bool = True
    use_label_column: bool = Field(
        True, description="An eih_impaired value, where present, overrides the rule."
    )

    def describe(self) -> str:
        """The rule in one sentence (for the model card and metadata)."""
        if self.rule == "no_rise":
            return f"impaired EIH = 1 when {POST} <= {PRE} (no rise in PPT)"
        if self.rule == "absolute":
            return f"impaired EIH = 1 when post - pre <= {self.threshold_kpa:g} kPa"
        if self.rule == "relative":
            return f"impaired EIH = 1 when 100 x (post - pre) / pre <= {self.threshold_pct:g} %"
        if self.rule == "continuous":
            return ("continuous: the PPT change post - pre (kPa) is predicted; impaired EIH "
                    f"= change <= {self.threshold_kpa:g} kPa")
        if self.rule == "sem":
            return (f"impaired EIH = 1 when post - pre <= {self.k:g} x {self.sem_kpa:g} kPa "
                    "(no rise beyond measurement error)")
        classes = (f"0 hypoalgesia (change > {self.band_kpa:g} kPa), 1 no change, "
                   f"2 hyperalgesia (change < -{self.band_kpa:g} kPa)")
        return (f"three classes: {classes}" + ("; impaired = classes 1 and 2" if self.binary
                                              else ""))

    @property
    def n_classes(self) -> int:
        return 3 if self.rule == "three_class" and not self.binary else 2


def make_labels(frame: pd.DataFrame, rule: LabelRule | None = None) -> pd.Series:
    """Compute the EIH label of every row.

    Parameters
    ----------
    frame : DataFrame
        Validated cohort with ``eih_ppt_pre_kpa`` and ``eih_ppt_post_kpa`` and/or
        ``eih_impaired``.
    rule : LabelRule, optional
        Defaults to the contract's rule (``no_rise``).

    Returns
    -------
    Series of int, named ``eih_impaired``, aligned with ``frame``; for the ``continuous``
    rule a Series of float, the change ``post - pre`` in kPa, named ``eih_change_kpa``.

    Raises
    ------
    ValueError
        When the outcome columns are absent, or some rows have no label (named).

    Examples
    --------
    >>> frame = pd.DataFrame({"participant_id": ["a", "b", "c"],
    ...                       "eih_ppt_pre_kpa": [400.0, 400.0, 400.0],
    ...                       "eih_ppt_post_kpa": [450.0, 400.0, 380.0]})
    >>> make_labels(frame).tolist()
    [0, 1, 1]
    >>> make_labels(frame, LabelRule(rule="absolute", threshold_kpa=60)).tolist()
    [1, 1, 1]
    >>> make_labels(frame, LabelRule(rule="three_class", band_kpa=10, binary=False)).tolist()
    [0, 1, 2]
    """
    rule = rule or LabelRule()
    has_pair = PRE in frame and POST in frame
    has_label = (LABEL in frame and rule.use_label_column and rule.n_classes == 2
                 and rule.rule != "continuous")
    if not has_pair and not has_label:
        raise ValueError(
            f"No EIH outcome: the data needs {PRE} and {POST}"
            + (f", or {LABEL}" if rule.use_label_column else "")
            + " to train a model."
        )
    n = len(frame)
    y = np.full(n, np.nan)
    if has_pair:
        pre = frame[PRE].to_numpy(dtype="float64", na_value=np.nan)
        post = frame[POST].to_numpy(dtype="float64", na_value=np.nan)
        change = post - pre
        with np.errstate(invalid="ignore", divide="ignore"):
            if rule.rule == "continuous":
                y = change.copy()
            elif rule.rule == "no_rise":
                y = np.where(post <= pre, 1.0, 0.0)
            elif rule.rule == "absolute":
                y = np.where(change <= rule.threshold_kpa, 1.0, 0.0)
            elif rule.rule == "relative":
                y = np.where(100.0 * change / pre <= rule.threshold_pct, 1.0, 0.0)
            elif rule.rule == "sem":
                y = np.where(change <= rule.k * rule.sem_kpa, 1.0, 0.0)
            else:
                three = np.where(change > rule.band_kpa, 0.0,
                                 np.where(change < -rule.band_kpa, 2.0, 1.0))
                y = np.minimum(three, 1.0) if rule.binary else three
        y[np.isnan(change)] = np.nan
    if has_label:
        given = frame[LABEL].to_numpy(dtype="float64", na_value=np.nan)
        y = np.where(np.isnan(given), y, given)
    unlabelled = np.flatnonzero(np.isnan(y))
    if len(unlabelled):
        ids = frame["participant_id"].iloc[unlabelled[:5]].tolist() if (
            "participant_id" in frame) else []
        rows = ", ".join(f"row {i + 1}" + (f" ({pid!r})" if ids else "")
                         for i, pid in zip(unlabelled[:5], ids or [None] * 5, strict=False))
        raise ValueError(
            f"{len(unlabelled)} row(s) have no EIH outcome (missing {PRE}/{POST}"
            f"{' and ' + LABEL if rule.use_label_column else ''}): {rows}"
            + (" ..." if len(unlabelled) > 5 else "")
            + ". Fill them or remove them from the training file."
        )
    if rule.rule == "continuous":
        return pd.Series(y, index=frame.index, name="eih_change_kpa")
    return pd.Series(y.astype("int64"), index=frame.index, name=LABEL)
