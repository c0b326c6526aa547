"""Literature-calibrated simulator of EIH cohorts with known ground truth.

No public individual-level EIH data set exists, so this simulator is the demo data,
the test data and the yardstick. It writes cohorts in the contract
(:mod:`eihpredict.schema`) whose marginal figures follow ``docs/domain.md`` (see the
calibration table in docs/simulator.md and ``tests/test_simulate_calibration.py``), and an EIH
outcome drawn from a documented generating model, so each row's exact probability of
impaired EIH is known.

Generating model
----------------
Seven correlated latent traits (pain sensitivity, catastrophizing, fear of movement,
anxiety, depression, CPM efficiency, TS facilitation) are shifted by pain population
and drive the measured columns: PPTs (log-normal, sex-specific), CPM, TS, and
questionnaire items (ordinal responses, TSK's reverse-keyed items answered in
reverse, about 2 % of items missing at random).

The true EIH change at the test site (kPa) is ``mu(x) + u``, ``u ~ N(0, sd_u)``; the
PPT is measured before and after the bout with independent ``N(0, 20 kPa)`` errors
(Mailloux 2021). Hence, under the default label rule (impaired = post <= pre),

    P(impaired | x) = Phi(-mu(x) / sqrt(sd_u**2 + 2 * 20**2)),

which is written to the truth file. ``mu(x)`` (see :func:`_eih_mean`) uses the
measured, complete-case values of the columns a model sees:

* ``exercise``: modality means giving Naugle 2012's healthy effect sizes (aerobic
  0.41, isometric 1.02, dynamic resistance 0.83), plus an intensity dose term;
* ``cpm``: more inhibition -> more EIH, twice as strong in women (sex x CPM);
* ``ts``: more facilitation -> less EIH, steeper above the median (nonlinear);
* ``pcs``: more catastrophizing -> less EIH, with a step at the clinical cut-off 30;
* ``hads``: more depression and anxiety -> less EIH;
* ``ppt``: a lower sex-normalised baseline PPT -> less EIH;
* ``sex``: a small main effect; ``population``: chronic pain lowers EIH directly.

``tsk``, ``age``, ``bmi``, ``pain``, ``physical_activity`` and ``site`` have no direct
effect (null groups), although TSK correlates with PCS and age with population, as
in real cohorts. Scenarios:

``default``
    Clear signal (about two thirds of the variance of the measured change explained).
``realistic``
    Predictors explain about 20-25 % of the variance, as published cohorts do.
``multisite``
    ``realistic`` effects; four sites differing in case mix and algometer offset
    (all PPTs scaled by a site factor), one site keeping questionnaire totals only.
    The truth uses the offset-free values, so it is the oracle that knows the offsets.
``heteroscedastic``
    ``realistic`` effects, but the unexplained variation of the change differs by
    population: SD x 0.8 in healthy people, x 1.15 in each chronic-pain group and x 1.3
    in fibromyalgia (controls vary less than patients: SD 41 vs 61 kPa in Vaegter
    2021's lifting task). The truth uses each row's own SD.
``null``
    The outcome is independent of every column: the truth is constant.

Study designs
-------------
``design="v1"`` (the default) writes the v1 outcome, ``eih_ppt_pre_kpa`` and
``eih_ppt_post_kpa``. ``design="full"`` writes the contract v2 design columns instead
(same participants and predictors): PPT at the local, semilocal and remote sites before
the bout, immediately after it and 15 min later, three trials each (trial 3 missing in
about 20 % of cells), in an exercise and a quiet-rest session, and heat pain thresholds
and suprathreshold pain ratings at the same time points. Its generating model splits
the exercise session's change ``mu(x) + u`` into a non-specific part ``h`` (habituation
to repeated testing and expectation, between-person SD 15 kPa, the part a matched
quiet-rest session shows too) and the exercise-specific part ``S``:

* rest session change ``h_rest ~ N(H_m, 15)``, exercise session ``h + lambda_t * S`` with
  ``H_m`` set per modality protocol (aerobic +8, dynamic resistance +50, isometric +76
  kPa), so that the uncontrolled figures stay Naugle 2012's (which include habituation)
  while the rest-controlled effects follow Wewege & Jones 2021 (aerobic clearest,
  isometric weakest); this split is the simulator's assumption, not a published figure;
* the specific part decays: ``lambda`` = 1 immediately, 0.5 at +15 min;
* sites scale every change: local 1, semilocal 0.8, remote 18/31 (Tomschi 2024: aerobic
  +31 kPa local, +18 kPa remote);
* every PPT trial has its own ``N(0, 20 kPa)`` error, so averaging trials reduces it;
* heat thresholds rise 0.015 deg C per kPa of that change (plus ``N(0, 0.4)`` per change,
  0.7 deg C error per measurement); suprathreshold ratings fall 0.15 points per kPa (plus
  ``N(0, 4)``, 7 points error).

Extra measures
--------------
``extras=`` adds measures that default cohorts do not have, so every figure computed
from a default cohort stays as it was: the instruments not simulated by default (PROMIS
anxiety/depression 4a, PSEQ-10, CSI-25, STAI-Y2, PHQ-9, GAD-7; each answered from a
latent trait through its declaration's simulator hook: PROMIS, PHQ-9, GAD-7 and STAI
from the HADS traits, PSEQ from a self-efficacy trait that falls with fear and
catastrophizing, CSI from a central-sensitisation trait built from pain sensitivity, TS
and anxiety) and ``cpm_rating``, CPM as 0-100 pain ratings of a test stimulus before and
during conditioning drawn from the same latent CPM efficiency as the PPT form (the
rating falls by as many per cent as the PPT rises, each rating with an error of SD 4
points, whole numbers). They draw from a random stream of their own and enter no
outcome: they carry signal only through the latent traits they share with the measured
predictors (their instruments are not in the truth's ``true_groups``).

Every part is Gaussian, so the truth gives each row's exact P(impaired) for the outcome
passed as ``outcome`` (a :class:`eihpredict.labels.LabelRule`: any measure, site, time and
control; trial rules ``mean`` and ``first``; rules that compare the change with a fixed
threshold). It is not exact for the trial rule ``median`` or the ``relative`` rule
(refused), nor, in a few rows per hundred thousand, where a value was capped at its
contract range (heat 30-52 deg C, ratings 0-100, PPT 1-2000 kPa).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .instruments import INSTRUMENTS, iter_instruments
from .labels import LabelRule
from .schema import COLUMNS, QUESTIONNAIRES, design_column
from .sessions import option_labels

__all__ = ["CROSSOVER_OPTIONS", "DESIGNS", "SCENARIOS", "Scenario", "SimulatedCohort",
           "simulate_cohort", "simulate_crossover",
           "write_truth"]

POPULATIONS = (
    "healthy", "chronic_low_back_pain", "knee_osteoarthritis", "chronic_neck_pain",
    "fibromyalgia", "other_chronic_pain",
)
TRAITS = ("sensitivity", "catastrophizing", "fear", "anxiety", "depression", "cpm", "ts")
_TRAIT_CORR = np.array([
    # sens  cat   fear  anx   dep   cpm    ts
    [1.00, 0.20, 0.10, 0.15, 0.10, -0.15, 0.25],
    [0.20, 1.00, 0.45, 0.40, 0.40, -0.10, 0.15],
    [0.10, 0.45, 1.00, 0.30, 0.25, 0.00, 0.05],
    [0.15, 0.40, 0.30, 1.00, 0.55, -0.05, 0.10],
    [0.10, 0.40, 0.25, 0.55, 1.00, -0.05, 0.10],
    [-0.15, -0.10, 0.00, -0.05, -0.05, 1.00, -0.20],
    [0.25, 0.15, 0.05, 0.10, 0.10, -0.20, 1.00],
])
# Latent shifts (SD units) by population, in TRAITS order. CPM -0.75 in chronic pain
# follows Lewis 2012 (effect size 0.78); fibromyalgia shows the largest shifts.
_TRAIT_SHIFT = {
    "healthy": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "chronic_low_back_pain": (0.5, 0.8, 0.8, 0.5, 0.5, -0.9, 0.6),
    "knee_osteoarthritis": (0.4, 0.6, 0.7, 0.3, 0.4, -0.8, 0.5),
    "chronic_neck_pain": (0.5, 0.7, 0.6, 0.5, 0.5, -0.9, 0.5),
    "fibromyalgia": (1.4, 1.2, 0.9, 0.9, 0.9, -1.2, 1.0),
    "other_chronic_pain": (0.5, 0.7, 0.7, 0.5, 0.5, -0.9, 0.6),
}
_FEMALE_SHARE = dict(zip(POPULATIONS, (0.5, 0.55, 0.6, 0.65, 0.9, 0.6), strict=True))
_AGE = dict(zip(POPULATIONS, ((35, 12), (45, 12), (63, 8), (44, 11), (48, 10), (47, 12)),
                strict=True))
# Mean baseline PPT (kPa) by sex at the exercising (quadriceps) and remote (hand) site:
# vastus lateralis about 560 vs 440 kPa (docs/domain.md), hand 427 vs 305 kPa (Chesterton 2003).
PPT_MEAN = {"local": {"male": 560.0, "female": 440.0}, "remote": {"male": 427.0, "female": 305.0}}
PPT_LOG_SD = 0.38  # SD about 35-50 % of the mean
PPT_CEILING_KPA = 2000.0  # the algometer stops here; readings are capped (a few per million)
MEASUREMENT_SD_KPA = 20.0  # between-measurement error (Mailloux 2021)
# Healthy mean EIH change (kPa) at the reference dose, and the SD of the measured change
# in healthy people, chosen so mean/SD gives Naugle 2012's effect sizes.
MODALITY_MEAN = {"aerobic": 33.0, "isometric": 81.0, "dynamic_resistance": 66.0}
MODALITY_INTENSITY = {"aerobic": (50, 80, 65), "isometric": (20, 50, 35),
                      "dynamic_resistance": (50, 80, 65)}
MODALITY_DURATION = {"aerobic": (10, 30), "isometric": (1, 5), "dynamic_resistance": (5, 20)}
# -- Study designs (design="full"; see the module docstring) --------------------------
DESIGNS = ("v1", "full")
#: Non-specific change (kPa, local site) in a session matched to each modality's protocol.
HABITUATION_KPA = {"aerobic": 8.0, "isometric": 76.0, "dynamic_resistance": 50.0}
HABITUATION_NULL_KPA = 8.0  # the null scenario: the same for every modality
HABITUATION_SD_KPA = 15.0
SITE_FRACTION = {"local": 1.0, "semilocal": 0.8, "remote": 18.0 / 31.0}
TIME_FRACTION = {"post": 1.0, "post15": 0.5}
DESIGN_SITES_SIMULATED = ("local", "semilocal", "remote")
DESIGN_TRIALS = 3
TRIAL3_MISSING = 0.2
HEAT_C_PER_KPA, HEAT_SD_C, HEAT_MEASUREMENT_SD_C = 0.015, 0.4, 0.7
SPR_PER_KPA, SPR_SD, SPR_MEASUREMENT_SD = 0.15, 4.0, 7.0
TRUE_GROUPS = ("cpm", "ts", "pcs", "hads", "ppt", "exercise", "sex", "population")
NULL_GROUPS = ("tsk", "age", "bmi", "pain", "physical_activity", "site")


@dataclass(frozen=True)
class Scenario:
    """Settings of one simulation scenario (see the module docstring)."""

    name: str
    signal: float
    sd_unexplained: float
    population_mix: tuple[float, ...]
    sites: tuple[str, ...] = ("site_1", "site_2", "site_3")
    site_ppt_factor: tuple[float, ...] = (1.0, 1.0, 1.0)
    site_mix: tuple[tuple[float, ...], ...] | None = None
    totals_only_sites: tuple[str, ...] = ()
    null: bool = False
    description: str = ""
    #: Per population (``POPULATIONS`` order), the factor on ``sd_unexplained``
    #: (``None``: the same SD in every population).
    population_sd_factor: tuple[float, ...] | None = None

    def sd_unexplained_of(self, pop_idx: np.ndarray) -> np.ndarray:
        """Each row's SD of the unexplained change (kPa)."""
        if self.population_sd_factor is None:
            return np.full(len(pop_idx), float(self.sd_unexplained))
        return self.sd_unexplained * np.asarray(self.population_sd_factor)[pop_idx]


