"""The cohort contract (``docs/public-contract.md`` section 1), defined once.

Every column of the contract is one :class:`ColumnSpec` in :data:`COLUMNS`. The table
validator (:mod:`eihpredict.validation`), the per-record request model used by the HTTP
service (:func:`participant_model`) and the documentation table
(:func:`contract_markdown`) are all derived from that single tuple, so they cannot drift
apart.

This module only describes the contract; it reads no files and touches no state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from .instruments import INSTRUMENTS, TSK11_ITEMS, Instrument, registry_version

__all__ = [
    "CONTRACT_VERSION",
    "READABLE_CONTRACT_VERSIONS",
    "COLUMNS",
    "COLUMN_BY_NAME",
    "DESIGN_SITES",
    "DESIGN_TIMES",
    "EXERCISE_MUSCLES",
    "MAX_TRIALS",
    "QUESTIONNAIRES",
    "TOTAL_RULES",
    "TSK11_ITEMS",
    "LiveNames",
    "LiveTuple",
    "instrument_columns",
    "OUTCOME_COLUMNS",
    "BASELINE_COLUMNS",
    "SESSION_COLUMNS",
    "ColumnSpec",
    "Questionnaire",
    "TotalRule",
    "DESIGN_NAMING",
    "contract_markdown",
    "design_column",
    "participant_model",
]

#: Version of the cohort contract this package reads and writes.
CONTRACT_VERSION = 3

#: Contract versions whose files and model directories this package still reads: each
#: version only adds optional columns and outputs to the one before (docs/public-contract.md
#: sections 6 and 7), so a version 1 or 2 model scores as it did.
READABLE_CONTRACT_VERSIONS = (1, 2, 3)

Kind = Literal["string", "category", "number", "integer"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the cohort contract.

    Parameters
    ----------
    name : str
        Exact (lower-case) column name.
    kind : {"string", "category", "number", "integer"}
        Value type. Integers may be missing, so they are held as ``float64`` in frames.
    group : str
        Source group; every derived feature name starts with it (contract section 2).
    description : str
        One line for the documentation table.
    unit : str, optional
        Unit of measurement.
    min, max : float, optional
        Allowed range. ``min_exclusive`` makes the lower bound strict (``> min``).
    categories : tuple of str, optional
        Allowed values of a category, lower case (matched case-insensitively).
    required : bool
        The column must exist and no cell may be empty.
    training_only : bool
        Needed to train (the outcome), never a feature and never needed to score.

    Examples
    --------
    >>> COLUMN_BY_NAME["pcs_01"].rule
    'whole number between 0 and 4'
    >>> COLUMN_BY_NAME["ppt_local_kpa"].rule
    'number between 0.5 and 2000 kPa'
    """

    name: str
    kind: Kind
    group: str
    description: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    categories: tuple[str, ...] | None = None
    required: bool = False
    training_only: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("number", "integer")

    @property
    def is_integer(self) -> bool:
        return self.kind in ("integer",)

    @property
    def is_category(self) -> bool:
        return self.kind in ("category",)

    @property
    def is_text(self) -> bool:
        return self.kind in ("string",)

    @property
    def rule(self) -> str:
        """The column's rule in words, as used in validation messages."""
        if self.is_category:
            assert self.categories is not None
            return "one of " + ", ".join(self.categories)
        if self.is_text:
            return "non-empty text, unique in the file" if self.required else "text"
        noun = "whole number" if self.is_integer else "number"
        unit = f" {self.unit}" if self.unit else ""
        lo, hi = _fmt(self.min), _fmt(self.max)
        if self.min is not None and self.max is not None:
            if self.min_exclusive:
                return f"{noun} > {lo} and <= {hi}{unit}"
            return f"{noun} between {lo} and {hi}{unit}"
        if self.min is not None:
            return f"{noun} {'>' if self.min_exclusive else '>='} {lo}{unit}"
        return noun


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


