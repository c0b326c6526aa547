"""EIH label rules: which participants count as having impaired EIH.

The outcome is the change of PPT at the test site, ``change = post - pre`` (kPa), or
``100 * change / pre`` (%). Rules (``docs/domain.md``):

``no_rise`` (default, the contract's rule)
    impaired = 1 when ``post <= pre``.
``absolute``
    impaired = 1 when ``change <= threshold_kpa`` (e.g. a rise under 30 kPa does not count).
``relative``
    impaired = 1 when ``100 * change / pre <= threshold_pct``. Percent change is less
    reliable than absolute change (ICC below about 0.33); a warning says so.
``sem``
    impaired = 1 when ``change <= k * sem_kpa``: no rise beyond k standard errors of
    measurement (k is chosen freely; prefer ``sdc``).
``sdc``
    impaired = 1 when ``change <= SDC``, the smallest detectable change
    ``1.96 * sqrt(2) * SEM`` (about 2.77 SEM), the literature's responder rule based on
    measurement error. SEM is given (``sem_kpa``) or computed from a test-retest ICC and
    the between-person SD (``SEM = sd_kpa * sqrt(1 - icc)``).
``continuous``
    No dichotomising: the label is the change itself (kPa, float). A continuous model
    predicts it and derives P(impaired) = P(change <= ``threshold_kpa``).
``three_class``
    0 = hypoalgesia (``change > band_kpa``), 1 = no change (within the band),
    2 = hyperalgesia (``change < -band_kpa``). For a binary model, ``binary=True``
    maps "no change" and "hyperalgesia" to impaired = 1.

An ``eih_impaired`` column is the label only when the config says so
(``use_label_column: true``: it overrides the rule where present) or when the file has
no pre/post pair to apply the rule to (default ``use_label_column: auto``); with both,
the rule is used and the rows where the column disagrees with it are counted, logged
and reported (:func:`label_report`; training puts them in the metadata and card). A
row with neither the label nor both PPTs has no label: :func:`make_labels` raises a
``ValueError`` naming those rows instead of dropping them.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LabelRule", "label_report", "make_labels", "regression_to_the_mean", "unlabelled"]

logger = logging.getLogger("eihpredict.labels")

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

    rule: Literal["no_rise", "absolute", "relative", "sem", "sdc", "three_class",
                  "continuous"] = "no_rise"
    threshold_kpa: float = 0.0
    threshold_pct: float = 0.0
    k: float = Field(2.0, gt=0)
    sem_kpa: float | None = Field(20.0, gt=0)
    icc: float | None = Field(None, gt=0, lt=1, description="Test-retest ICC (sdc rule).")
    sd_kpa: float | None = Field(None, gt=0, description="Between-person SD (sdc rule).")
    band_kpa: float = Field(20.0, gt=0)
    binary: bool = True
    baseline_is_pre: bool | None = Field(
        None, description="The baseline PPT predictor (ppt_local_kpa) is the same "
        "measurement as eih_ppt_pre_kpa; unset: detected from the data.")
    use_label_column: bool | Literal["auto"] = Field(
        "auto", description="true: an eih_impaired value overrides the rule where present; "
        "false: never used; auto: used only when the file has no pre/post pair."
    )

    @property
    def sdc_kpa(self) -> float:
        """Smallest detectable change, ``1.96 * sqrt(2) * SEM`` (kPa)."""
        if self.icc is not None and self.sd_kpa is not None:
            sem = self.sd_kpa * np.sqrt(1.0 - self.icc)
        elif self.sem_kpa is not None:
            sem = self.sem_kpa
        else:
            raise ValueError("the sdc rule needs sem_kpa, or icc and sd_kpa")
        return float(1.96 * np.sqrt(2.0) * sem)

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
        if self.rule == "sdc":
            return (f"impaired EIH = 1 when post - pre <= SDC = 1.96 x sqrt(2) x SEM = "
                    f"{self.sdc_kpa:.1f} kPa (no rise beyond the smallest detectable change)")
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
    y = _labels_or_nan(frame, rule, warn=True)
    unlabelled = np.flatnonzero(np.isnan(y))
    if len(unlabelled):
        ids = frame["participant_id"].iloc[unlabelled[:5]].tolist() if (
            "participant_id" in frame) else []
        rows = ", ".join(f"row {i + 1}" + (f" ({pid!r})" if ids else "")
                         for i, pid in zip(unlabelled[:5], ids or [None] * 5, strict=False))
        raise ValueError(
            f"{len(unlabelled)} row(s) have no EIH outcome (missing {PRE}/{POST}"
            f"{' and ' + LABEL if rule.use_label_column is not False else ''}): {rows}"
            + (" ..." if len(unlabelled) > 5 else "")
            + ". Fill them or remove them from the training file."
        )
    if rule.rule == "continuous":
        return pd.Series(y, index=frame.index, name="eih_change_kpa")
    return pd.Series(y.astype("int64"), index=frame.index, name=LABEL)


def unlabelled(frame: pd.DataFrame, rule: LabelRule | None = None) -> np.ndarray:
    """Boolean mask of the rows without an EIH outcome under ``rule`` (neither the pre
    and post PPT nor, where the rule allows it, ``eih_impaired``).

    Examples
    --------
    >>> unlabelled(pd.DataFrame({"eih_ppt_pre_kpa": [400.0, None],
    ...                          "eih_ppt_post_kpa": [380.0, 390.0]})).tolist()
    [False, True]
    """
    return np.isnan(_labels_or_nan(frame, rule or LabelRule(), warn=False))


def _labels_or_nan(frame: pd.DataFrame, rule: LabelRule, *, warn: bool) -> np.ndarray:
    """Labels (or changes) as float, NaN where a row has no outcome."""
    has_pair = PRE in frame and POST in frame
    allowed = (LABEL in frame and rule.use_label_column is not False and rule.n_classes == 2
               and rule.rule != "continuous")
    has_label = allowed and (rule.use_label_column is True or not has_pair)
    if not has_pair and not has_label:
        raise ValueError(
            f"No EIH outcome: the data needs {PRE} and {POST}"
            + (f", or {LABEL}" if rule.use_label_column is not False else "")
            + " to train a model."
        )
    y = _rule_only(frame, rule)
    if warn:
        report = label_report(frame, rule, y)
        if report["disagreements"]:
            logger.warning("eih_impaired disagrees with the rule (%s) in %d of %d rows; %s",
                           rule.describe(), report["disagreements"], report["compared"],
                           "the column is used" if has_label else "the rule is used (set "
                           "label.use_label_column: true to use the column)")
    if has_label:
        given = frame[LABEL].to_numpy(dtype="float64", na_value=np.nan)
        y = np.where(np.isnan(given), y, given)
    elif allowed:  # auto: the column answers only where the rule cannot (no pre/post)
        given = frame[LABEL].to_numpy(dtype="float64", na_value=np.nan)
        y = np.where(np.isnan(y), given, y)
    return y


def label_report(frame: pd.DataFrame, rule: LabelRule, by_rule: np.ndarray | None = None
                 ) -> dict:
    """Where the labels come from, and how often an ``eih_impaired`` column disagrees with
    the rule (rows with both).

    Returns ``{"source": ..., "compared": n, "disagreements": k}``.
    """
    has_pair = PRE in frame and POST in frame
    allowed = (LABEL in frame and rule.use_label_column is not False and rule.n_classes == 2
               and rule.rule != "continuous")
    uses_column = allowed and (rule.use_label_column is True or not has_pair)
    source = ("eih_impaired column over the rule" if uses_column and has_pair else
              "eih_impaired column" if uses_column else "rule")
    out = {"source": source, "compared": 0, "disagreements": 0}
    if LABEL not in frame or not has_pair or rule.n_classes != 2 or rule.rule == "continuous":
        return out
    if by_rule is None:
        by_rule = _rule_only(frame, rule)
    given = frame[LABEL].to_numpy(dtype="float64", na_value=np.nan)
    both = ~np.isnan(given) & ~np.isnan(by_rule)
    out["compared"] = int(both.sum())
    out["disagreements"] = int((given[both] != by_rule[both]).sum())
    return out

def _rule_only(frame: pd.DataFrame, rule: LabelRule) -> np.ndarray:
    """The rule's label per row (float; NaN where the pre/post pair is missing or absent)."""
    has_pair = PRE in frame and POST in frame
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
                logger.warning("label rule 'relative': percent change of PPT is less "
                               "reliable than absolute change (ICC below about 0.33)")
                y = np.where(100.0 * change / pre <= rule.threshold_pct, 1.0, 0.0)
            elif rule.rule == "sdc":
                y = np.where(change <= rule.sdc_kpa, 1.0, 0.0)
            elif rule.rule == "sem":
                y = np.where(change <= rule.k * rule.sem_kpa, 1.0, 0.0)
            else:
                three = np.where(change > rule.band_kpa, 0.0,
                                 np.where(change < -rule.band_kpa, 2.0, 1.0))
                y = np.minimum(three, 1.0) if rule.binary else three
        y[np.isnan(change)] = np.nan
    return y