_MIX = (0.40, 0.20, 0.12, 0.10, 0.10, 0.08)
SCENARIOS: dict[str, Scenario] = {
    "default": Scenario("default", 1.5, 35.0, _MIX,
                        description="clear signal: most of the EIH variance is explained"),
    "realistic": Scenario("realistic", 0.9, 70.0, _MIX,
                          description="predictors explain about 20-25 % of EIH variance"),
    "multisite": Scenario(
        "multisite", 0.9, 70.0, _MIX,
        sites=("site_a", "site_b", "site_c", "site_d"),
        site_ppt_factor=(0.88, 1.0, 1.08, 1.15),
        site_mix=((0.75, 0.1, 0.05, 0.05, 0.0, 0.05), (0.4, 0.25, 0.15, 0.1, 0.05, 0.05),
                  (0.2, 0.3, 0.2, 0.1, 0.1, 0.1), (0.1, 0.2, 0.1, 0.15, 0.35, 0.1)),
        totals_only_sites=("site_c",),
        description="sites differ in case mix and algometer offset; one keeps totals only",
    ),
    "heteroscedastic": Scenario(
        "heteroscedastic", 0.9, 70.0, _MIX,
        population_sd_factor=(0.8, 1.15, 1.15, 1.15, 1.3, 1.15),
        description="realistic effects; chronic-pain groups vary more than healthy people"),
    "null": Scenario("null", 0.0, 75.0, _MIX, null=True,
                     description="outcome independent of every predictor"),
}


@dataclass
class SimulatedCohort:
    """A simulated cohort and its ground truth.

    Attributes
    ----------
    frame : DataFrame
        The cohort, in the contract (with ``eih_ppt_pre_kpa``/``eih_ppt_post_kpa``).
    p_impaired : ndarray
        Each row's exact probability of impaired EIH under the default label rule.
    truth : dict
        Scenario, seed, true and null predictor groups, generating-model constants.
    """

    frame: pd.DataFrame
    p_impaired: np.ndarray
    truth: dict[str, Any] = field(default_factory=dict)