#: A questionnaire's item layout and scoring rule: the instrument registry's declaration
#: (:class:`eihpredict.instruments.Instrument`; the name is kept for older imports).
Questionnaire = Instrument


@dataclass(frozen=True)
class TotalRule:
    """A total column that must agree with the items it sums (after reverse scoring)."""

    total: str
    questionnaire: str
    items: tuple[int, ...]


#: Questionnaires by name: a live, read-only view of the instrument registry
#: (:data:`eihpredict.instruments.INSTRUMENTS`).
QUESTIONNAIRES: Mapping[str, Instrument] = INSTRUMENTS


class LiveTuple(Sequence):
    """A tuple derived from the instrument registry, rebuilt when the registry changes."""

    def __init__(self, build: Callable[[], tuple]):
        self._build, self._version, self._value = build, None, ()

    def _get(self) -> tuple:
        version = registry_version()
        if version != self._version:
            self._value, self._version = tuple(self._build()), version
        return self._value

    def __getitem__(self, index):
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator:
        return iter(self._get())

    def __contains__(self, value) -> bool:
        return value in self._get()

    def __eq__(self, other) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._get())


class _LiveMapping(Mapping):
    """A dict derived from the instrument registry, rebuilt when the registry changes."""

    def __init__(self, build: Callable[[], dict]):
        self._build, self._version, self._value = build, None, {}

    def _get(self) -> dict:
        version = registry_version()
        if version != self._version:
            self._value, self._version = dict(self._build()), version
        return self._value

    def __getitem__(self, key):
        return self._get()[key]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator:
        return iter(self._get())

    def __contains__(self, key) -> bool:
        return key in self._get()

    def __repr__(self) -> str:
        return repr(self._get())


class LiveNames(Set):
    """A set of contract column names derived from the registry (``in``, ``|``, ...)."""

    def __init__(self, build: Callable[[], frozenset]):
        self._live = LiveTuple(lambda: tuple(sorted(build())))

    @classmethod
    def _from_iterable(cls, it):
        return frozenset(it)

    def __contains__(self, value) -> bool:
        return value in frozenset(self._live)

    def __iter__(self) -> Iterator:
        return iter(self._live)

    def __len__(self) -> int:
        return len(self._live)

    def __repr__(self) -> str:
        return f"LiveNames({set(self._live)!r})"


def _total_rules() -> tuple[TotalRule, ...]:
    return tuple(TotalRule(s.total, inst.name, s.items)
                 for inst in INSTRUMENTS.values() for s in inst.scales if s.total)


#: Totals checked against their items, one per declared scale with a total column.
TOTAL_RULES: Sequence[TotalRule] = LiveTuple(_total_rules)

POPULATIONS = (
    "healthy",
    "chronic_low_back_pain",
    "knee_osteoarthritis",
    "chronic_neck_pain",
    "fibromyalgia",
    "other_chronic_pain",
)
#: Pressures: no algometer reading is below 0.5 kPa, so smaller values are refused (a
#: PPT of 1e-307 kPa would make cpm_pct infinite); the plausibility check names a file
#: whose pressures are all below 20 "kPa" as another unit.
KPA = {"unit": "kPa", "min": 0.5, "max": 2000.0}


def _items(q: Instrument) -> list[ColumnSpec]:
    return [
        ColumnSpec(
            name,
            "integer",
            q.name,
            f"{q.label or q.name} item {i}"
            + (" (reverse-keyed, as answered)" if i in q.reverse else ""),
            min=q.item_min,
            max=q.item_max,
        )
        for i, name in enumerate(q.items, start=1)
    ]


def _totals(q: Instrument) -> list[ColumnSpec]:
    out = []
    for s in q.scales:
        if s.total:
            lo, hi = q.total_range(s)
            out.append(ColumnSpec(s.total, "number", q.name, s.description or s.total,
                                  min=lo, max=hi))
    for lk in q.lookups:
        out.append(ColumnSpec(lk.feature, "number", q.name, lk.description or lk.feature,
                              min=min(lk.table.values()), max=max(lk.table.values())))
    return out