def regression_to_the_mean(frame: pd.DataFrame, rule: LabelRule | None = None, *,
                           share: float = 0.5) -> dict:
    """Is the baseline PPT predictor the outcome's own pre-exercise measurement?

    Then low baselines "rise" by chance and a useless predictor shows AUROC 0.52-0.60
    for impaired EIH (regression to the mean). Declared in the config
    (``label.baseline_is_pre``) or detected: ``ppt_local_kpa`` equal to
    ``eih_ppt_pre_kpa`` in more than ``share`` of the rows with both.

    Returns ``{"fires": bool, "column": "ppt_local_kpa", "share_equal": float,
    "declared": bool | None}``.

    Examples
    --------
    >>> frame = pd.DataFrame({"ppt_local_kpa": [300.0, 410.0], "eih_ppt_pre_kpa": [300.0, 410.0]})
    >>> regression_to_the_mean(frame)["fires"]
    True
    """
    rule = rule or LabelRule()
    out = {"fires": False, "column": "ppt_local_kpa", "share_equal": 0.0,
           "declared": rule.baseline_is_pre}
    if "ppt_local_kpa" in frame and PRE in frame:
        a = frame["ppt_local_kpa"].to_numpy(dtype="float64", na_value=np.nan)
        b = frame[PRE].to_numpy(dtype="float64", na_value=np.nan)
        both = ~np.isnan(a) & ~np.isnan(b)
        if both.any():
            out["share_equal"] = float(np.isclose(a[both], b[both], rtol=0, atol=1e-9).mean())
    out["fires"] = (bool(rule.baseline_is_pre) if rule.baseline_is_pre is not None
                    else out["share_equal"] > share)
    return out