def simulate_cohort(n: int, seed: int = 0, scenario: str = "default", *,
                    design: str = "v1", outcome: LabelRule | None = None,
                    extras: Iterable[str] = ()) -> SimulatedCohort:
    """Simulate ``n`` participants under a scenario, deterministically for a seed.

    Parameters
    ----------
    n : int
        Number of participants (rows).
    seed : int
        Random seed; the same seed and scenario always give the same cohort.
    scenario : {"default", "realistic", "multisite", "null"}
    design : {"v1", "full"}
        ``v1``: the v1 outcome columns; ``full``: the contract v2 design columns (sites,
        trials, two post time points, a quiet-rest session, heat and ratings), the
        predictors unchanged (module docstring, "Study designs").
    outcome : LabelRule, optional
        The outcome whose exact P(impaired) the truth gives (``design="full"``; the v1
        design has only the default outcome and rule). Default: the contract's rule.
    extras : iterable of str
        Measures written on request only, so that default cohorts (and every figure
        computed from them) stay as they were: any instrument not simulated by default
        (``promis_anx``, ``promis_dep``, ``pseq``, ``csi``, ``stai_trait``, ``phq9``,
        ``gad7``, or one registered later with a simulator hook), ``cpm_rating`` (CPM as
        pain ratings of a test stimulus, from the same latent CPM efficiency), or
        ``all``. They come from a random stream of their own, so every other column is
        the same with or without them (module docstring, "Extra measures").

    Returns
    -------
    SimulatedCohort

    Examples
    --------
    >>> cohort = simulate_cohort(200, seed=1)
    >>> cohort.frame.shape[0], bool(((cohort.p_impaired > 0) & (cohort.p_impaired < 1)).all())
    (200, True)
    >>> sorted(cohort.truth["true_groups"])[:3]
    ['cpm', 'exercise', 'hads']
    """
    if scenario not in SCENARIOS:
        raise ValueError(
            f"Got scenario={scenario!r}; expected one of {', '.join(SCENARIOS)}."
        )
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"Got n={n!r}; expected a positive integer.")
    if design not in DESIGNS:
        raise ValueError(f"Got design={design!r}; expected one of {', '.join(DESIGNS)}.")
    if design == "v1" and outcome is not None and outcome != LabelRule():
        raise ValueError("design='v1' has only the v1 outcome (local PPT, no_rise); use "
                         "design='full' for another outcome")
    if design == "full":
        _design_threshold(outcome or LabelRule())  # refuse an inexact truth up front
    sc = SCENARIOS[scenario]
    rng = np.random.default_rng(seed)
    n = int(n)

    # Site and population (case mix may differ by site).
    site_idx = rng.integers(0, len(sc.sites), n)
    if sc.site_mix is None:
        pop_idx = rng.choice(len(POPULATIONS), size=n, p=np.array(sc.population_mix))
    else:
        cum = np.cumsum(np.array(sc.site_mix), axis=1)[site_idx]
        pop_idx = (rng.random(n)[:, None] > cum).sum(axis=1)
    population = np.array(POPULATIONS)[pop_idx]
    healthy = pop_idx == 0
    female = rng.random(n) < np.array([_FEMALE_SHARE[p] for p in POPULATIONS])[pop_idx]
    sex = np.where(female, "female", "male")

    age_mu, age_sd = (np.array([_AGE[p][k] for p in POPULATIONS])[pop_idx] for k in (0, 1))
    age = np.clip(np.round(rng.normal(age_mu, age_sd)), 18, 90)
    bmi = np.round(np.clip(np.exp(rng.normal(np.log(np.where(pop_idx == 2, 28.5, 25.5)),
                                             0.15, n)), 15, 60), 1)
    # log-normal, median 4 years; never longer than the participant has lived (the tail
    # reached 124 years in about 1 of 50,000 rows, past the contract's 1,200 months)
    pain_duration = np.where(healthy, 0.0, np.minimum(
        np.round(np.exp(rng.normal(np.log(48), 0.8, n)), 1), 12.0 * age))
    pain_intensity = np.where(healthy, 0.0, np.clip(np.round(rng.normal(5.0, 1.8, n)), 0, 10))
    pa_median = np.where(healthy, 2000.0, np.where(pop_idx == 4, 900.0, 1400.0))
    activity = np.clip(np.round(np.exp(rng.normal(np.log(pa_median), 0.7))), 0, 20000)

    # Latent traits, correlated, shifted by population.
    z = rng.standard_normal((n, len(TRAITS))) @ np.linalg.cholesky(_TRAIT_CORR).T
    z += np.array([_TRAIT_SHIFT[p] for p in POPULATIONS])[pop_idx]
    sens, catas, fear, anx, dep, cpm_eff, ts_fac = z.T

    # Pressure pain thresholds (true values, before site offsets and measurement error).
    def ppt_true(site: str, shared: np.ndarray) -> np.ndarray:
        mean = np.where(female, PPT_MEAN[site]["female"], PPT_MEAN[site]["male"])
        median = mean / np.exp(PPT_LOG_SD**2 / 2)
        # The lower tail of sensitivity is cut at -2.5 SD so the thresholds stay under
        # the algometer's 2000 kPa ceiling (the contract's upper bound).
        return median * np.exp(-PPT_LOG_SD * np.clip(shared, -2.5, None))

    shared = sens - 0.5 * _sensitivity_shift(pop_idx)
    local_true = ppt_true("local", shared)
    remote_true = ppt_true("remote", 0.85 * shared
                           + 0.53 * rng.standard_normal(n))

    def measure(true: np.ndarray, size: int = n) -> np.ndarray:
        return true * np.exp(rng.normal(0.0, 0.045, size))

    ppt_local = measure(local_true)
    ppt_remote = measure(remote_true)
    cpm_pct_true = 20.0 + 18.0 * cpm_eff
    cpm_before = measure(remote_true)
    cpm_after = measure(remote_true * np.maximum(1.0 + cpm_pct_true / 100.0, 0.3))
    paradigm = np.where(rng.random(n) < 0.6, "parallel", "sequential")
    conditioning = np.array(["cold_pressor", "cuff_pressure", "hot_water", "ischemic"])[
        rng.choice(4, size=n, p=[0.55, 0.3, 0.1, 0.05])]

    ts_first = np.clip(np.round(rng.normal(3.0 + 0.6 * sens, 1.2)), 0, 10)
    ts_last = np.clip(np.round(ts_first + 1.2 + 1.2 * ts_fac + rng.normal(0, 0.6, n)), 0, 10)
    ts_single = np.clip(np.round(12.0 * np.exp(0.3 * sens + rng.normal(0, 0.3, n)), 1), 1, 100)
    ts_series = np.clip(np.round(ts_single * np.exp(0.7 + 0.3 * ts_fac + rng.normal(0, 0.15, n)),
                                 1), 0, 100)

    latent = dict(zip(TRAITS, z.T, strict=True))
    items: dict[str, np.ndarray] = {}
    for inst in iter_instruments(simulated_by_default=True):  # declaration order: pcs,
        items.update(inst.simulate(rng, latent))                # tsk, hads (v1 draws)
    hads_items = INSTRUMENTS["hads"].items
    pcs_total = sum(items[c] for c in INSTRUMENTS["pcs"].items)
    hads_anx = sum(items[c] for c in hads_items[0::2])
    hads_dep = sum(items[c] for c in hads_items[1::2])

    modality_names = np.array(list(MODALITY_MEAN))
    modality = modality_names[rng.choice(3, size=n, p=[0.45, 0.30, 0.25])]
    lo, hi, _ = (np.array([MODALITY_INTENSITY[m][k] for m in modality]) for k in range(3))
    intensity = np.round(rng.uniform(lo, hi))
    dlo, dhi = (np.array([MODALITY_DURATION[m][k] for m in modality]) for k in range(2))
    duration = np.round(rng.uniform(dlo, dhi) * 2) / 2

    columns = {
        "cpm_pct": 100.0 * (cpm_after - cpm_before) / cpm_before,
        "ts_diff": ts_last - ts_first,
        "pcs_total": pcs_total, "hads_anxiety": hads_anx, "hads_depression": hads_dep,
        "ppt_local_kpa": ppt_local, "female": female, "pop_idx": pop_idx,
        "modality": modality, "intensity": intensity,
    }
    mu = _eih_mean(columns, sc)
    sd_u = sc.sd_unexplained_of(pop_idx)
    sd_total = np.sqrt(sd_u**2 + 2 * MEASUREMENT_SD_KPA**2)
    p_impaired = ndtr(-mu / sd_total)

    pre_true = local_true * np.exp(rng.normal(0, 0.02, n))  # same site, session drift
    delta_true = mu + rng.normal(0.0, 1.0, n) * sd_u
    pre = pre_true + rng.normal(0.0, MEASUREMENT_SD_KPA, n)
    post = pre_true + delta_true + rng.normal(0.0, MEASUREMENT_SD_KPA, n)
    # Keep PPTs positive and under the device ceiling: this touches a few rows per
    # million, where the truth's probability is then off by the capped share.
    pre, post = np.maximum(pre, 1.0), np.maximum(post, 1.0)
    ceiling = PPT_CEILING_KPA / np.array(sc.site_ppt_factor)[site_idx]
    ppt_local, ppt_remote, cpm_before, cpm_after, pre, post = (
        np.minimum(v, ceiling) for v in (ppt_local, ppt_remote, cpm_before, cpm_after, pre, post)
    )

    factor = np.array(sc.site_ppt_factor)[site_idx]
    frame = pd.DataFrame({
        "participant_id": [f"{scenario[:3]}{seed}-{i:07d}" for i in range(1, n + 1)],
        "site": np.array(sc.sites)[site_idx],
        "population": population,
        "sex": sex,
        "age_years": age,
        "bmi_kg_m2": bmi,
        "pain_duration_months": pain_duration,
        "pain_intensity_nrs": pain_intensity,
        "physical_activity_met_min_week": activity,
        "ppt_local_kpa": np.round(ppt_local * factor, 1),
        "ppt_remote_kpa": np.round(ppt_remote * factor, 1),
        "cpm_test_before_kpa": np.round(cpm_before * factor, 1),
        "cpm_test_after_kpa": np.round(cpm_after * factor, 1),
        "cpm_paradigm": paradigm,
        "cpm_conditioning": conditioning,
        "ts_first_nrs": ts_first,
        "ts_last_nrs": ts_last,
        "ts_single_nrs": ts_single,
        "ts_series_nrs": ts_series,
        **{k: v.astype("float64") for k, v in items.items()},
        "exercise_modality": modality,
        "exercise_intensity_pct": intensity,
        "exercise_duration_min": duration,
        "eih_ppt_pre_kpa": pre * factor,
        "eih_ppt_post_kpa": post * factor,
    })
    _add_missingness(rng, frame, sc)
    extras = _extras(extras)
    if extras:
        extra_rng = np.random.default_rng([int(seed), 3])
        frame = _add_extra_measures(extra_rng, frame, sc, extras, dict(zip(TRAITS, z.T,
                                                                          strict=True)),
                                    cpm_pct_true)
    design_truth: dict[str, Any] = {}
    if design == "full":
        frame = frame.drop(columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
        columns, p_impaired, design_truth = _simulate_design(
            np.random.default_rng([seed, 2]), sc, outcome or LabelRule(), mu=mu,
            delta_true=delta_true, modality=modality, factor=factor, sd_u=sd_u,
            baselines={"local": local_true, "remote": remote_true,
                       "semilocal": np.sqrt(local_true * remote_true)},
            shared=shared, ceiling=ceiling)
        frame = pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)
    frame = frame[[c.name for c in COLUMNS if c.name in frame]]
    for spec in COLUMNS:  # whole numbers stay whole in CSV ("2", not "2.0")
        if spec.is_integer and spec.name in frame:
            frame[spec.name] = frame[spec.name].astype("Int64")

    truth = {
        "scenario": scenario,
        "description": sc.description,
        "seed": int(seed),
        "n": n,
        "design": design,
        "label_rule": (design_truth.pop("label_rule") if design == "full"
                       else "impaired = eih_ppt_post_kpa <= eih_ppt_pre_kpa"),
        "true_groups": [] if sc.null else list(TRUE_GROUPS),
        "null_groups": list(TRUE_GROUPS + NULL_GROUPS) if sc.null else list(NULL_GROUPS),
        "sd_unexplained_kpa": sc.sd_unexplained,
        **({"population_sd_factor": dict(zip(POPULATIONS, sc.population_sd_factor,
                                              strict=True))}
           if sc.population_sd_factor else {}),
        "measurement_sd_kpa": MEASUREMENT_SD_KPA,
        "signal": sc.signal,
        "variance_explained": float(np.var(mu) / (np.var(mu) + np.mean(sd_total**2))),
        **({"extras": list(extras)} if extras else {}),
        **design_truth,
    }
    return SimulatedCohort(frame, p_impaired, truth)