def instrument_columns() -> list[ColumnSpec]:
    """Contract columns of every registered instrument: the v1 instruments' items, then
    their totals (the v1 layout), then each later instrument's items and totals."""
    v1 = [q for q in INSTRUMENTS.values() if q.since <= 2]
    later = [q for q in INSTRUMENTS.values() if q.since > 2]
    return [*(c for q in v1 for c in _items(q)), *(c for q in v1 for c in _totals(q)),
            *(c for q in later for c in (*_items(q), *_totals(q)))]


_BEFORE_INSTRUMENTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("participant_id", "string", "id", "Participant identifier", required=True),
    ColumnSpec("session_id", "string", "id",
               "Session identifier (repeated-session designs: participant_id then repeats "
               "once per session; the pair is unique)"),
    ColumnSpec("site", "string", "site", "Study centre"),
    ColumnSpec("population", "category", "population", "Pain population", categories=POPULATIONS),
    ColumnSpec("sex", "category", "sex", "Sex", categories=("female", "male"), required=True),
    ColumnSpec("age_years", "number", "age", "Age", unit="years", min=18, max=100),
    ColumnSpec("bmi_kg_m2", "number", "bmi", "Body mass index", unit="kg/m2", min=12, max=70),
    ColumnSpec(
        "pain_duration_months", "number", "pain", "Pain duration (0 if pain-free)",
        unit="months", min=0, max=1200,  # 100 years: 999-style codes and 1e308 refused
    ),
    ColumnSpec("pain_intensity_nrs", "number", "pain", "Pain intensity", unit="NRS", min=0, max=10),
    ColumnSpec(
        "physical_activity_met_min_week", "number", "physical_activity",
        "Physical activity (IPAQ)", unit="MET-min/week", min=0, max=20000,
    ),
    ColumnSpec("ppt_local_kpa", "number", "ppt", "Baseline PPT, exercising site", **KPA),
    ColumnSpec("ppt_remote_kpa", "number", "ppt", "Baseline PPT, remote site", **KPA),
    ColumnSpec("cpm_test_before_kpa", "number", "cpm", "CPM test stimulus (PPT) before", **KPA),
    ColumnSpec(
        "cpm_test_after_kpa", "number", "cpm",
        "CPM test stimulus (PPT) during or after conditioning", **KPA,
    ),
    ColumnSpec(
        "cpm_paradigm", "category", "cpm", "CPM paradigm", categories=("parallel", "sequential")
    ),
    ColumnSpec(
        "cpm_conditioning", "category", "cpm", "CPM conditioning stimulus",
        categories=("cold_pressor", "cuff_pressure", "hot_water", "ischemic", "other"),
    ),
    # Rating-based CPM (contract v3): a pain rating of a fixed test stimulus before and
    # during/after conditioning; a lower rating after conditioning is inhibition.
    ColumnSpec("cpm_test_before_rating", "number", "cpm_rating",
               "CPM test stimulus pain rating before conditioning (on cpm_rating_scale)",
               unit="rating", min=0, max=100),
    ColumnSpec("cpm_test_after_rating", "number", "cpm_rating",
               "CPM test stimulus pain rating during or after conditioning "
               "(on cpm_rating_scale)", unit="rating", min=0, max=100),
    ColumnSpec("cpm_rating_scale", "category", "cpm_rating",
               "Scale of the CPM ratings (0-10 or 0-100 NRS/VAS)", categories=("0-10", "0-100")),
    ColumnSpec("cpm_test_stimulus", "category", "cpm_rating", "CPM test stimulus modality",
               categories=("pressure", "heat", "electrical", "cuff", "other")),
    ColumnSpec("ts_first_nrs", "number", "ts", "TS: first rating of the train", unit="NRS",
               min=0, max=10),
    ColumnSpec("ts_last_nrs", "number", "ts", "TS: last rating of the train", unit="NRS",
               min=0, max=10),
    ColumnSpec("ts_single_nrs", "number", "ts", "DFNS wind-up: single stimulus rating",
               unit="NRS 0-100", min=0, max=100),
    ColumnSpec("ts_series_nrs", "number", "ts", "DFNS wind-up: series rating",
               unit="NRS 0-100", min=0, max=100),
)
_AFTER_INSTRUMENTS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "exercise_modality", "category", "exercise", "Exercise bout",
        categories=("aerobic", "isometric", "dynamic_resistance"),
    ),
    ColumnSpec(
        "exercise_intensity_pct", "number", "exercise",
        "Exercise intensity (% VO2max, HR reserve or MVC)", unit="%", min=0, max=100,
    ),
    ColumnSpec(
        "exercise_duration_min", "number", "exercise", "Exercise duration", unit="min",
        min=0, max=180, min_exclusive=True,
    ),
    ColumnSpec("eih_ppt_pre_kpa", "number", "eih", "PPT at the test site before the bout",
               training_only=True, **KPA),
    ColumnSpec("eih_ppt_post_kpa", "number", "eih", "PPT at the test site after the bout",
               training_only=True, **KPA),
    ColumnSpec("eih_impaired", "integer", "eih", "Impaired EIH label (overrides the rule)",
               min=0, max=1, training_only=True),
)

