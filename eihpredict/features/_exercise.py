"""Exercise bout features: modality, intensity, duration and a dose term.

The dose term is intensity-weighted duration, ``exercise_dose = intensity_pct / 100 *
duration_min`` ("intensity-minutes"), so ten minutes at 70 % count as seven minutes of
maximal effort. EIH is larger after isometric and dynamic resistance than after aerobic
exercise (Naugle 2012) and grows with intensity (Tomschi 2024); intensity is stated
relative to the modality's own maximum (% VO2max, HR reserve or MVC), which is why the
modality indicators stay in the model next to the dose.

With ``interactions=True`` (for a per-patient exercise prescription from a
repeated-session or parallel-group study) the transformer also gives each exercise
term (modality indicators, intensity) times each baseline moderator the reviews name for
stratification: CPM efficiency, temporal summation and catastrophizing
(:func:`baseline_moderators`). Without these products a model ranks the exercises the
same way for everyone; with them the best exercise may differ between participants.
"""

from __future__ import annotations

import numpy as np

from ..schema import COLUMN_BY_NAME, QUESTIONNAIRES
from ._base import ContractTransformer, one_hot

__all__ = ["MODERATOR_INPUTS", "ExerciseDoseFeatures", "baseline_moderators"]

#: Contract columns the baseline moderators are computed from.
MODERATOR_INPUTS: tuple[str, ...] = (
    "cpm_test_before_kpa", "cpm_test_after_kpa", "ts_first_nrs", "ts_last_nrs", "pcs_total",
    *QUESTIONNAIRES["pcs"].items)
#: Reference value and scale of each moderator: z = (value - reference) / scale.
MODERATOR_SCALES = {"cpm_pct": (15.0, 20.0), "ts_diff": (1.5, 1.5), "pcs_total": (15.0, 10.0)}


def baseline_moderators(cols) -> dict[str, np.ndarray]:
    """Standardised CPM efficiency, temporal summation and catastrophizing (NaN missing).

    ``cpm_pct = 100 (after - before) / before``, ``ts_diff = last - first``, and the PCS
    total (``pcs_total``, else the answered items pro-rated to 13); each as
    ``(value - reference) / scale`` with the references and scales of
    :data:`MODERATOR_SCALES` (typical values, so the products stay well conditioned).
    A moderator whose inputs are absent is left out.

    Examples
    --------
    >>> z = baseline_moderators({"cpm_test_before_kpa": np.array([300.0]),
    ...                          "cpm_test_after_kpa": np.array([405.0])})
    >>> {k: v.round(2).tolist() for k, v in z.items()}
    {'cpm_pct': [1.0]}
    """
    def get(name):
        return np.asarray(cols[name], dtype="float64") if name in cols else None

    raw = {}
    before, after = get("cpm_test_before_kpa"), get("cpm_test_after_kpa")
    if before is not None and after is not None:
        raw["cpm_pct"] = 100.0 * (after - before) / before
    first, last = get("ts_first_nrs"), get("ts_last_nrs")
    if first is not None and last is not None:
        raw["ts_diff"] = last - first
    items = [get(c) for c in QUESTIONNAIRES["pcs"].items if c in cols]
    total = get("pcs_total")
    if items:
        block = np.column_stack(items)
        answered = (~np.isnan(block)).sum(axis=1)
        prorated = np.where(answered > 0, np.nansum(block, axis=1) / np.maximum(answered, 1)
                            * QUESTIONNAIRES["pcs"].n_items, np.nan)
        total = prorated if total is None else np.where(np.isnan(total), prorated, total)
    if total is not None:
        raw["pcs_total"] = total
    return {name: (values - MODERATOR_SCALES[name][0]) / MODERATOR_SCALES[name][1]
            for name, values in raw.items()}