def _design_threshold(rule: LabelRule) -> float:
    """The fixed threshold t of "impaired = change <= t" (the truth is exact for it)."""
    if rule.trials == "median":
        raise ValueError("the simulator's truth is exact for trial rules mean and first, "
                         "not median")
    if rule.rule == "relative":
        raise ValueError("the simulator's truth is exact for rules with a fixed threshold, "
                         "not relative")
    if rule.rule == "three_class" and not rule.binary:
        raise ValueError("the simulator's truth is P(impaired) of a binary or continuous "
                         "outcome; three classes with binary: false have none")
    return {"no_rise": 0.0, "absolute": rule.threshold_kpa, "continuous": rule.threshold_kpa,
            "sem": rule.k * (rule.sem_kpa or 0.0),
            "sdc": rule.sdc_kpa if rule.rule == "sdc" else 0.0,
            "three_class": rule.band_kpa}[rule.rule]


def _simulate_design(rng: np.random.Generator, sc: Scenario, rule: LabelRule, *,
                     mu: np.ndarray, delta_true: np.ndarray, modality: np.ndarray,
                     factor: np.ndarray, sd_u: np.ndarray, baselines: dict[str, np.ndarray],
                     shared: np.ndarray, ceiling: np.ndarray
                     ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """The design columns, the exact P(impaired) of ``rule`` and the truth's facts."""
    n = len(mu)
    sd_h = HABITUATION_SD_KPA
    share = sd_h**2 / sd_u**2  # sd_h < sd_u in every scenario
    hab_mean = (np.full(n, HABITUATION_NULL_KPA) if sc.null
                else np.array([HABITUATION_KPA[m] for m in modality]))
    # Split u = delta_true - mu into independent Gaussian parts e1 (habituation) and S.
    e1 = share * (delta_true - mu) + rng.normal(0.0, sd_h * np.sqrt(1.0 - share), n)
    h_ex = hab_mean + e1
    specific = delta_true - h_ex
    h_rest = hab_mean + rng.normal(0.0, sd_h, n)
    out: dict[str, np.ndarray] = {}
    trial3 = {}
    for session, hab in (("eih", h_ex), ("rest", h_rest)):
        level = np.exp(rng.normal(0.0, 0.02, n))  # the session's day-to-day drift
        core = {t: hab + (TIME_FRACTION[t] * specific if session == "eih" else 0.0)
                for t in TIME_FRACTION}
        for site in DESIGN_SITES_SIMULATED:
            pre_level = baselines[site] * level
            for time in ("pre", *TIME_FRACTION):
                true = pre_level + (0.0 if time == "pre" else SITE_FRACTION[site] * core[time])
                missing3 = rng.random(n) < TRIAL3_MISSING
                trial3[(session, site, time)] = ~missing3
                for k in range(1, DESIGN_TRIALS + 1):
                    value = true + rng.normal(0.0, MEASUREMENT_SD_KPA, n)
                    value = np.minimum(np.maximum(value, 1.0), ceiling) * factor
                    if k == 3:
                        value = np.where(missing3, np.nan, value)
                    out[design_column("ppt", session, time, site, k)] = value
        heat_pre = np.clip(43.5 - 1.0 * np.clip(shared, -2.5, 2.5) + rng.normal(0, 1.5, n),
                           33.0, 49.0)
        rating_pre = np.clip(50.0 + 8.0 * np.clip(shared, -2.5, 2.5)
                             + rng.normal(0, 10.0, n), 10.0, 90.0)
        for time in ("pre", *TIME_FRACTION):
            rise = 0.0 if time == "pre" else (
                HEAT_C_PER_KPA * core[time] + rng.normal(0.0, HEAT_SD_C, n))
            fall = 0.0 if time == "pre" else (
                SPR_PER_KPA * core[time] + rng.normal(0.0, SPR_SD, n))
            out[design_column("heat", session, time)] = np.round(np.clip(
                heat_pre + rise + rng.normal(0.0, HEAT_MEASUREMENT_SD_C, n), 30.0, 52.0), 2)
            out[design_column("suprathreshold", session, time)] = np.round(np.clip(
                rating_pre - fall + rng.normal(0.0, SPR_MEASUREMENT_SD, n), 0.0, 100.0), 2)

    # Exact P(impaired) of the rule's outcome: its change is Gaussian given x.
    lam = TIME_FRACTION.get(rule.time)
    if lam is None:
        raise ValueError(f"the simulated design has the post times {', '.join(TIME_FRACTION)}"
                         f"; got label.time {rule.time!r}")
    scale, extra_sd, error_sd = {
        "ppt": (SITE_FRACTION[rule.site], 0.0, MEASUREMENT_SD_KPA),
        "heat": (HEAT_C_PER_KPA, HEAT_SD_C, HEAT_MEASUREMENT_SD_C),
        "suprathreshold": (SPR_PER_KPA, SPR_SD, SPR_MEASUREMENT_SD)}[rule.measure]
    sessions = ("eih", "rest") if rule.control == "rest" else ("eih",)
    if rule.control == "rest":
        mean = scale * lam * (mu - hab_mean)
        var = scale**2 * (lam**2 * (sd_u**2 - sd_h**2) + 2 * sd_h**2) + 2 * extra_sd**2
    else:
        mean = scale * (hab_mean + lam * (mu - hab_mean))
        var = scale**2 * (sd_h**2 + lam**2 * (sd_u**2 - sd_h**2)) + extra_sd**2
    for session in sessions:
        if rule.measure != "ppt":
            var = var + 2 * error_sd**2
            continue
        for time in ("pre", rule.time):
            n_trials = (1.0 if rule.trials == "first" else
                        DESIGN_TRIALS - 1 + trial3[(session, rule.site, time)])
            var = var + error_sd**2 / n_trials
    threshold = _design_threshold(rule)
    if rule.measure == "ppt":  # an algometer offset scales the measured change
        threshold = threshold / factor
    p_impaired = ndtr((threshold - mean) / np.sqrt(var))
    truth = {"label_rule": f"{rule.describe()} (outcome: {rule.outcome_definition()})",
             "outcome": rule.model_dump(),
             "habituation_kpa": dict(HABITUATION_KPA), "habituation_sd_kpa": sd_h,
             "site_fraction": dict(SITE_FRACTION), "time_fraction": dict(TIME_FRACTION),
             "truth_exact": "exact up to capping at the contract ranges (a few rows per "
                            "100,000)"}
    return out, p_impaired, truth


def _sensitivity_shift(pop_idx: np.ndarray) -> np.ndarray:
    """The population's sensitivity shift (kept partly: chronic pain lowers PPT)."""
    return np.array([_TRAIT_SHIFT[p][0] for p in POPULATIONS])[pop_idx]


def _eih_mean(c: dict[str, np.ndarray], sc: Scenario) -> np.ndarray:
    """Mean measured EIH change (kPa) given a participant's measured values."""
    n = len(c["pop_idx"])
    if sc.null:
        return np.full(n, 15.0)
    base = np.array([MODALITY_MEAN[m] for m in c["modality"]])
    ref_intensity = np.array([MODALITY_INTENSITY[m][2] for m in c["modality"]])
    dose = 0.8 * (c["intensity"] - ref_intensity)
    z_cpm = (c["cpm_pct"] - 15.0) / 20.0
    z_ts = (c["ts_diff"] - 1.5) / 1.5
    z_pcs = (c["pcs_total"] - 15.0) / 10.0
    z_dep = (c["hads_depression"] - 5.0) / 4.0
    z_anx = (c["hads_anxiety"] - 7.0) / 4.0
    ref = np.where(c["female"], PPT_MEAN["local"]["female"], PPT_MEAN["local"]["male"])
    z_ppt = np.log(c["ppt_local_kpa"] / ref) / PPT_LOG_SD
    effects = (
        11.0 * z_cpm * np.where(c["female"], 1.4, 0.6)
        - 8.0 * z_ts - 10.0 * np.maximum(z_ts - 0.5, 0.0)
        - 7.0 * z_pcs - 14.0 * (c["pcs_total"] >= 30)
        - 6.0 * z_dep - 4.0 * z_anx
        + 7.0 * z_ppt
        - 5.0 * c["female"]
        - np.where(c["pop_idx"] == 0, 0.0, np.where(c["pop_idx"] == 4, 30.0, 20.0))
    )
    return base + dose + sc.signal * effects


def _add_missingness(rng: np.random.Generator, frame: pd.DataFrame, sc: Scenario) -> None:
    """Realistic missing data: items at random, whole instruments, optional measures."""
    n = len(frame)
    for q in iter_instruments(simulated_by_default=True):
        cols = list(q.items)
        block = frame[cols].to_numpy().copy()
        block[rng.random(block.shape) < 0.02] = np.nan  # skipped items
        block[rng.random(n) < 0.03] = np.nan  # instrument not administered
        frame[cols] = block
    frame.loc[rng.random(n) < 0.6, ["ts_single_nrs", "ts_series_nrs"]] = np.nan
    frame.loc[rng.random(n) < 0.1, ["ts_first_nrs", "ts_last_nrs"]] = np.nan
    for col, share in (("bmi_kg_m2", 0.05), ("physical_activity_met_min_week", 0.15),
                       ("ppt_remote_kpa", 0.05), ("age_years", 0.01)):
        frame.loc[rng.random(n) < share, col] = np.nan
    if sc.totals_only_sites:
        totals_only = frame["site"].isin(sc.totals_only_sites).to_numpy()
        simulated = list(iter_instruments(simulated_by_default=True))
        for quest in simulated:
            for total, numbers in _kept_totals(quest):
                names = [quest.item(i) for i in numbers]
                values = np.column_stack(quest.scored(
                    [frame[c].to_numpy(dtype="float64") for c in names], numbers))
                complete = ~np.isnan(values).any(axis=1)
                frame[total] = np.where(totals_only & complete, values.sum(axis=1), np.nan)
        item_cols = [c for q in simulated for c in q.items]
        frame.loc[totals_only, item_cols] = np.nan


#: Measures ``extras`` may name besides the instruments: CPM as pain ratings.
EXTRA_MEASURES = ("cpm_rating",)
#: Rating-based CPM: the test stimulus is calibrated to about 60/100 before conditioning
#: (SD 12, 20-95), and the rating falls by ``RATING_PER_PPT_PCT`` % of itself per % rise
#: of the PPT form (same latent CPM efficiency); each rating has its own error (SD in
#: points of 100) and is recorded as a whole number.
RATING_BEFORE_MEAN, RATING_BEFORE_SD = 60.0, 12.0
RATING_PER_PPT_PCT = 1.0
RATING_ERROR_SD = 4.0
RATING_STIMULI = {"pressure": 0.4, "heat": 0.4, "cuff": 0.2}


def _extras(extras: Iterable[str]) -> tuple[str, ...]:
    if isinstance(extras, str):
        extras = [extras]
    optional = [i.name for i in iter_instruments(simulated_by_default=False) if i.simulate]
    names = list(dict.fromkeys(extras))
    if "all" in names:
        return (*optional, *EXTRA_MEASURES)
    unknown = [e for e in names if e not in optional and e not in EXTRA_MEASURES]
    if unknown:
        raise ValueError(f"Got extras={unknown!r}; expected any of "
                         f"{', '.join((*optional, *EXTRA_MEASURES))} or 'all'.")
    return tuple(names)


def _add_extra_measures(rng: np.random.Generator, frame: pd.DataFrame, sc: Scenario,
                        extras: tuple[str, ...], latent: dict[str, np.ndarray],
                        cpm_pct_true: np.ndarray) -> pd.DataFrame:
    """Instruments and measures written on request (``extras``), from their own stream.

    Two latent traits exist for them only, built from the seven: self-efficacy (PSEQ)
    falls with fear of movement and catastrophizing, central sensitisation (CSI) rises
    with pain sensitivity, TS facilitation and anxiety; PROMIS, PHQ-9, GAD-7 and the
    STAI read the HADS traits (anxiety, depression).
    """
    n = len(frame)
    latent = dict(latent)
    latent["self_efficacy"] = (-0.45 * latent["fear"] - 0.35 * latent["catastrophizing"]
                               + 0.8 * rng.standard_normal(n))
    latent["central_sensitisation"] = (0.45 * latent["sensitivity"] + 0.35 * latent["ts"]
                                       + 0.3 * latent["anxiety"] + 0.7 * rng.standard_normal(n))
    columns: dict[str, np.ndarray] = {}
    totals_only = frame["site"].isin(sc.totals_only_sites).to_numpy()
    for name in extras:
        if name == "cpm_rating":
            columns.update(_cpm_ratings(rng, cpm_pct_true))
            continue
        inst = INSTRUMENTS[name]
        answers = {c: v.astype("float64") for c, v in inst.simulate(rng, latent).items()}
        block = np.column_stack([answers[c] for c in inst.items])
        block[rng.random(block.shape) < 0.02] = np.nan  # skipped items
        block[rng.random(n) < 0.03] = np.nan  # instrument not administered
        for j, c in enumerate(inst.items):
            columns[c] = block[:, j]
        if totals_only.any():
            for total, numbers in _kept_totals(inst):
                values = np.column_stack(inst.scored([columns[inst.item(i)] for i in numbers],
                                                     numbers))
                complete = ~np.isnan(values).any(axis=1)
                columns[total] = np.where(totals_only & complete, values.sum(axis=1), np.nan)
            for c in inst.items:
                columns[c] = np.where(totals_only, np.nan, columns[c])
    frame = pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)
    return frame