# -- TSK-11 (contract v2) -------------------------------------------------------------
# The TSK-11 (Woby et al. 2005) keeps 11 of the TSK-17 items; it drops items 4, 8, 9, 12,
# 14 and 16 (so none of its items is reverse-keyed) and totals 11-44. A TSK-11 total is
# not a TSK-17 total: it has its own column, placed after tsk_total, checked against the
# TSK-11 items wherever TSK-17 items are given.
# (TSK11_ITEMS and the tsk11_total column are declared with the TSK in instruments.py.)

# -- Study designs (contract v2) -------------------------------------------------------
# Real EIH studies measure several PPT sites, 1-3 trials per site and time point, more
# than one time after the bout, often a quiet-rest control session, and sometimes heat
# pain thresholds or suprathreshold pain ratings instead of (or next to) PPT. The design
# columns follow one regular scheme (docs/public-contract.md section 6):
#
#   {session}_ppt_{site}_{time}_t{k}_kpa   PPT, one trial
#   {session}_hpt_{time}_c                 heat pain threshold (deg C; higher = less pain)
#   {session}_spr_{time}_nrs               suprathreshold pain rating 0-100 (lower = less)
#
# session "eih" (the exercise bout) or "rest" (quiet rest, same protocol), site local
# (the exercising muscle, exercise_muscle), remote or semilocal, time pre, post (first
# test after the bout), post15 or post30 (minutes after the bout), k 1-3. The v1 columns
# eih_ppt_pre_kpa / eih_ppt_post_kpa keep their meaning: the local site, pre and the
# first post time point, one value. All design columns are outcome (training-only).
#: PPT sites of a design: local (the exercising muscle), remote, semilocal.
DESIGN_SITES: tuple[str, ...] = ("local", "remote", "semilocal")
#: Time points of a design: before the bout, then the post-exercise tests.
DESIGN_TIMES: tuple[str, ...] = ("pre", "post", "post15", "post30")
#: Trials per site and time point.
MAX_TRIALS = 3
#: The exercising muscle, which is the local PPT site (its norms: features/_ppt.py).
EXERCISE_MUSCLES: tuple[str, ...] = ("quadriceps", "forearm", "biceps", "trapezius",
                                     "calf", "other")
_MEASURE_TAGS = {"ppt": ("ppt", "kpa"), "heat": ("hpt", "c"), "suprathreshold": ("spr", "nrs")}
_WHEN = {"pre": "before the bout", "post": "first test after the bout",
         "post15": "15 min after the bout", "post30": "30 min after the bout"}


