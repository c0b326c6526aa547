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

Which measurement the outcome is (contract v2 design columns, ``docs/contract.md``) is
part of the rule: ``measure`` (``ppt``, ``heat`` threshold or ``suprathreshold`` pain
rating), ``site`` (PPT: ``local``, ``remote``, ``semilocal``), ``time`` (the post time
point: ``post``, ``post15``, ``post30``), ``trials`` (how the 1-3 trials of a site and
time point are combined: ``mean`` of the available trials, the default, ``median`` or
``first``) and ``control`` (``none``, or ``rest``: the change in the quiet-rest session
is subtracted, EIH = exercise change - rest change). Every rule reads the *hypoalgesic
change*: post - pre for thresholds (PPT kPa, heat deg C; a rise is hypoalgesia) and pre -
post for ratings (a fall in rating is hypoalgesia), so "impaired" always means no
hypoalgesia and thresholds (``threshold_kpa``, ``sem_kpa``, ``band_kpa``) are in the
measure's unit. The v1 columns ``eih_ppt_pre_kpa``/``eih_ppt_post_kpa`` are the local
site at ``pre`` and ``post``; where the local trial columns are given they are used and
the v1 value fills only rows without any trial.

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
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .schema import DESIGN_TIMES, MAX_TRIALS, design_column

__all__ = ["LabelRule", "OutcomeInput", "hypoalgesic_change", "label_report", "make_labels",
           "outcome_inputs", "regression_to_the_mean", "unlabelled"]

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
    measure: Literal["ppt", "heat", "suprathreshold"] = Field(
        "ppt", description="Outcome measure: PPT (kPa), heat pain threshold (deg C) or "
        "suprathreshold pain rating (0-100; a fall is hypoalgesia).")
    site: Literal["local", "remote", "semilocal"] = Field(
        "local", description="PPT site of the outcome (local = the exercising muscle).")
    time: Literal["post", "post15", "post30"] = Field(
        "post", description="Post-exercise time point compared with pre.")
    trials: Literal["mean", "median", "first"] = Field(
        "mean", description="How a site and time point's 1-3 trials are combined: mean "
        "(or median) of the available trials, or trial 1 only.")
    control: Literal["none", "rest"] = Field(
        "none", description="rest: subtract the quiet-rest session's change "
        "(EIH = exercise change - rest change).")

    @model_validator(mode="after")
    def _site_is_for_ppt(self):
        if self.measure != "ppt" and self.site != "local":
            raise ValueError(f"site {self.site!r} is for measure ppt; heat thresholds and "
                             "suprathreshold ratings have no site columns")
        return self

    @property
    def is_v1_outcome(self) -> bool:
        """The contract v1 outcome: local PPT, pre vs the first post test, no control."""
        return (self.measure, self.site, self.time, self.control) == (
            "ppt", "local", "post", "none")

    @property
    def unit(self) -> str:
        """Unit of the change and of the rule's thresholds."""
        return {"ppt": "kPa", "heat": "deg C", "suprathreshold": "rating points"}[
            self.measure]

    def outcome_definition(self) -> str:
        """The outcome measurement in one sentence (model card and metadata).

        Examples
        --------
        >>> LabelRule(site="remote", time="post15", control="rest").outcome_definition()
        ... # doctest: +NORMALIZE_WHITESPACE
        'PPT at the remote site, before the bout vs 15 min after it, mean of the available
        trials; change = post - pre (kPa), minus the same change in the quiet-rest session'
        """
        name = {"ppt": f"PPT at the {self.site} site", "heat": "heat pain threshold",
                "suprathreshold": "suprathreshold pain rating (0-100)"}[self.measure]
        when = {"post": "the first test after it", "post15": "15 min after it",
                "post30": "30 min after it"}[self.time]
        trials = {"mean": "mean of the available trials", "median":
                  "median of the available trials", "first": "trial 1 only"}[self.trials]
        sign = ("pre - post (rating points; a fall in rating is hypoalgesia)"
                if self.measure == "suprathreshold" else f"post - pre ({self.unit})")
        text = f"{name}, before the bout vs {when}"
        if self.measure == "ppt":
            text += f", {trials}"
        text += f"; change = {sign}"
        if self.control == "rest":
            text += ", minus the same change in the quiet-rest session"
        return text

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
        """The rule in one sentence (for the model card and metadata); an outcome other
        than the v1 one (local PPT, first post test, no control) is stated first."""
        text = self._describe_rule()
        if self.is_v1_outcome:
            return text
        unit = self.unit
        text = (text.replace(f"{POST} <= {PRE} (no rise in PPT)", "change <= 0 (no "
                             "hypoalgesia)").replace("the PPT change post - pre (kPa)",
                                                     "the change").replace(" kPa", f" {unit}")
                .replace("post - pre", "change"))
        return f"outcome: {self.outcome_definition()}; {text}"

    def _describe_rule(self) -> str:
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