def _cpm_ratings(rng: np.random.Generator, cpm_pct_true: np.ndarray) -> dict[str, np.ndarray]:
    """CPM as 0-100 pain ratings of a test stimulus, from the latent CPM efficiency."""
    n = len(cpm_pct_true)
    before_true = np.clip(rng.normal(RATING_BEFORE_MEAN, RATING_BEFORE_SD, n), 20.0, 95.0)
    after_true = before_true * np.maximum(1.0 - RATING_PER_PPT_PCT * cpm_pct_true / 100.0, 0.05)
    before = np.clip(np.round(before_true + rng.normal(0.0, RATING_ERROR_SD, n)), 1.0, 100.0)
    after = np.clip(np.round(after_true + rng.normal(0.0, RATING_ERROR_SD, n)), 0.0, 100.0)
    stimuli = np.array(list(RATING_STIMULI))
    return {"cpm_test_before_rating": before, "cpm_test_after_rating": after,
            "cpm_rating_scale": np.full(n, "0-100", dtype=object),
            "cpm_test_stimulus": stimuli[rng.choice(len(stimuli), size=n,
                                                    p=list(RATING_STIMULI.values()))]}


def _kept_totals(quest) -> list[tuple[str, tuple[int, ...]]]:
    """The totals a totals-only site keeps: every scale with a total column except a
    shorter version inside another (the TSK-11 inside the TSK-17)."""
    scales = [s for s in quest.scales if s.total]
    return [(s.total, s.items) for s in scales
            if not any(set(s.items) < set(o.items) for o in scales)]