def design_column(measure: str, session: str, time: str, site: str = "local",
                  trial: int = 1) -> str:
    """Name of one design column of the contract (v2).

    Parameters
    ----------
    measure : {"ppt", "heat", "suprathreshold"}
    session : {"eih", "rest"}
        The exercise session or the quiet-rest control session.
    time : {"pre", "post", "post15", "post30"}
    site : {"local", "remote", "semilocal"}
        PPT only.
    trial : int
        PPT only, 1 to :data:`MAX_TRIALS`.

    Examples
    --------
    >>> design_column("ppt", "rest", "post15", "remote", 2)
    'rest_ppt_remote_post15_t2_kpa'
    >>> design_column("suprathreshold", "eih", "pre")
    'eih_spr_pre_nrs'
    """
    tag, unit = _MEASURE_TAGS[measure]
    if measure == "ppt":
        return f"{session}_{tag}_{site}_{time}_t{trial}_{unit}"
    return f"{session}_{tag}_{time}_{unit}"


#: The naming scheme of the design columns in words (printed under the contract table).
DESIGN_NAMING = f"""\
## Study design columns (contract v2)

A study with several PPT sites, trials, post-exercise time points, a quiet-rest control
session or other pain measures gives its outcome in design columns named by one scheme:

- `{{session}}_ppt_{{site}}_{{time}}_t{{k}}_kpa`: PPT (kPa), one trial;
- `{{session}}_hpt_{{time}}_c`: heat pain threshold (deg C, 30-52; higher = less sensitive);
- `{{session}}_spr_{{time}}_nrs`: suprathreshold pain rating (0-100; lower = less pain);

with `session` = `eih` (the exercise session) or `rest` (quiet rest, same protocol),
`site` = {", ".join(f"`{s}`" for s in DESIGN_SITES)} (local = the exercising muscle,
`exercise_muscle`), `time` = {", ".join(f"`{t}`" for t in DESIGN_TIMES)} (before the
bout; the first test after it; 15 and 30 min after it) and `k` = 1 to {MAX_TRIALS}.
Examples: `eih_ppt_local_pre_t1_kpa`, `rest_ppt_remote_post15_t2_kpa`, `eih_spr_post_nrs`.
All design columns are outcome columns (training only, never features). The version 1
columns keep their meaning: `eih_ppt_pre_kpa` and `eih_ppt_post_kpa` are the local site
before the bout and at the first post time point, one value; where the trial columns of
the local site are given, they are used and the version 1 value only fills rows
without any trial. Which measure, site, time point, trial rule and control a model's
outcome uses is set under `label:` in the pipeline config (docs/study-designs.md).
`exercise_muscle` is a predictor column: it selects the local PPT norms of the `ppt`
z-scores.
"""


def _design_columns() -> list[ColumnSpec]:
    out = []
    for session, label in (("eih", "exercise session"), ("rest", "quiet-rest session")):
        for site in DESIGN_SITES:
            for time in DESIGN_TIMES:
                for k in range(1, MAX_TRIALS + 1):
                    out.append(ColumnSpec(
                        design_column("ppt", session, time, site, k), "number", "eih",
                        f"PPT, {site} site, {_WHEN[time]}, trial {k} ({label})",
                        training_only=True, **KPA))
        for time in DESIGN_TIMES:
            out.append(ColumnSpec(
                design_column("heat", session, time), "number", "eih",
                f"Heat pain threshold, {_WHEN[time]} ({label}; higher = less sensitive)",
                unit="deg C", min=30, max=52, training_only=True))
        for time in DESIGN_TIMES:
            out.append(ColumnSpec(
                design_column("suprathreshold", session, time), "number", "eih",
                f"Suprathreshold pain rating, {_WHEN[time]} ({label}; lower = less pain)",
                unit="NRS 0-100", min=0, max=100, training_only=True))
    return out


_MUSCLE = ColumnSpec("exercise_muscle", "category", "exercise",
                     "Exercising muscle, the local PPT site (sets the local PPT norms)",
                     categories=EXERCISE_MUSCLES)
_AFTER_INSTRUMENTS = tuple(spec for column in _AFTER_INSTRUMENTS for spec in (
    (column, _MUSCLE) if column.name == "exercise_duration_min" else (column,)))