@dataclass(frozen=True)
class OutcomeInput:
    """One value the outcome needs per row (e.g. the exercise session's pre PPT).

    ``trials`` are the design columns combined by the rule's trial rule; ``fallback`` a
    v1 column that fills rows without any trial value.
    """

    role: str
    trials: tuple[str, ...]
    fallback: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column that can give this value."""
        return (*self.trials, *((self.fallback,) if self.fallback else ()))

    def present(self, columns) -> bool:
        return any(c in columns for c in self.columns)

    def display(self) -> str:
        """How a message names the input (the v1 column where there is one)."""
        if self.fallback:
            return self.fallback
        if len(self.trials) == 1:
            return self.trials[0]
        return "any of (" + ", ".join(self.trials) + ")"

    def values(self, frame: pd.DataFrame, trials: str = "mean") -> np.ndarray:
        """The input's value per row (float; NaN where no column gives one)."""
        n = len(frame)
        given = [c for c in self.trials if c in frame]
        if trials == "first":
            given = given[:1] if given and given[0] == self.trials[0] else []
        if given:
            block = np.column_stack([frame[c].to_numpy(dtype="float64", na_value=np.nan)
                                     for c in given])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN
                out = (np.nanmedian(block, axis=1) if trials == "median"
                       else np.nanmean(block, axis=1))
        else:
            out = np.full(n, np.nan)
        if self.fallback and self.fallback in frame:
            v1 = frame[self.fallback].to_numpy(dtype="float64", na_value=np.nan)
            out = np.where(np.isnan(out), v1, out)
        return out


def outcome_inputs(rule: LabelRule | None = None) -> list[OutcomeInput]:
    """The values the rule's outcome needs: pre and post of the exercise session, and of
    the quiet-rest session when ``control`` is ``rest``.

    Examples
    --------
    >>> [i.display() for i in outcome_inputs()]
    ['eih_ppt_pre_kpa', 'eih_ppt_post_kpa']
    >>> [i.display() for i in outcome_inputs(LabelRule(measure="heat", control="rest"))]
    ['eih_hpt_pre_c', 'eih_hpt_post_c', 'rest_hpt_pre_c', 'rest_hpt_post_c']
    """
    rule = rule or LabelRule()
    sessions = ("eih", "rest") if rule.control == "rest" else ("eih",)
    out = []
    for session in sessions:
        for time in ("pre", rule.time):
            if rule.measure == "ppt":
                trials = tuple(design_column("ppt", session, time, rule.site, k)
                               for k in range(1, MAX_TRIALS + 1))
            else:
                trials = (design_column(rule.measure, session, time),)
            fallback = None
            if session == "eih" and rule.measure == "ppt" and rule.site == "local" and (
                    time in ("pre", "post")):
                fallback = PRE if time == "pre" else POST
            label = "exercise" if session == "eih" else "quiet-rest"
            out.append(OutcomeInput(f"{label} {time}", trials, fallback))
    assert all(t in DESIGN_TIMES for t in ("pre", rule.time))
    return out


def _has_outcome_columns(frame, rule: LabelRule) -> bool:
    return all(i.present(frame) for i in outcome_inputs(rule))