class ExerciseDoseFeatures(ContractTransformer):
    """Modality indicators, intensity, duration and intensity-minutes.

    Parameters
    ----------
    dose : bool, default=True
        Add ``exercise_dose`` (needs intensity and duration).
    interactions : bool, default=False
        Add ``exercise_<term>_x_<moderator>``: each modality indicator and the intensity
        (minus 60 %, per 10 %) times each baseline moderator present
        (:func:`baseline_moderators`; a missing moderator counts as its reference value
        in the products).
    moderators : bool, default=False
        With ``interactions``, also add the moderators themselves (``cpm_pct_z``,
        ``ts_diff_z``, ``pcs_total_z``, named after their source groups), so a model
        needs no other CPM, TS or PCS features: a small design for a per-patient
        prescription (fewer parameters per event than the full feature groups).

    Attributes
    ----------
    feature_names_out_ : ndarray of str

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"exercise_modality": ["isometric"], "exercise_intensity_pct": [30.0],
    ...                   "exercise_duration_min": [3.0]})
    >>> est = ExerciseDoseFeatures().fit(X)
    >>> list(est.get_feature_names_out())[-1], est.transform(X)[0, -1].round(2)
    ('exercise_dose', np.float64(0.9))
    """

    group = "exercise"

    def __init__(self, dose=True, interactions=False, moderators=False):
        self.dose = dose
        self.interactions = interactions
        self.moderators = moderators

    def _inputs(self):
        own = ("exercise_modality", "exercise_intensity_pct", "exercise_duration_min")
        return (*own, *MODERATOR_INPUTS) if self.interactions else own

    def _terms(self, present) -> list[str]:
        terms = []
        if "exercise_modality" in present:
            terms += [f"modality_{c}" for c in COLUMN_BY_NAME["exercise_modality"].categories]
        if "exercise_intensity_pct" in present:
            terms.append("intensity")
        return terms

    def _required(self):
        return (("exercise_modality",), ("exercise_intensity_pct",), ("exercise_duration_min",))

    def _outputs(self, present):
        out = []
        if "exercise_modality" in present:
            out += [f"exercise_modality_{c}" for c in
                    COLUMN_BY_NAME["exercise_modality"].categories]
        out += [c for c in ("exercise_intensity_pct", "exercise_duration_min") if c in present]
        if self.dose and {"exercise_intensity_pct", "exercise_duration_min"} <= present:
            out.append("exercise_dose")
        if self.interactions:
            moderators = baseline_moderators({c: np.ones(1) for c in present})
            out += [f"exercise_{term}_x_{m}" for term in self._terms(present)
                    for m in moderators]
            if self.moderators:
                out += [f"{m}_z" for m in moderators]
        return out

    def _compute(self, cols, n):
        out = {}
        if "exercise_modality" in cols:
            out.update(one_hot(cols["exercise_modality"],
                               COLUMN_BY_NAME["exercise_modality"].categories,
                               "exercise_modality"))
        for col in ("exercise_intensity_pct", "exercise_duration_min"):
            if col in cols:
                out[col] = cols[col]
        if "exercise_dose" in self.feature_names_out_:
            out["exercise_dose"] = cols["exercise_intensity_pct"] / 100.0 * cols[
                "exercise_duration_min"]
        if self.interactions:
            moderators = {k: np.nan_to_num(v) for k, v in baseline_moderators(cols).items()}
            terms = {}
            if "exercise_modality" in cols:
                terms.update({k.replace("exercise_", "", 1): v for k, v in one_hot(
                    cols["exercise_modality"], COLUMN_BY_NAME["exercise_modality"].categories,
                    "exercise_modality").items()})
            if "exercise_intensity_pct" in cols:
                terms["intensity"] = (cols["exercise_intensity_pct"] - 60.0) / 10.0
            for term, values in terms.items():
                for name, z in moderators.items():
                    out[f"exercise_{term}_x_{name}"] = values * z
            if self.moderators:
                out.update({f"{name}_z": z for name, z in moderators.items()})
        return out
