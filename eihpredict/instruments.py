"""The instrument registry: one declaration per questionnaire, every fact written once.

An :class:`Instrument` declares a questionnaire as published: its items and their
range, the reverse-keyed items, the (sub)scales with the total column a study may give
instead of the items, the versions a mapping may fill (TSK-11 inside the TSK-17 items),
the pro-rating rule for missing items, lookup tables (PROMIS T-scores), the names a
REDCap export typically uses (for ``eihpredict map --init``) and how the simulator
answers it. Everything else is derived from the declarations:

* the contract columns (:data:`eihpredict.schema.COLUMNS`: items, totals, lookups) and
  the total-against-items checks of the validator;
* the feature group of each instrument (:class:`eihpredict.features.QuestionnaireScorer`,
  ``features.groups`` in a pipeline config);
* the ``items:`` and ``item_offsets:`` keys of a study mapping and the refusal of a total
  mapped from another instrument's column;
* the suggestions of ``map --init``;
* the simulator's answers;
* the instrument tables of ``docs/instruments.md`` (:func:`instruments_markdown`).

Adding an instrument is one :func:`register_instrument` call (and its tests).

Examples
--------
>>> INSTRUMENTS["pcs"].n_items, INSTRUMENTS["pcs"].scale("pcs_rumination").items
(13, (8, 9, 10, 11))
>>> INSTRUMENTS["stai_trait"].total_range(INSTRUMENTS["stai_trait"].scale("stai_trait_total"))
(20, 80)
>>> INSTRUMENTS["promis_anx"].lookup("promis_anx_t").table[4]
40.3
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

__all__ = [
    "CPM_FORMS",
    "INSTRUMENTS",
    "ChangeMeasure",
    "Instrument",
    "Lookup",
    "Scale",
    "instrument_of_column",
    "instruments_markdown",
    "likert",
    "register_instrument",
    "registry_version",
    "unregister_instrument",
]

#: A simulator hook: (random generator, latent traits by name) -> item answers by column,
#: as answered on the form (reverse-keyed items not yet reversed).
SimulateHook = Callable[[np.random.Generator, Mapping[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Scale:
    """A total or subscale: the sum of some items after reverse scoring.

    Parameters
    ----------
    feature : str
        Feature name (starts with the instrument's name).
    items : tuple of int
        1-based item numbers summed.
    total : str, optional
        Contract column a study may give instead of the items (checked against them
        where both are given).
    description : str
        One line for the contract table (the total column's description).
    """

    feature: str
    items: tuple[int, ...]
    total: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Lookup:
    """A score read from a published table at a scale's whole-number sum (T-scores).

    Parameters
    ----------
    feature : str
        Feature name, also the contract column a study may give instead.
    scale : str
        Feature name of the :class:`Scale` whose (pro-rated, rounded) sum is looked up.
    table : mapping of int to float
        Raw sum -> score, one entry per possible sum.
    description : str
        One line for the contract table.
    """

    feature: str
    scale: str
    table: Mapping[int, float]
    description: str = ""

    def read(self, raw: np.ndarray) -> np.ndarray:
        """Scores of raw sums; a pro-rated sum is rounded to the nearest whole number
        (halves up) first; NaN stays NaN.

        Examples
        --------
        >>> INSTRUMENTS["promis_dep"].lookup("promis_dep_t").read(np.array([4, 11.5, np.nan]))
        array([41. , 62.2,  nan])
        """
        keys = np.array(sorted(self.table), dtype="float64")
        values = np.array([self.table[int(k)] for k in keys])
        rounded = np.floor(np.asarray(raw, dtype="float64") + 0.5)
        index = np.clip(np.searchsorted(keys, rounded), 0, len(keys) - 1)
        found = ~np.isnan(rounded) & (keys[index] == rounded)
        return np.where(found, values[index], np.nan)


@dataclass(frozen=True)
class Instrument:
    """One questionnaire as published (see the module docstring).

    Parameters
    ----------
    name : str
        Feature group, column prefix and the name used in configs and mappings.
    n_items : int
    item_min, item_max : int
        Range of an answer as scored on the form.
    reverse : tuple of int
        1-based items scored as ``reverse_constant - answer``.
    reverse_constant : int
    label : str
        Full name (documentation and contract table).
    reference : str
        The publication of the scoring rule.
    scales : tuple of Scale
        Totals and subscales, in feature order.
    lookups : tuple of Lookup
        Scores read from published tables (after the scales).
    versions : mapping of str to tuple of int
        Versions a study mapping's ``items:`` may fill: version -> item numbers it fills,
        in the version's order. Default: ``{name: all items}``.
    max_missing_fraction : float
        Default pro-rating rule: a scale with at most ``floor(fraction * n_scale_items)``
        unanswered items is ``mean(answered) * n_scale_items``, otherwise missing.
    item_stems : tuple of str
        Normalised study-name stems of item columns (``pseq`` for ``pseq_1``).
    study_item_offset : int
        Numbering of the items on some printed forms minus the contract's item number
        (the STAI trait items are 21-40 on the STAI-Y form).
    total_synonyms : mapping of str to tuple of str
        Contract column -> normalised study names meaning it (``map --init``).
    simulate : callable, optional
        :data:`SimulateHook`; None: the simulator never writes the instrument.
    simulated_by_default : bool
        Written in every simulated cohort (the three v1 instruments) or only on request.
    step : str, optional
        Feature-pipeline step that scores it (instruments sharing a step share one
        scorer); default: the instrument's own step named after it.
    since : int
        Contract version that introduced it (v1 instruments keep their column layout).
    notes : str
        Scoring remarks shown in ``docs/instruments.md``.
    """

    name: str
    n_items: int
    item_min: int
    item_max: int
    reverse: tuple[int, ...] = ()
    reverse_constant: int = 0
    label: str = ""
    reference: str = ""
    scales: tuple[Scale, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    versions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    max_missing_fraction: float = 0.2
    item_stems: tuple[str, ...] = ()
    study_item_offset: int = 0
    total_synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    simulate: SimulateHook | None = field(default=None, compare=False, repr=False)
    simulated_by_default: bool = False
    step: str | None = None
    since: int = 3
    notes: str = ""

    # -- items --------------------------------------------------------------------------
    def item(self, number: int) -> str:
        """Contract column of item ``number`` (1-based)."""
        return f"{self.name}_{number:02d}"

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(self.item(i) for i in range(1, self.n_items + 1))

    @property
    def all_versions(self) -> Mapping[str, tuple[int, ...]]:
        """Versions a mapping may fill (``{name: all items}`` unless declared)."""
        return self.versions or {self.name: tuple(range(1, self.n_items + 1))}

    @property
    def stems(self) -> tuple[str, ...]:
        return self.item_stems or (self.name,)

    @property
    def pipeline_step(self) -> str:
        return self.step or self.name

    def scored(self, answers: list[np.ndarray], numbers: tuple[int, ...]) -> list[np.ndarray]:
        """Item scores from answer columns (NaN = missing), reverse-keyed items reversed.

        Columns (one 1-D array per item) rather than a rows x items matrix keep every
        step a contiguous vector operation.

        Examples
        --------
        >>> tsk = INSTRUMENTS["tsk"]
        >>> [c.tolist() for c in tsk.scored([np.array([1.0]), np.array([1.0])], (3, 4))]
        [[1.0], [4.0]]
        """
        return [self.reverse_constant - column if number in self.reverse else column
                for column, number in zip(answers, numbers, strict=True)]

    def sum_bounds(
        self, scores: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row: sum of answered scores, number answered, and the lowest and highest
        total the row allows (unanswered items at the scale's minimum or maximum)."""
        matrix = np.stack(scores)  # items x rows: item scores are whole numbers, so the
        present = ~np.isnan(matrix)  # sums are exact in any order
        partial = np.where(present, matrix, 0.0).sum(axis=0)
        answered = present.sum(axis=0).astype("float64")
        n_missing = len(scores) - answered
        return (partial, answered, partial + self.item_min * n_missing,
                partial + self.item_max * n_missing)

    # -- scales -------------------------------------------------------------------------
    def scale(self, feature: str) -> Scale:
        for s in self.scales:
            if s.feature == feature:
                return s
        raise KeyError(feature)

    def lookup(self, feature: str) -> Lookup:
        for lk in self.lookups:
            if lk.feature == feature:
                return lk
        raise KeyError(feature)

    def total_range(self, scale: Scale) -> tuple[int, int]:
        """Lowest and highest possible total of a scale."""
        return self.item_min * len(scale.items), self.item_max * len(scale.items)

    @property
    def total_columns(self) -> tuple[str, ...]:
        """Contract columns a study may give instead of items (totals and lookups)."""
        return (*(s.total for s in self.scales if s.total), *(lk.feature for lk in self.lookups))

    @property
    def columns(self) -> tuple[str, ...]:
        """Every contract column of the instrument (items, then totals and lookups)."""
        return (*self.items, *self.total_columns)

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature the instrument can give, in order."""
        return (*(s.feature for s in self.scales), *(lk.feature for lk in self.lookups))

    def score(self, cols: Mapping[str, np.ndarray], n: int, features: tuple[str, ...],
              max_missing_fraction: float) -> dict[str, np.ndarray]:
        """Scale and lookup features from the columns present (see module docs).

        Raises
        ------
        ValueError
            A given total or lookup disagrees with the items it is computed from.

        Examples
        --------
        >>> phq9 = INSTRUMENTS["phq9"]
        >>> cols = {phq9.item(i): np.array([1.0, np.nan if i == 9 else 3.0])
        ...         for i in range(1, 10)}
        >>> phq9.score(cols, 2, ("phq9_total",), 0.2)["phq9_total"].tolist()
        [9.0, 27.0]
        """
        out: dict[str, np.ndarray] = {}
        bounds: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for s in self.scales:
            if s.feature not in features and not any(lk.scale == s.feature
                                                     for lk in self.lookups):
                continue
            numbers = s.items
            missing = np.full(n, np.nan)
            scores = self.scored([cols.get(self.item(i), missing) for i in numbers], numbers)
            partial, n_answered, low, high = self.sum_bounds(scores)
            allowed = int(np.floor(max_missing_fraction * len(numbers)))
            with np.errstate(invalid="ignore", divide="ignore"):
                value = partial * (len(numbers) / n_answered)
            value[len(numbers) - n_answered > allowed] = np.nan
            if s.total is not None and s.total in cols:
                given = cols[s.total]
                check_agreement(given, n_answered, low, high, s.total)
                value = np.where(n_answered == 0, given, value)
                low = np.where(n_answered == 0, given, low)
                high = np.where(n_answered == 0, given, high)
            out[s.feature] = value
            bounds[s.feature] = (n_answered + (~np.isnan(cols.get(s.total, missing))
                                               if s.total else 0), low, high)
        for lk in self.lookups:
            value = lk.read(out[lk.scale])
            if lk.feature in cols:
                given = cols[lk.feature]
                counted, low, high = bounds[lk.scale]
                check_agreement(given, counted, lk.read(np.ceil(low)), lk.read(np.floor(high)),
                                lk.feature)
                value = np.where(np.isnan(value), given, value)
            out[lk.feature] = value
        return {k: v for k, v in out.items() if k in features}


def check_agreement(given, n_answered, low, high, column: str) -> None:
    """Refuse rows whose given total lies outside what the answered items allow."""
    checkable = ~np.isnan(given) & (n_answered > 0)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(checkable & ((given < low - 1e-9) | (given > high + 1e-9)))
    if len(bad):
        i = bad[0]
        raise ValueError(
            f"{column} disagrees with its items in {len(bad)} row(s); first at row {i + 1}: "
            f"{column}={given[i]:g}, items allow {low[i]:g}-{high[i]:g}."
        )


def likert(rng: np.random.Generator, names: tuple[str, ...], location: np.ndarray,
           low: int, high: int) -> dict[str, np.ndarray]:
    """Ordinal items: a rounded noisy reading of the latent location, within the scale.

    The simulator's answer model for every instrument (noise SD 0.7 answer steps).
    """
    noise = rng.normal(0.0, 0.7, (len(location), len(names)))
    values = np.clip(np.round(location[:, None] + noise), low, high)
    return {name: values[:, j] for j, name in enumerate(names)}


# -- the registry -----------------------------------------------------------------------
_REGISTRY: dict[str, Instrument] = {}
_VERSION = [0]
#: Every registered instrument by name (a live, read-only view of the registry).
INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(_REGISTRY)
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
#: Names of the contract's other groups and of the feature pipeline's steps.
_RESERVED = frozenset({"cpm", "cpm_rating", "ts", "ppt", "exercise", "sex", "population",
                       "age", "bmi", "pain", "physical_activity", "site", "id", "eih",
                       "questionnaires", "clinical", "covariates", "features", "impute",
                       "scale"})


def registry_version() -> int:
    """A number that changes whenever an instrument is registered or removed (caches
    derived from the registry compare it)."""
    return _VERSION[0]


def register_instrument(instrument: Instrument) -> Instrument:
    """Add an instrument; its columns, feature group, mapping keys and draft names follow.

    Raises
    ------
    ValueError
        A name already registered, a name that is not lower-case ``a-z0-9_``, a scale
        or version naming an item the instrument lacks, or a column another
        instrument already declares.

    Examples
    --------
    >>> toy = Instrument("toy", 3, 0, 2, scales=(Scale("toy_total", (1, 2, 3), "toy_total"),))
    >>> _ = register_instrument(toy)
    >>> INSTRUMENTS["toy"].columns
    ('toy_01', 'toy_02', 'toy_03', 'toy_total')
    >>> unregister_instrument("toy")
    """
    name = instrument.name
    if not _NAME.fullmatch(name):
        raise ValueError(f"Got instrument name {name!r}; expected lower-case letters, digits "
                         "and single underscores")
    if name in _REGISTRY:
        raise ValueError(f"instrument {name!r} is already registered")
    if name in _RESERVED:
        raise ValueError(f"Got instrument name {name!r}; it names another feature group or "
                         "pipeline step")
    numbers = set(range(1, instrument.n_items + 1))
    for s in instrument.scales:
        if not set(s.items) <= numbers or not s.feature.startswith(name + "_"):
            raise ValueError(f"{name}: scale {s.feature!r} must start with '{name}_' and "
                             f"name items 1-{instrument.n_items}")
    for version, items in instrument.all_versions.items():
        if not set(items) <= numbers:
            raise ValueError(f"{name}: version {version!r} names items outside "
                             f"1-{instrument.n_items}")
    taken = {c: other.name for other in _REGISTRY.values() for c in other.columns}
    taken.update({v: other.name for other in _REGISTRY.values() for v in other.all_versions})
    clash = [c for c in (*instrument.columns, *instrument.all_versions) if c in taken]
    if clash:
        raise ValueError(f"{name}: {', '.join(clash)} already belong(s) to instrument "
                         f"{taken[clash[0]]!r}")
    _REGISTRY[name] = instrument
    _VERSION[0] += 1
    return instrument


def unregister_instrument(name: str) -> None:
    """Remove an instrument (tests that declare a toy instrument clean up with it)."""
    del _REGISTRY[name]
    _VERSION[0] += 1


def instrument_of_column(column: str) -> Instrument | None:
    """The instrument a contract column belongs to (item, total or lookup), or None.

    Examples
    --------
    >>> instrument_of_column("tsk11_total").name, instrument_of_column("age_years")
    ('tsk', None)
    """
    for inst in _REGISTRY.values():
        if column in inst.columns:
            return inst
    return None


def iter_instruments(*, simulated_by_default: bool | None = None) -> Iterator[Instrument]:
    """Registered instruments in registration order, optionally filtered."""
    for inst in list(_REGISTRY.values()):
        if simulated_by_default is None or inst.simulated_by_default == simulated_by_default:
            yield inst


# -- the declarations --------------------------------------------------------------------
def _range(a: int, b: int, step: int = 1) -> tuple[int, ...]:
    return tuple(range(a, b + 1, step))


#: TSK-17 item numbers that make up the TSK-11 (Woby et al. 2005): items 4, 8, 9, 12,
#: 14 and 16 dropped, so no TSK-11 item is reverse-keyed; total 11-44.
TSK11_ITEMS: tuple[int, ...] = tuple(i for i in range(1, 18) if i not in (4, 8, 9, 12, 14, 16))


def _sim_pcs(rng, latent):
    return likert(rng, INSTRUMENTS["pcs"].items, 0.8 + 1.0 * latent["catastrophizing"], 0, 4)


def _sim_tsk(rng, latent):
    tsk = INSTRUMENTS["tsk"]
    scored = likert(rng, tsk.items, 2.0 + 0.55 * latent["fear"], 1, 4)
    return {name: 5 - scored[name] if i in tsk.reverse else scored[name]
            for i, name in enumerate(tsk.items, start=1)}


def _sim_hads(rng, latent):
    items = INSTRUMENTS["hads"].items
    out = likert(rng, items[0::2], 0.9 + 0.7 * latent["anxiety"], 0, 3)
    out.update(likert(rng, items[1::2], 0.6 + 0.7 * latent["depression"], 0, 3))
    return out


register_instrument(Instrument(
    "pcs", 13, 0, 4, label="Pain Catastrophizing Scale", reference="Sullivan et al. 1995",
    scales=(Scale("pcs_total", _range(1, 13), "pcs_total",
                  "PCS total (when only totals were kept)"),
            Scale("pcs_rumination", (8, 9, 10, 11)),
            Scale("pcs_magnification", (6, 7, 13)),
            Scale("pcs_helplessness", (1, 2, 3, 4, 5, 12))),
    total_synonyms={"pcs_total": ("pcs", "pcs_total", "pcs_sum", "pcs_score")},
    simulate=_sim_pcs, simulated_by_default=True, step="questionnaires", since=1,
    notes="No reverse-keyed items; rumination 8-11, magnification 6, 7, 13, "
          "helplessness 1-5, 12."))
register_instrument(Instrument(
    "tsk", 17, 1, 4, reverse=(4, 8, 12, 16), reverse_constant=5,
    label="Tampa Scale of Kinesiophobia", reference="Miller, Kori & Todd 1991; TSK-11: "
    "Woby et al. 2005",
    scales=(Scale("tsk_total", _range(1, 17), "tsk_total", "TSK-17 total after reverse scoring"),
            Scale("tsk_11_total", TSK11_ITEMS, "tsk11_total",
                  "TSK-11 total (items 1-3, 5-7, 10, 11, 13, 15, 17)")),
    versions={"tsk": _range(1, 17), "tsk11": TSK11_ITEMS},
    total_synonyms={"tsk_total": ("tsk", "tsk_total", "tsk_sum", "tsk_score", "tsk17", "tsk_17",
                                  "tsk17_total"),
                    "tsk11_total": ("tsk11", "tsk11_total", "tsk_11_total", "tsk11_sum")},
    simulate=_sim_tsk, simulated_by_default=True, step="questionnaires", since=1,
    notes="TSK-17 items 4, 8, 12, 16 reversed (5 - answer). A TSK-11 total (11-44) has its "
          "own column and feature, never the TSK-17's."))
register_instrument(Instrument(
    "hads", 14, 0, 3, label="Hospital Anxiety and Depression Scale",
    reference="Zigmond & Snaith 1983",
    scales=(Scale("hads_anxiety", _range(1, 14, 2), "hads_anxiety", "HADS anxiety (odd items)"),
            Scale("hads_depression", _range(2, 14, 2), "hads_depression",
                  "HADS depression (even items)")),
    total_synonyms={"hads_anxiety": ("hads_a", "hads_anx", "hads_anxiety", "hadsa"),
                    "hads_depression": ("hads_d", "hads_dep", "hads_depression", "hadsd")},
    simulate=_sim_hads, simulated_by_default=True, step="questionnaires", since=1,
    notes="Items as scored on the form (0-3); anxiety = odd items, depression = even items."))

# PROMIS v1.0 Emotional Distress short forms 4a: raw sum (4 items 1-5) -> T-score, from the
# PROMIS Anxiety and Depression scoring manuals (HealthMeasures). Only the 4a forms are
# declared: their tables are the ones this project could check against independent
# copies of the manuals' tables; 6a/8a sums have other tables and are refused (range).
PROMIS_ANXIETY_4A_T: Mapping[int, float] = dict(zip(range(4, 21), (
    40.3, 48.0, 51.2, 53.7, 55.8, 57.7, 59.5, 61.4, 63.4, 65.3, 67.3, 69.3, 71.2, 73.3,
    75.4, 77.9, 81.6), strict=True))
PROMIS_DEPRESSION_4A_T: Mapping[int, float] = dict(zip(range(4, 21), (
    41.0, 49.0, 51.8, 53.9, 55.7, 57.3, 58.9, 60.5, 62.2, 63.9, 65.7, 67.5, 69.4, 71.2,
    73.3, 75.7, 79.4), strict=True))


def _sim_from(trait: str, name: str, centre: float, slope: float) -> SimulateHook:
    def hook(rng, latent):
        inst = INSTRUMENTS[name]
        answers = likert(rng, inst.items, centre + slope * latent[trait],
                         inst.item_min, inst.item_max)
        return {c: (inst.reverse_constant - v if i in inst.reverse else v)
                for i, (c, v) in enumerate(answers.items(), start=1)}
    return hook


_PROMIS_NOTE = ("Short form 4a (v1.0): 4 items 1-5 (never-always), raw sum 4-20, T-score by "
                "the scoring manual's table. At least 2 of 4 items answered: the sum is "
                "pro-rated (sum x 4 / answered) and rounded to a whole number (halves up) "
                "before the lookup. Forms 6a/8a have other tables and are not declared.")
def _promis_4a(domain: str, name: str, table, latent: str, mean: float) -> Instrument:
    """A PROMIS short form 4a: items 1-5, the raw sum and its T-score by the manual's table
    (the anxiety and depression forms differ only by their names and tables)."""
    title = domain.capitalize()
    short, full = f"promis_{name}", f"promis_{domain}"
    return Instrument(
        short, 4, 1, 5, label=f"PROMIS {title} short form 4a",
        reference=f"PROMIS {title} scoring manual (HealthMeasures), v1.0 short form 4a",
        scales=(Scale(f"{short}_raw", _range(1, 4), f"{short}_raw",
                      f"PROMIS {title} 4a raw sum"),),
        lookups=(Lookup(f"{short}_t", f"{short}_raw", table,
                        f"PROMIS {title} 4a T-score (manual's table)"),),
        versions={f"{short}_4a": _range(1, 4)}, max_missing_fraction=0.5,
        item_stems=(short, full, f"promis{name}", f"{name}_4a"),
        total_synonyms={f"{short}_raw": (short, f"{short}_raw", f"{short}_sum", full,
                                         f"{short}_4a", f"{short}_total", f"{full}_raw",
                                         f"{full}_sum"),
                        f"{short}_t": (f"{short}_t", f"{short}_tscore", f"{short}_t_score",
                                       f"{full}_t", f"{full}_tscore")},
        simulate=_sim_from(latent, short, mean, 0.8), notes=_PROMIS_NOTE)


register_instrument(_promis_4a("anxiety", "anx", PROMIS_ANXIETY_4A_T, "anxiety", 1.9))
register_instrument(_promis_4a("depression", "dep", PROMIS_DEPRESSION_4A_T, "depression",
                               1.6))
register_instrument(Instrument(
    "pseq", 10, 0, 6, label="Pain Self-Efficacy Questionnaire (PSEQ-10)",
    reference="Nicholas 2007",
    scales=(Scale("pseq_total", _range(1, 10), "pseq_total", "PSEQ-10 total"),),
    total_synonyms={"pseq_total": ("pseq", "pseq_total", "pseq_sum", "pseq_score", "pseq10",
                                   "pseq_10")},
    simulate=_sim_from("self_efficacy", "pseq", 4.0, 1.1),
    notes="10 items 0-6 (not at all confident - completely confident), no reverse items; "
          "higher = more self-efficacy. Up to 2 missing items pro-rated."))
register_instrument(Instrument(
    "csi", 25, 0, 4, label="Central Sensitization Inventory, part A (CSI-25)",
    reference="Mayer et al. 2012",
    scales=(Scale("csi_total", _range(1, 25), "csi_total", "CSI part A total"),),
    total_synonyms={"csi_total": ("csi", "csi_total", "csi_a", "csi_part_a", "csi_parta",
                                  "csi_sum", "csi_score")},
    simulate=_sim_from("central_sensitisation", "csi", 1.3, 0.8),
    notes="25 items 0-4 (never - always), no reverse items; >= 40 often read as central "
          "sensitisation. Up to 5 missing items pro-rated."))
register_instrument(Instrument(
    "stai_trait", 20, 1, 4, reverse=(1, 3, 6, 7, 10, 13, 14, 16, 19), reverse_constant=5,
    label="State-Trait Anxiety Inventory, trait form (STAI-Y2)",
    reference="Spielberger et al. 1983",
    scales=(Scale("stai_trait_total", _range(1, 20), "stai_trait_total",
                  "STAI-Y2 trait total after reverse scoring"),),
    max_missing_fraction=0.1, item_stems=("stai_trait", "stai_t", "stait", "stai_y2", "stai"),
    study_item_offset=20,
    total_synonyms={"stai_trait_total": ("stai_trait", "stai_t", "stait", "stai_y2",
                                         "stai_trait_total", "stai_trait_sum", "stai_y2_total")},
    simulate=_sim_from("anxiety", "stai_trait", 1.9, 0.6),
    notes="Contract items 1-20 are form items 21-40; items 1, 3, 6, 7, 10, 13, 14, 16, 19 "
          "(form 21, 23, 26, 27, 30, 33, 34, 36, 39) reversed (5 - answer); total 20-80. "
          "Up to 2 missing items pro-rated (the manual's rule)."))
register_instrument(Instrument(
    "phq9", 9, 0, 3, label="Patient Health Questionnaire-9", reference="Kroenke et al. 2001",
    scales=(Scale("phq9_total", _range(1, 9), "phq9_total", "PHQ-9 total"),),
    item_stems=("phq9", "phq_9"),
    total_synonyms={"phq9_total": ("phq9", "phq_9", "phq9_total", "phq9_sum", "phq9_score",
                                   "phq_9_total")},
    simulate=_sim_from("depression", "phq9", 0.6, 0.6),
    notes="9 items 0-3; total 0-27 (5, 10, 15, 20: mild, moderate, moderately severe, "
          "severe). One missing item pro-rated."))
register_instrument(Instrument(
    "gad7", 7, 0, 3, label="Generalized Anxiety Disorder-7", reference="Spitzer et al. 2006",
    scales=(Scale("gad7_total", _range(1, 7), "gad7_total", "GAD-7 total"),),
    item_stems=("gad7", "gad_7"),
    total_synonyms={"gad7_total": ("gad7", "gad_7", "gad7_total", "gad7_sum", "gad7_score",
                                   "gad_7_total")},
    simulate=_sim_from("anxiety", "gad7", 0.6, 0.6),
    notes="7 items 0-3; total 0-21 (5, 10, 15: mild, moderate, severe). One missing item "
          "pro-rated."))


# -- measures: one declaration per form of a paired (before/after) measure -------------
@dataclass(frozen=True)
class ChangeMeasure:
    """A measure taken before and during/after an intervention, as one declaration.

    CPM by pressure pain thresholds and CPM by pain ratings are two declarations of one
    quantity: the features are ``abs`` (the change in the direction of inhibition) and
    ``pct`` (``100 * abs / before``), so **positive = inhibition** for both forms.

    Parameters
    ----------
    name : str
        Feature group; the features are ``{name}_abs`` and ``{name}_pct``.
    before, after : str
        Contract columns of the test stimulus before and during/after conditioning.
    inhibition : {"rise", "fall"}
        Which direction is inhibition: a PPT rises, a pain rating falls.
    unit : str
        Unit of ``abs``.
    scale_column : str, optional
        Category column whose value multiplies ``abs`` onto one unit (``0-10`` ratings
        x 10 onto a 0-100 scale); rows with no value there have no ``abs``.
    scale_factors : mapping of str to float
    label : str

    Examples
    --------
    >>> ppt, rating = CPM_FORMS["cpm"], CPM_FORMS["cpm_rating"]
    >>> [v.tolist() for v in ppt.effect(np.array([300.0]), np.array([360.0]))]
    [[60.0], [20.0]]
    >>> [v.tolist() for v in rating.effect(np.array([60.0]), np.array([45.0]))]
    [[15.0], [25.0]]
    """

    name: str
    before: str
    after: str
    inhibition: str
    unit: str
    scale_column: str | None = None
    scale_factors: Mapping[str, float] = field(default_factory=dict)
    label: str = ""

    @property
    def features(self) -> tuple[str, str]:
        return f"{self.name}_abs", f"{self.name}_pct"

    def effect(self, before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(abs, pct)`` per row, positive = inhibition; ``pct`` is missing (never
        infinite) where ``before`` is not positive."""
        change = after - before if self.inhibition == "rise" else before - after
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(before > 0, 100.0 * change / before, np.nan)
            pct = np.where(np.isfinite(pct), pct, np.nan)  # never inf
        return change, pct


#: The two CPM forms (Yarnitsky et al. 2015): a PPT test stimulus, or a pain rating of a
#: fixed test stimulus (heat, pressure, electrical, cuff).
CPM_FORMS: Mapping[str, ChangeMeasure] = MappingProxyType({
    "cpm": ChangeMeasure("cpm", "cpm_test_before_kpa", "cpm_test_after_kpa", "rise", "kPa",
                         label="pressure pain thresholds"),
    "cpm_rating": ChangeMeasure(
        "cpm_rating", "cpm_test_before_rating", "cpm_test_after_rating", "fall",
        "points of 0-100", scale_column="cpm_rating_scale",
        scale_factors={"0-10": 10.0, "0-100": 1.0}, label="pain ratings of a test stimulus"),
})


def instruments_markdown() -> str:
    """The instrument table of ``docs/instruments.md``, generated from the registry.

    Examples
    --------
    >>> print(instruments_markdown().splitlines()[0])
    | instrument | group / prefix | items | range | reverse-keyed | scales (features) | \
given totals | pro-rating | reference |
    """
    lines = ["| instrument | group / prefix | items | range | reverse-keyed | scales (features) "
             "| given totals | pro-rating | reference |",
             "|---|---|---|---|---|---|---|---|---|"]
    for inst in _REGISTRY.values():
        scales = ", ".join(
            "`{}` ({}-{})".format(s.feature, *inst.total_range(s)) for s in inst.scales)
        scales += "".join(f", `{lk.feature}` (lookup)" for lk in inst.lookups)
        allowed = {int(np.floor(inst.max_missing_fraction * len(s.items))) for s in inst.scales}
        lines.append(
            f"| {inst.label or inst.name} | `{inst.name}_` | {inst.n_items} "
            f"| {inst.item_min}-{inst.item_max} "
            f"| {', '.join(map(str, inst.reverse)) or 'none'} | {scales} "
            f"| {', '.join(f'`{c}`' for c in inst.total_columns) or 'none'} "
            f"| up to {'/'.join(map(str, sorted(allowed)))} missing "
            f"(fraction {inst.max_missing_fraction:g}) | {inst.reference} |")
    return "\n".join(lines) + "\n"