def hypoalgesic_change(frame: pd.DataFrame, rule: LabelRule | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the hypoalgesic change of the rule's outcome and the exercise pre value.

    The change is post - pre for thresholds and pre - post for ratings (positive =
    hypoalgesia), minus the quiet-rest session's change when ``control`` is ``rest``;
    NaN where a value is missing (or the columns are absent).

    Examples
    --------
    >>> frame = pd.DataFrame({"eih_spr_pre_nrs": [60.0], "eih_spr_post_nrs": [45.0],
    ...                       "rest_spr_pre_nrs": [60.0], "rest_spr_post_nrs": [55.0]})
    >>> rule = LabelRule(measure="suprathreshold", control="rest")
    >>> hypoalgesic_change(frame, rule)[0].tolist()  # (60 - 45) - (60 - 55)
    [10.0]
    """
    rule = rule or LabelRule()
    values = [i.values(frame, rule.trials) for i in outcome_inputs(rule)]
    sign = -1.0 if rule.measure == "suprathreshold" else 1.0
    change = sign * (values[1] - values[0])
    if rule.control == "rest":
        change = change - sign * (values[3] - values[2])
    return change, values[0]


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
        needed = "/".join(i.display() for i in outcome_inputs(rule))
        raise ValueError(
            f"{len(unlabelled)} row(s) have no EIH outcome (missing {needed}"
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
    has_pair = _has_outcome_columns(frame, rule)
    allowed = (LABEL in frame and rule.use_label_column is not False and rule.n_classes == 2
               and rule.rule != "continuous")
    has_label = allowed and (rule.use_label_column is True or not has_pair)
    if not has_pair and not has_label:
        inputs = outcome_inputs(rule)
        lacks = [i.display() for i in inputs if not i.present(frame)]
        raise ValueError(
            "No EIH outcome: the data needs " + " and ".join(i.display() for i in inputs)
            + (f", or {LABEL}" if rule.use_label_column is not False else "")
            + " to train a model"
            + ("" if rule.is_v1_outcome else
               f" (outcome: {rule.outcome_definition()}; missing {'; '.join(lacks)})")
            + "."
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
    has_pair = _has_outcome_columns(frame, rule)
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
    """The rule's label per row (float; NaN where the outcome's values are missing)."""
    n = len(frame)
    y = np.full(n, np.nan)
    if _has_outcome_columns(frame, rule):
        change, pre = hypoalgesic_change(frame, rule)
        with np.errstate(invalid="ignore", divide="ignore"):
            if rule.rule == "continuous":
                y = change.copy()
            elif rule.rule == "no_rise":
                y = np.where(change <= 0, 1.0, 0.0)
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
    (``label.baseline_is_pre``) or detected: the outcome site's baseline predictor
    (``ppt_local_kpa``; ``ppt_remote_kpa`` for a remote-site outcome) equal to the
    outcome's pre-exercise PPT (``eih_ppt_pre_kpa``, one of its trial columns, or their
    combination) in more than ``share`` of the rows with both. A heat or rating outcome
    is not a PPT, so detection does not fire for it.

    Returns ``{"fires": bool, "column": "ppt_local_kpa", "share_equal": float,
    "declared": bool | None}``.

    Examples
    --------
    >>> frame = pd.DataFrame({"ppt_local_kpa": [300.0, 410.0], "eih_ppt_pre_kpa": [300.0, 410.0]})
    >>> regression_to_the_mean(frame)["fires"]
    True
    """
    rule = rule or LabelRule()
    baseline = {"local": "ppt_local_kpa", "remote": "ppt_remote_kpa"}.get(rule.site)
    out = {"fires": False, "column": baseline or "ppt_local_kpa", "share_equal": 0.0,
           "declared": rule.baseline_is_pre}
    if rule.measure == "ppt" and baseline in frame:
        pre = outcome_inputs(rule)[0]
        a = frame[baseline].to_numpy(dtype="float64", na_value=np.nan)
        # The baseline may be one trial of the pre measurement, or their combination.
        candidates = [frame[c].to_numpy(dtype="float64", na_value=np.nan)
                      for c in pre.columns if c in frame]
        if pre.trials and any(c in frame for c in pre.trials):
            candidates.append(pre.values(frame, rule.trials))
        for b in candidates:
            both = ~np.isnan(a) & ~np.isnan(b)
            if both.any():
                equal = float(np.isclose(a[both], b[both], rtol=0, atol=1e-9).mean())
                out["share_equal"] = max(out["share_equal"], equal)
    out["fires"] = (bool(rule.baseline_is_pre) if rule.baseline_is_pre is not None
                    else out["share_equal"] > share)
    return out