def write_truth(cohort: SimulatedCohort, path: str | os.PathLike[str]) -> None:
    """Write the truth file: scenario facts plus each row's exact probability."""
    from .fileio import atomic_path

    payload = dict(cohort.truth)
    payload["participant_id"] = cohort.frame["participant_id"].tolist()
    payload["p_impaired"] = [round(float(p), 10) for p in cohort.p_impaired]
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload))


def calibration_table(n: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """Compare simulated statistics with the published figures in ``docs/domain.md``.

    Computed on the ``realistic`` scenario (the literature-calibrated one; ``default``
    exaggerates the signal on purpose), the design rows on its ``design="full"`` cohort.
    Each row gives the quantity, its source, the published value, the simulated value,
    the tolerance, whether it is met, and its ``basis``: ``fitted`` (a simulator
    parameter was set to reproduce it, so meeting it only shows the code does what the
    parameter says) or ``checked`` (it emerges from the generating model and is
    compared with the literature, a real test of the model).

    Examples
    --------
    >>> table = calibration_table(20_000, seed=1)
    >>> {"quantity", "published", "simulated", "ok", "basis"} <= set(table.columns)
    True
    """
    from sklearn.metrics import roc_auc_score

    from .labels import hypoalgesic_change

    cohort = simulate_cohort(n, seed=seed, scenario="realistic")
    f = cohort.frame
    change = f["eih_ppt_post_kpa"] - f["eih_ppt_pre_kpa"]
    healthy = (f["population"] == "healthy").to_numpy()
    clbp = (f["population"] == "chronic_low_back_pain").to_numpy()
    aerobic = (f["exercise_modality"] == "aerobic").to_numpy()
    male, female = (f["sex"] == "male").to_numpy(), (f["sex"] == "female").to_numpy()
    cpm_pct = 100 * (f["cpm_test_after_kpa"] - f["cpm_test_before_kpa"]) / f["cpm_test_before_kpa"]
    rows: list[tuple[str, str, float, float, float, str]] = []

    def add(quantity: str, source: str, published: float, simulated: float, tol: float,
            basis: str):
        rows.append((quantity, source, published, float(simulated), tol, basis))

    for site, col, src in (("local", "ppt_local_kpa", "docs/domain.md (vastus lateralis)"),
                           ("remote", "ppt_remote_kpa", "Chesterton 2003 (hand)")):
        for sex, mask in (("male", male), ("female", female)):
            published = PPT_MEAN[site][sex]
            add(f"PPT {site} mean, healthy {sex} (kPa)", src, published,
                f.loc[healthy & mask, col].mean(), 0.05 * published, "fitted")
    add("PPT local, women / men", "docs/domain.md (20-25 % lower)", 0.775,
        f.loc[healthy & female, "ppt_local_kpa"].mean()
        / f.loc[healthy & male, "ppt_local_kpa"].mean(), 0.03, "checked")
    add("PPT local SD / mean, healthy", "docs/domain.md (35-50 %)", 0.425,
        f.loc[healthy & male, "ppt_local_kpa"].std()
        / f.loc[healthy & male, "ppt_local_kpa"].mean(), 0.075, "fitted")
    for modality, d in (("aerobic", 0.41), ("isometric", 1.02), ("dynamic_resistance", 0.83)):
        sel = healthy & (f["exercise_modality"] == modality).to_numpy()
        add(f"EIH effect size d (pre/post), healthy, {modality}", "Naugle 2012", d,
            change[sel].mean() / change[sel].std(), 0.1, "fitted")
    add("EIH mean change, healthy, aerobic (kPa)", "Tomschi 2024 (+31 kPa local)", 31.0,
        change[healthy & aerobic].mean(), 10.0, "checked")
    add("EIH mean change, chronic low back pain, aerobic (kPa)",
        "Vaegter 2021 (-15, SD 61 kPa)", -15.0, change[clbp & aerobic].mean(), 15.0, "fitted")
    add("share with no PPT rise, healthy, aerobic", "Naugle 2012 (Phi(-0.41))", 0.34,
        (change[healthy & aerobic] <= 0).mean(), 0.06, "checked")
    add("share with no PPT rise, chronic low back pain, aerobic",
        "Vaegter 2021 (Phi(15/61))", 0.60, (change[clbp & aerobic] <= 0).mean(), 0.1, "checked")
    pooled = np.sqrt((cpm_pct[healthy].var() + cpm_pct[~healthy].var()) / 2)
    add("CPM effect size, healthy vs chronic pain", "Lewis 2012 (0.78)", 0.78,
        (cpm_pct[healthy].mean() - cpm_pct[~healthy].mean()) / pooled, 0.15, "fitted")
    add("EIH variance explained by predictors", "Rice 2019 / docs/domain.md (20-25 %)", 0.225,
        cohort.truth["variance_explained"], 0.03, "fitted")
    add("oracle AUROC of impaired EIH", "docs/domain.md (realistic ceiling 0.65-0.75)", 0.70,
        roc_auc_score(change <= 0, cohort.p_impaired), 0.05, "checked")

    # The full study design: sites, trials, rest session (same participants and seed).
    g = simulate_cohort(n, seed=seed, scenario="realistic", design="full").frame
    healthy = (g["population"] == "healthy").to_numpy()
    modality = g["exercise_modality"].to_numpy()

    def effect(rule: LabelRule, mask: np.ndarray) -> tuple[float, float]:
        ch = hypoalgesic_change(g.loc[mask], rule)[0]
        return float(np.nanmean(ch)), float(np.nanmean(ch) / np.nanstd(ch))

    add("EIH mean change, healthy, aerobic, remote site (kPa)",
        "Tomschi 2024 (+18 kPa remote)", 18.0,
        effect(LabelRule(site="remote"), healthy & (modality == "aerobic"))[0], 8.0, "fitted")
    add("EIH mean change, healthy, aerobic, local site, design cohort (kPa)",
        "Tomschi 2024 (+31 kPa local)", 31.0,
        effect(LabelRule(), healthy & (modality == "aerobic"))[0], 10.0, "checked")
    controlled = {m: effect(LabelRule(control="rest"), healthy & (modality == m))[1]
                  for m in MODALITY_MEAN}
    add("rest-controlled d, healthy: aerobic largest, isometric smallest (1 = yes)",
        "Wewege & Jones 2021 (order)", 1.0,
        float(controlled["aerobic"] > controlled["dynamic_resistance"] > controlled["isometric"]),
        0.0, "fitted")
    iso = healthy & (modality == "isometric")
    add("isometric d, rest-controlled below uncontrolled, healthy (1 = yes)",
        "Wewege & Jones 2021 vs Naugle 2012", 1.0,
        float(effect(LabelRule(control="rest"), iso)[1] < effect(LabelRule(), iso)[1]),
        0.0, "checked")
    t1, t2 = (g[design_column("ppt", "rest", "pre", "local", k)] for k in (1, 2))
    add("between-trial measurement error SD (kPa)", "Mailloux 2021 (about 20 kPa)", 20.0,
        (t1 - t2).std() / np.sqrt(2), 3.0, "fitted")
    table = pd.DataFrame(rows, columns=["quantity", "source", "published", "simulated",
                                        "tolerance", "basis"])
    table["ok"] = (table["simulated"] - table["published"]).abs() <= table["tolerance"]
    return table[["quantity", "source", "published", "simulated", "tolerance", "ok",
                  "basis"]]


def markdown_table(table: pd.DataFrame) -> str:
    """Render a small frame as a Markdown table (numbers to 3 significant digits)."""

    def cell(value: object) -> str:
        if isinstance(value, bool | np.bool_):
            return "yes" if value else "NO"
        if isinstance(value, float | np.floating):
            return f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"



# -- Crossover design (contract v3): several exercise sessions per participant ----------
# Each participant does 2-4 of the candidate exercises below (or exactly ``sessions``),
# each on its own session, in random order. Generating model of the EIH change (kPa) of
# participant i in the session with option o, at period k (0 = first session):
#
#   change_ik = m_i + d_o + h_o(z_i) + period_effect_kpa * k + u_i + e_ik
#
#   m_i    = signal * (8 z_cpm - 8 z_ts - 6 z_pcs) - 20 (chronic pain): the participant's
#            baseline EIH, the same for every option;
#   d_o    = the option's mean effect (OPTION_MEAN_KPA);
#   h_o(z) = the heterogeneity (0 with heterogeneity=False): efficient CPM helps aerobic
#            exercise (+14 z_cpm), temporal summation hurts isometric (-14 z_ts),
#            catastrophizing hurts dynamic resistance (-12 z_pcs) and high-intensity
#            aerobic exercise (-0.6 (intensity - 60) z_pcs per % above 60);
#   z      = (cpm_pct - 15) / 20, (ts_diff - 1.5) / 1.5, (pcs_total - 15) / 10 from the
#            measured baseline (pcs_total pro-rated from the answered items); a missing
#            measure gives z = 0;
#   u_i    ~ N(0, participant_sd_kpa) the participant random effect (shared by the
#            participant's sessions; not predictable from the baseline);
#   e_ik   ~ N(0, session_sd_kpa), plus N(0, 20 kPa) measurement error on pre and post.
#
# Carry-over free: a session's change does not depend on earlier sessions. Under the
# default rule (impaired = post <= pre) the true probability for participant i and
# option o, at the first period and averaged over u_i (the best a baseline model can
# know), is Phi(-(m_i + d_o + h_o) / sqrt(participant_sd^2 + session_sd^2 + 2 * 20^2)):
# the truth file's ``p_impaired_by_option``. u_i shifts every option alike, so the best
# option of a participant is the same with or without it.

#: Candidate exercises of the crossover design: (modality, intensity %, duration min).
CROSSOVER_OPTIONS: tuple[tuple[str, float, float], ...] = (
    ("aerobic", 50.0, 20.0), ("aerobic", 75.0, 20.0),
    ("isometric", 30.0, 3.0), ("dynamic_resistance", 60.0, 10.0),
)
#: Mean EIH change of each option (kPa), before the participant's own terms.
OPTION_MEAN_KPA = {("aerobic", 50.0, 20.0): 20.0, ("aerobic", 75.0, 20.0): 29.0,
                   ("isometric", 30.0, 3.0): 32.0, ("dynamic_resistance", 60.0, 10.0): 28.0}


def _crossover_moderators(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """z-scores of CPM, TS and PCS from the measured baseline (0 where missing)."""
    cpm = 100.0 * (frame["cpm_test_after_kpa"] - frame["cpm_test_before_kpa"]) / frame[
        "cpm_test_before_kpa"]
    ts = frame["ts_last_nrs"] - frame["ts_first_nrs"]
    items = frame[list(QUESTIONNAIRES["pcs"].items)].astype("float64")
    pcs = items.mean(axis=1) * len(items.columns)  # pro-rated; NaN when none answered
    return {"cpm": np.nan_to_num(((cpm - 15.0) / 20.0).to_numpy(dtype="float64")),
            "ts": np.nan_to_num(((ts - 1.5) / 1.5).to_numpy(dtype="float64")),
            "pcs": np.nan_to_num(((pcs - 15.0) / 10.0).to_numpy(dtype="float64"))}


def _crossover_mean(z: dict[str, np.ndarray], chronic: np.ndarray, option, signal: float,
                    heterogeneity: bool) -> np.ndarray:
    """Mean EIH change (kPa) of every participant under ``option`` at the first period."""
    modality, intensity, _ = option
    mean = (OPTION_MEAN_KPA[option]
            + signal * (8.0 * z["cpm"] - 8.0 * z["ts"] - 6.0 * z["pcs"]) - 20.0 * chronic)
    if heterogeneity:
        if modality == "aerobic":
            mean = mean + 14.0 * z["cpm"] - 0.6 * (intensity - 60.0) * z["pcs"]
        elif modality == "isometric":
            mean = mean - 14.0 * z["ts"]
        else:
            mean = mean - 12.0 * z["pcs"]
    return mean


def simulate_crossover(n: int, seed: int = 0, scenario: str = "default", *,
                       sessions: int | None = None, heterogeneity: bool = True,
                       participant_sd_kpa: float = 30.0, session_sd_kpa: float = 25.0,
                       period_effect_kpa: float = 0.0) -> SimulatedCohort:
    """Simulate a randomised crossover study: ``n`` participants, 2-4 sessions each.

    The participants' baseline columns are those of :func:`simulate_cohort` (same
    scenario and seed); each session row repeats them with its own ``session_id``,
    exercise columns and outcome (see the generating model in the comments above
    :data:`CROSSOVER_OPTIONS`).

    Parameters
    ----------
    n : int
        Participants.
    seed : int
    scenario : str
        Baseline scenario (:data:`SCENARIOS`); ``null`` sets every participant's
        baseline effect and the heterogeneity to zero.
    sessions : int, optional
        Sessions per participant (2 to the number of options); default: 2-4 at random.
    heterogeneity : bool
        False: every participant has the same option effects (no option x baseline
        interaction), the cohort for the heterogeneity test's false-positive rate.
    participant_sd_kpa, session_sd_kpa : float
        SD of the participant random effect and of the session-to-session change.
    period_effect_kpa : float
        Added to the change per later session (0: no period effect).

    Returns
    -------
    SimulatedCohort
        ``p_impaired``: each row's probability (its option and period);
        ``truth["p_impaired_by_option"]``: per participant, per option label
        (:func:`eihpredict.sessions.option_labels`), the probability at the first period.

    Examples
    --------
    >>> cohort = simulate_crossover(20, seed=1, sessions=3)
    >>> len(cohort.frame), cohort.frame["participant_id"].nunique()
    (60, 20)
    >>> len(cohort.truth["p_impaired_by_option"][cohort.frame["participant_id"][0]])
    4
    """
    k_max = len(CROSSOVER_OPTIONS)
    if sessions is not None and not 2 <= int(sessions) <= k_max:
        raise ValueError(f"Got sessions={sessions!r}; expected 2 to {k_max}.")
    for name, value in (("participant_sd_kpa", participant_sd_kpa),
                        ("session_sd_kpa", session_sd_kpa)):
        if not value >= 0:
            raise ValueError(f"Got {name}={value!r}; expected a number >= 0.")
    base = simulate_cohort(n, seed=seed, scenario=scenario).frame
    base = base.drop(columns=[c for c in ("exercise_modality", "exercise_intensity_pct",
                                          "exercise_duration_min", "eih_ppt_pre_kpa",
                                          "eih_ppt_post_kpa") if c in base])
    sc = SCENARIOS[scenario]
    rng = np.random.default_rng([seed, 23])
    z = _crossover_moderators(base)
    if sc.null:
        z = {k: np.zeros(n) for k in z}
    chronic = (base["population"].astype(str) != "healthy").to_numpy(dtype="float64")
    signal = 0.0 if sc.null else 1.0
    mean = np.column_stack([_crossover_mean(z, chronic, o, signal, heterogeneity and
                                            not sc.null) for o in CROSSOVER_OPTIONS])
    sd_total = float(np.sqrt(participant_sd_kpa**2 + session_sd_kpa**2
                             + 2 * MEASUREMENT_SD_KPA**2))
    p_option = ndtr(-mean / sd_total)
    u = rng.normal(0.0, participant_sd_kpa, n)
    counts = (np.full(n, int(sessions)) if sessions is not None
              else rng.integers(2, k_max + 1, n))
    rows, p_rows = [], []
    for i in range(n):
        order = rng.permutation(k_max)[:counts[i]]
        for period, o in enumerate(order):
            change = (mean[i, o] + period_effect_kpa * period + u[i]
                      + rng.normal(0.0, session_sd_kpa))
            pre_true = float(base["ppt_local_kpa"].iloc[i]) * np.exp(rng.normal(0, 0.05))
            pre = pre_true + rng.normal(0.0, MEASUREMENT_SD_KPA)
            post = pre_true + change + rng.normal(0.0, MEASUREMENT_SD_KPA)
            modality, intensity, duration = CROSSOVER_OPTIONS[o]
            rows.append({"_i": i, "session_id": f"s{period + 1}",
                         "exercise_modality": modality, "exercise_intensity_pct": intensity,
                         "exercise_duration_min": duration,
                         "eih_ppt_pre_kpa": float(np.clip(pre, 1.0, PPT_CEILING_KPA)),
                         "eih_ppt_post_kpa": float(np.clip(post, 1.0, PPT_CEILING_KPA))})
            p_rows.append(float(ndtr(-(mean[i, o] + period_effect_kpa * period) / sd_total)))
    sessions_frame = pd.DataFrame(rows)
    frame = base.iloc[sessions_frame.pop("_i").to_numpy()].reset_index(drop=True)
    frame = pd.concat([frame, sessions_frame], axis=1)
    frame = frame[[c.name for c in COLUMNS if c.name in frame]]
    labels = option_labels(pd.DataFrame(CROSSOVER_OPTIONS, columns=[
        "exercise_modality", "exercise_intensity_pct", "exercise_duration_min"])).tolist()
    ids = base["participant_id"].tolist()
    truth = {
        "scenario": scenario, "seed": int(seed), "n": int(n), "design": "crossover",
        "label_rule": "impaired = eih_ppt_post_kpa <= eih_ppt_pre_kpa",
        "allocation": "randomised", "carry_over": False,
        "period_effect_kpa": float(period_effect_kpa), "heterogeneity": bool(heterogeneity),
        "participant_sd_kpa": float(participant_sd_kpa),
        "session_sd_kpa": float(session_sd_kpa), "measurement_sd_kpa": MEASUREMENT_SD_KPA,
        "options": [{"option": label, "exercise_modality": m, "exercise_intensity_pct": i,
                     "exercise_duration_min": d}
                    for label, (m, i, d) in zip(labels, CROSSOVER_OPTIONS, strict=True)],
        "p_impaired_by_option": {pid: {label: round(float(p), 10) for label, p in
                                       zip(labels, p_option[j], strict=True)}
                                 for j, pid in enumerate(ids)},
        "generating_model": ("change = m_i + d_o + h_o(z_i) + period_effect * k + u_i + e_ik; "
                             "see eihpredict.simulate.simulate_crossover"),
    }
    return SimulatedCohort(frame, np.asarray(p_rows), truth)