_AFTER_INSTRUMENTS = (*_AFTER_INSTRUMENTS, *_design_columns())


def _columns() -> tuple[ColumnSpec, ...]:
    return (*_BEFORE_INSTRUMENTS, *instrument_columns(), *_AFTER_INSTRUMENTS)


#: Every contract column, in contract order (instrument columns follow the registry).
COLUMNS: Sequence[ColumnSpec] = LiveTuple(_columns)

COLUMN_BY_NAME: Mapping[str, ColumnSpec] = _LiveMapping(lambda: {c.name: c for c in COLUMNS})

#: Columns that describe the outcome; never features.
OUTCOME_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.training_only)

REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)

# -- Repeated sessions (contract v3) ------------------------------------------------------
# With session_id, one participant has one row per session. What a session changes is the
# exercise bout (its modality, intensity, duration and muscle) and everything measured
# around it (the outcome: every training-only column). Everything else (demographics,
# questionnaires, baseline PPT, CPM, TS, site, population) describes the participant and
# must agree across the participant's rows.
#: Columns that may differ between one participant's sessions; every other contract
#: column is a baseline predictor and must agree across them.
SESSION_COLUMNS: tuple[str, ...] = ("participant_id", "session_id", *(
    c.name for c in COLUMNS if c.group == "exercise" or c.training_only))
#: Baseline predictors: contract columns that must agree across a participant's sessions.
BASELINE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS
                                          if c.name not in SESSION_COLUMNS)


def contract_markdown() -> str:
    """Render the contract as a Markdown table (the docs are generated from this).

    Examples
    --------
    >>> print(contract_markdown().splitlines()[0])
    | column | type | group | rule | required | description |
    """
    lines = [
        "| column | type | group | rule | required | description |",
        "|---|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        required = "always" if c.required else ("training only" if c.training_only else "no")
        lines.append(
            f"| {c.name} | {c.kind} | {c.group} | {c.rule} | {required} | {c.description} |"
        )
    return "\n".join(lines) + "\n"


@cache
def participant_model() -> type:
    """Pydantic model of one participant record, generated from :data:`COLUMNS`.

    It describes the record for the HTTP service's OpenAPI schema (each field's JSON
    type, range and categories) and accepts any JSON value in each field: the values
    are checked by the one validator, :func:`eihpredict.validation.validate_records`,
    with the table validator's own rules, so a record is accepted or refused over HTTP
    exactly as the same row in a file. Unknown extra fields are kept (they pass
    through).

    Examples
    --------
    >>> Participant = participant_model()
    >>> Participant(participant_id="p1", sex="Female").model_dump()["sex"]
    'Female'
    >>> Participant.model_json_schema()["properties"]["pcs_01"]["anyOf"][0]["maximum"]
    4.0
    """
    from typing import Annotated

    from pydantic import ConfigDict, Field, WithJsonSchema, create_model

    fields: dict[str, Any] = {}
    for c in COLUMNS:
        if c.training_only:
            continue
        schema: dict[str, Any] = {"description": f"{c.description} ({c.rule})"}
        if c.is_category:
            assert c.categories is not None
            schema.update(type="string", enum=list(c.categories))
        elif c.is_text:
            schema.update(type="string", minLength=1 if c.required else 0)
        else:
            schema["type"] = "integer" if c.is_integer else "number"
            if c.min is not None:
                schema["exclusiveMinimum" if c.min_exclusive else "minimum"] = float(c.min)
            if c.max is not None:
                schema["maximum"] = float(c.max)
        if not c.required:
            schema = {"anyOf": [schema, {"type": "null"}], "description": schema["description"]}
        annotation: Any = Annotated[Any, WithJsonSchema(schema)]
        fields[c.name] = (annotation, Field(None))  # "required" is the validator's rule
    required = [c.name for c in COLUMNS if c.required]
    return create_model("Participant", __config__=ConfigDict(
        extra="allow", json_schema_extra={"required": required}), **fields)
