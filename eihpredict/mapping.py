"""Study mappings: a study's own column names, codes and units onto the cohort contract.

A lab's export rarely uses the contract's names: ``record_id`` for ``participant_id``,
``gender`` coded 1/2, two PPT trials per site in kg/cm2, a TSK-11 total, the exercise
bout the same for everyone and so never written down. A :class:`StudyMapping`, written
once per study as a YAML file (format: ``docs/mapping.md``), says all of that
explicitly, so that validation, training and scoring read the export as it is::

    format: 1
    study: Knee OA isometric EIH 2025
    columns:
      participant_id: record_id                       # contract column: study column
      sex: {from: gender, codes: {1: female, 2: male}}
      ppt_local_kpa: {average: [ppt_l_t1, ppt_l_t2], unit: kg/cm2}
      tsk11_total: tsk_total_11
    constants:
      exercise_modality: isometric

:meth:`StudyMapping.apply` converts a table (returning a :class:`MappingReport` of what
it did and every value it could not map), :meth:`StudyMapping.apply_record` one record
(the service's path); :meth:`StudyMapping.to_dict` gives what a model directory stores.

Nothing passes unmapped: a value a code map does not list is an error naming the
column, value and rows (unless it already is the contract's value, as SPSS value labels
give), and a text cell in a column that must be averaged or converted is an error too.

Examples
--------
>>> mapping = StudyMapping.model_validate({
...     "columns": {"participant_id": "record_id",
...                 "sex": {"from": "gender", "codes": {1: "female", 2: "male"}},
...                 "ppt_local_kpa": {"average": ["ppt_t1", "ppt_t2"], "unit": "kg/cm2"}},
...     "constants": {"exercise_modality": "isometric"}})
>>> raw = pd.DataFrame({"record_id": [1, 2], "gender": [2.0, 1.0],
...                     "ppt_t1": [4.0, 3.0], "ppt_t2": [5.0, None]})
>>> frame, report = mapping.apply(raw)
>>> frame.round(2).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
{'participant_id': ['1', '2'], 'sex': ['male', 'female'],
 'ppt_local_kpa': [441.3, 294.2], 'exercise_modality': ['isometric', 'isometric']}
>>> report.ok
True
>>> mapping.apply_record({"record_id": 3, "gender": "1", "ppt_t1": 4, "ppt_t2": 4})
... # doctest: +NORMALIZE_WHITESPACE
{'participant_id': '3', 'sex': 'female', 'ppt_local_kpa': 392.266,
 'exercise_modality': 'isometric'}
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .cohort_io import (
    NUMERIC_COLUMNS,
    TEXT_COLUMNS,
    ReadOptions,
    file_format,
    numbers_as_text,
    open_cohort,
    write_table,
)
from .fileio import read_yaml
from .instruments import INSTRUMENTS, Instrument, instrument_of_column
from .schema import COLUMN_BY_NAME, REQUIRED_COLUMNS, ColumnSpec
from .validation import PlausibilityCheck

__all__ = [
    "MAPPING_FORMAT",
    "PRESSURE_TO_KPA",
    "UNIT_FACTORS",
    "ColumnSource",
    "MappingError",
    "MappingReport",
    "StudyMapping",
    "UnmappedValue",
    "code_key",
    "map_file",
    "stored_mapping",
    "unit_factor",
]

logger = logging.getLogger(__name__)

#: Version of the mapping file format (the ``format:`` key).
MAPPING_FORMAT = 1

#: Multipliers to kPa. 1 kgf/cm2 = 9.80665 N / 1e-4 m2 = 98.0665 kPa; 1 N/cm2 = 10 kPa;
#: 1 lbf = 4.4482216152605 N, so 1 lbf/cm2 = 44.482216 kPa and 1 lbf/in2 (psi) =
#: 6.894757 kPa.
PRESSURE_TO_KPA: Mapping[str, float] = {
    "kpa": 1.0, "kg/cm2": 98.0665, "kgf/cm2": 98.0665, "n/cm2": 10.0,
    "lbf/cm2": 44.482216152605, "psi": 6.894757293168361, "lb/in2": 6.894757293168361,
    "lbf/in2": 6.894757293168361,
}

#: Forces in newtons: an algometer reading N or lbf gives a pressure only with the area
#: of its probe (``probe_area_cm2``): kPa = N / area_cm2 * 10.
FORCE_TO_N: Mapping[str, float] = {"n": 1.0, "lbf": 4.4482216152605}

#: Study units each contract unit can be converted from (multiplier to the contract unit).
UNIT_FACTORS: Mapping[str, Mapping[str, float]] = {
    "kPa": PRESSURE_TO_KPA,
    "years": {"years": 1.0, "months": 1.0 / 12.0},
    "months": {"months": 1.0, "years": 12.0, "weeks": 7.0 * 12.0 / 365.25,
               "days": 12.0 / 365.25},
    "MET-min/week": {"met-min/week": 1.0, "met-h/week": 60.0},
    "min": {"min": 1.0, "s": 1.0 / 60.0, "h": 60.0},
}

def item_versions() -> dict[str, tuple[str, tuple[int, ...]]]:
    """Questionnaire version -> (instrument, item numbers it fills, in order): the keys
    of a mapping's ``items:``, from the instrument registry.

    Examples
    --------
    >>> item_versions()["tsk11"][1]
    (1, 2, 3, 5, 6, 7, 10, 11, 13, 15, 17)
    """
    return {version: (inst.name, numbers) for inst in INSTRUMENTS.values()
            for version, numbers in inst.all_versions.items()}


def _norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def instrument_named(study_column: str) -> tuple[Instrument, str] | None:
    """The instrument a study column's name points to, and the stem or synonym that says
    so (the longest that matches), or None.

    A column named ``promis_anx_sum`` is a PROMIS Anxiety total whatever contract column
    a mapping sends it to; :class:`StudyMapping` refuses it for another instrument.

    Examples
    --------
    >>> inst, why = instrument_named("PROMIS_Anx_Sum")
    >>> inst.name, why
    ('promis_anx', 'promis_anx_sum')
    >>> instrument_named("age") is None
    True
    """
    norm = _norm_name(study_column)
    best: tuple[int, Instrument, str] | None = None
    for inst in INSTRUMENTS.values():
        words = [w for names in inst.total_synonyms.values() for w in names]
        for word in (*words, *inst.stems, inst.name):
            hit = norm == word or (word in inst.stems or word == inst.name) and re.match(
                re.escape(word) + r"(?:_|\d)", norm)
            if hit and (best is None or len(word) > best[0]):
                best = (len(word), inst, word)
    return None if best is None else (best[1], best[2])

_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_ISSUE_COLUMNS = ["row", "participant_id", "column", "value", "rule"]  # as validation's
_ROWS_KEPT = 20        # rows listed per unmapped value
_VALUES_KEPT = 50      # distinct unmapped values listed per study column
_ISSUES_KEPT = 10_000  # row-level issues a report of several chunks keeps (all are counted)


class MappingError(ValueError):
    """A mapping that cannot be loaded or applied (one readable line)."""


# -- codes and units ---------------------------------------------------------------------

def code_key(value: Any) -> str | None:
    """The normal form a code is matched by: ``1``, ``1.0``, ``"1"`` and ``" 1.0 "`` alike.

    Numbers become their shortest text (integers without ``.0``), text is stripped and
    lower-cased, a missing value is ``None``.

    Examples
    --------
    >>> [code_key(v) for v in (1, 1.0, "1", " 1.0 ", "01", 2.5, " Female ", "", None)]
    ['1', '1', '1', '1', '1', '2.5', 'female', None, None]
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    text = str(value).strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return code_key(float(text))
    return text.lower()


def _unit_key(unit: str) -> str:
    return (str(unit).strip().lower().replace(" ", "").replace("²", "2").replace("^2", "2")
            .replace("-hours", "-h").replace("-hour", "-h").replace("-minutes", "-min"))


def unit_factor(spec: ColumnSpec, unit: str, probe_area_cm2: float | None = None) -> float:
    """Multiplier from ``unit`` to the contract unit of ``spec``.

    A force (``N``, ``lbf``) becomes a pressure only with the probe's area in cm2:
    1 N on 1 cm2 = 10 kPa, 1 lbf = 4.4482216152605 N.

    Raises
    ------
    MappingError
        When the column has no unit, the unit is not one it converts from, a force comes
        without ``probe_area_cm2``, or an area comes with a pressure unit.

    Examples
    --------
    >>> unit_factor(COLUMN_BY_NAME["ppt_local_kpa"], "kg/cm²")
    98.0665
    >>> unit_factor(COLUMN_BY_NAME["ppt_local_kpa"], "N", probe_area_cm2=0.5)
    20.0
    >>> unit_factor(COLUMN_BY_NAME["age_years"], "months") == 1 / 12
    True
    """
    table = UNIT_FACTORS.get(spec.unit or "")
    if table is None:
        raise MappingError(f"{spec.name} has no unit to convert from"
                           + (f" (it is in {spec.unit})" if spec.unit else ""))
    key = _unit_key(unit)
    if table is PRESSURE_TO_KPA and key in FORCE_TO_N:
        if probe_area_cm2 is None:
            raise MappingError(f"unit {unit!r} is a force; a pressure needs the probe's area: "
                               f"add probe_area_cm2 (1 for the usual 1 cm2 algometer probe)")
        return FORCE_TO_N[key] / probe_area_cm2 * 10.0
    if probe_area_cm2 is not None:
        raise MappingError(f"probe_area_cm2 goes with a force (unit: N or lbf), not with "
                           f"unit {unit!r}")
    factor = table.get(key)
    if factor is None:
        names = {"kpa": "kPa", "kg/cm2": "kg/cm2", "kgf/cm2": "kgf/cm2", "n/cm2": "N/cm2",
                 "lbf/cm2": "lbf/cm2", "psi": "psi", "lb/in2": "lb/in2", "lbf/in2": "lbf/in2"}
        known = ", ".join(names.get(k, k) for k in table)
        if table is PRESSURE_TO_KPA:
            known += ", N or lbf (with probe_area_cm2)"
        raise MappingError(f"unit {unit!r} is not one {spec.name} ({spec.unit}) converts from; "
                           f"expected one of {known}")
    return factor


def _keys(series: pd.Series) -> np.ndarray:
    """:func:`code_key` of every cell (object array), computed once per distinct value."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = np.array([code_key(u) for u in uniques] + [None], dtype=object)
    return table[codes]


def _numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as float64 and a mask of present cells that are not finite numbers."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan), series.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isfinite(values), values, np.nan), np.isinf(values)
    text = series.astype("str").str.strip()
    present = text.notna().to_numpy() & (text != "").fillna(False).to_numpy(dtype=bool)
    number_like = text.str.fullmatch(_NUMBER).fillna(False).to_numpy(dtype=bool)
    values = np.full(len(series), np.nan)
    ok = present & number_like
    if ok.any():
        values[ok] = pd.to_numeric(text[ok]).to_numpy(dtype="float64")
    bad = present & ~(ok & np.isfinite(values))
    values[~np.isfinite(values)] = np.nan
    return values, bad


def _number(value: Any) -> tuple[float, bool]:
    """One cell as a float (NaN when missing) and whether it is a bad (non-number) cell."""
    if value is None or value is pd.NA:
        return math.nan, False
    if isinstance(value, bool | np.bool_):
        return math.nan, True
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number):
            return math.nan, False
        return (number, False) if math.isfinite(number) else (math.nan, True)
    text = str(value).strip()
    if not text:
        return math.nan, False
    if not _NUMBER.fullmatch(text):
        return math.nan, True
    number = float(text)
    return (number, False) if math.isfinite(number) else (math.nan, True)


# -- the mapping file --------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _normalised_codes(value: Any, what: str) -> Any:
    if value is None or not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, target in value.items():
        if isinstance(key, bool):
            raise ValueError(f"{what} key {key!r} reads as true/false in YAML; quote it "
                             f"('yes', 'no', 'true')")
        normal = code_key(key)
        if normal is None:
            raise ValueError(f"{what} has an empty key; a blank cell is already missing")
        if normal in out:
            raise ValueError(f"{what} lists code {key!r} twice (1, 1.0 and '1' are one code)")
        out[normal] = target
    return out


class ColumnSource(_Strict):
    """Where one contract column comes from, in the study's file.

    Exactly one of ``from`` (one study column) and ``average`` (several trials) is given.
    """

    from_: str | None = Field(None, alias="from", description="The study column.")
    average: list[str] | None = Field(
        None, description="Study columns (trials) combined into this column by `rule`.")
    rule: Literal["mean", "complete_mean", "median", "first"] = Field(
        "mean", description="mean: of the trials present; complete_mean: missing unless "
        "every trial is present; median: of the trials present; first: first trial present.")
    codes: dict[str, Any] | None = Field(
        None, description="Study code -> contract value; every value present must be "
        "listed (or already be the contract's value). A null target means missing.")
    missing: list[str] = Field(
        default_factory=list, description="Study codes meaning 'missing' (e.g. 99, -9).")
    unit: str | None = Field(
        None, description="Unit of the study's values, converted to the contract unit "
        "(pressures: kPa, N/cm2, kg/cm2, lbf/cm2, or the forces N and lbf with "
        "probe_area_cm2).")
    probe_area_cm2: float | None = Field(
        None, gt=0, le=100, description="Area of the algometer's probe in cm2, for a "
        "force (unit: N or lbf): kPa = N / area * 10.")

    @field_validator("codes", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        return _normalised_codes(value, "codes")

    @field_validator("missing", mode="before")
    @classmethod
    def _missing(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        if any(isinstance(v, bool) for v in value):
            raise ValueError("a missing code reads as true/false in YAML; quote it")
        keys = [code_key(v) for v in value]
        if None in keys:
            raise ValueError("missing lists an empty code; a blank cell is already missing")
        return keys

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSource:
        if (self.from_ is None) == (self.average is None):
            raise ValueError("give exactly one of 'from' (a study column) and 'average' "
                             "(a list of trial columns)")
        if self.average is not None and len(self.average) < 1:
            raise ValueError("average needs at least one study column")
        if self.average is None and "rule" in self.model_fields_set:
            raise ValueError("rule applies to 'average' only")
        return self

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.average) if self.average is not None else (str(self.from_),)


@dataclass(frozen=True)
class _Target:
    """One contract column as the mapping fills it (resolved once, used per chunk)."""

    column: str
    spec: ColumnSpec
    sources: tuple[str, ...]
    average: bool
    rule: str
    codes: Mapping[str, Any] | None
    missing: frozenset[str]
    unit: str | None
    factor: float
    offset: int

    @property
    def numeric_work(self) -> bool:
        return self.average or self.unit is not None or self.offset != 0


class StudyMapping(_Strict):
    """A study's column names, codes, units, trials and constants, onto the contract.

    Load one with :meth:`load`; the file format is documented in ``docs/mapping.md``.
    Keys of ``columns`` and ``constants`` are contract columns; unknown keys anywhere
    are refused with their name.
    """

    format: Literal[1] = Field(MAPPING_FORMAT, description="Mapping file format version.")
    study: str = Field("", description="Name of the study (shown in reports and cards).")
    description: str = ""
    columns: dict[str, ColumnSource] = Field(
        default_factory=dict, description="Contract column -> study column (shorthand for "
        "{from: column}) or source.")
    items: dict[str, list[str]] = Field(
        default_factory=dict, description="Questionnaire version -> its item columns in item "
        "order (tsk11: the 11 TSK-11 items, filled into TSK-17 items 1-3, 5-7, 10, 11, 13, "
        "15, 17; versions: docs/instruments.md).")
    item_offsets: dict[str, int] = Field(
        default_factory=dict, description="Added to a questionnaire's items (tsk: 1 for "
        "answers coded 0-3).")
    instruments: list[str] = Field(
        default_factory=list, description="Instruments (or versions, e.g. tsk11) the study "
        "used; when given, a column of any other instrument is refused.")
    constants: dict[str, str | int | float] = Field(
        default_factory=dict, description="Contract column -> one value for every row.")
    drop: list[str] = Field(
        default_factory=list, description="Study columns removed on reading (never passed "
        "through; e.g. names or dates of birth).")

    _targets: tuple[_Target, ...] = PrivateAttr(default=())

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: {"from": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _resolve(self) -> StudyMapping:
        entries: dict[str, ColumnSource] = {}
        for column, source in self.columns.items():
            _contract_column(column, "columns")
            entries[column] = source
        versions = item_versions()
        for where, keys, known in (("items", self.items, versions),
                                   ("item_offsets", self.item_offsets, INSTRUMENTS),
                                   ("instruments", self.instruments, {**versions,
                                                                      **INSTRUMENTS})):
            unknown = [k for k in keys if k not in known]
            if unknown:
                raise ValueError(f"{where}: unknown questionnaire {unknown[0]!r}; expected "
                                 f"one of {', '.join(known)}")
        for version, names in self.items.items():
            questionnaire, numbers = versions[version]
            if len(names) != len(numbers):
                raise ValueError(f"items.{version} lists {len(names)} columns; the "
                                 f"{version.upper()} has {len(numbers)} items")
            for number, name in zip(numbers, names, strict=True):
                column = INSTRUMENTS[questionnaire].item(number)
                if column in entries:
                    raise ValueError(f"{column} is given both in columns and in "
                                     f"items.{version}")
                entries[column] = ColumnSource.model_validate({"from": name})
        targets = []
        for column, source in entries.items():
            spec = COLUMN_BY_NAME[column]
            codes = None
            if source.codes is not None:
                codes = {k: _code_target(spec, v, f"columns.{column}.codes[{k!r}]")
                         for k, v in source.codes.items()}
            factor = 1.0
            if source.unit is not None:
                try:
                    factor = unit_factor(spec, source.unit, source.probe_area_cm2)
                except MappingError as exc:
                    raise ValueError(f"columns.{column}.unit: {exc}") from None
            elif source.probe_area_cm2 is not None:
                raise ValueError(f"columns.{column}.probe_area_cm2 needs unit: N or lbf")
            if source.average is not None and not spec.is_numeric:
                raise ValueError(f"columns.{column}: average needs a numeric column; "
                                 f"{column} is {spec.kind}")
            questionnaire = INSTRUMENTS.get(spec.group)
            _same_instrument(column, source.sources, self.instruments, versions)
            offset = (self.item_offsets.get(spec.group, 0)
                      if questionnaire is not None and column in questionnaire.items else 0)
            targets.append(_Target(column, spec, source.sources, source.average is not None,
                                   source.rule, codes, frozenset(source.missing),
                                   source.unit, factor, offset))
        for column, value in self.constants.items():
            _contract_column(column, "constants")
            if column in entries:
                raise ValueError(f"{column} is given both in columns and in constants")
            _code_target(COLUMN_BY_NAME[column], value, f"constants.{column}")
        for questionnaire in self.item_offsets:
            items = INSTRUMENTS[questionnaire].items
            if not any(t.column in items for t in targets):
                raise ValueError(f"item_offsets.{questionnaire}: no {questionnaire} item "
                                 "column is mapped; an offset applies to mapped items only")
        used = {s for t in targets for s in t.sources}
        both = sorted(used & set(self.drop))
        if both:
            raise ValueError(f"drop lists {', '.join(both)}, which the mapping also reads")
        self._targets = tuple(targets)
        return self

    # -- loading and storing ---------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StudyMapping:
        """Read and check a mapping file (YAML).

        Raises
        ------
        MappingError
            Unreadable YAML, a duplicated key, or a key or value the format refuses; the
            message names the file and the key path (``columns.sex.codes``).
        """
        path = Path(path)
        try:
            data = read_yaml(path, "mapping file")
        except ValueError as exc:
            raise MappingError(str(exc)) from None
        if not isinstance(data, dict):
            raise MappingError(f"{path}: expected a mapping of keys at the top level")
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "mapping") -> StudyMapping:
        """Build a mapping from a dict (as :meth:`to_dict` returns), errors as for
        :meth:`load`."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise MappingError(f"{source}: " + "; ".join(_error_lines(exc))) from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and YAML-ready dict that :meth:`from_dict` reads back unchanged."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        data["format"] = self.format
        for column, source in list(data.get("columns", {}).items()):
            source = {k: v for k, v in source.items() if v is not None}
            data["columns"][column] = source["from"] if list(source) == ["from"] else source
        return {"format": data.pop("format"), **data}

    def to_yaml(self) -> str:
        """The mapping as YAML text (comments of a hand-written file are not kept)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    # -- what the mapping reads and fills -----------------------------------------------
    @property
    def source_columns(self) -> list[str]:
        """Study columns the mapping reads, in mapping order."""
        return list(dict.fromkeys(s for t in self._targets for s in t.sources))

    @property
    def contract_columns(self) -> list[str]:
        """Contract columns the mapping fills (from study columns or as constants)."""
        return [t.column for t in self._targets] + list(self.constants)

    @property
    def declared_units(self) -> dict[str, str]:
        """Contract column -> the unit the mapping declares for its study values."""
        return {t.column: t.unit for t in self._targets if t.unit is not None}

    def keep_codes(self) -> set[str]:
        """Study columns whose SPSS codes are read as codes, not value labels: those
        feeding numeric contract columns, and those whose codes in the mapping are all
        numbers (``{1: female}``); text codes (``{weiblich: female}``) match the labels."""
        return {s for t in self._targets for s in t.sources
                if t.spec.is_numeric or (t.codes and all(_NUMBER.fullmatch(k)
                                                         for k in t.codes))}

    def text_sources(self) -> set[str]:
        """Study columns feeding the contract's text columns (ids, site)."""
        return {s for t in self._targets if t.column in TEXT_COLUMNS for s in t.sources}

    def header(self, columns: Sequence[str]) -> list[str]:
        """The column names :meth:`apply` gives a table with these columns (no data read).

        Raises
        ------
        MappingError
            As :meth:`apply` does for the header alone.
        """
        return list(self._layout(list(columns), self._plan(set(columns))))

    def _layout(self, columns: list[str], plan: list[_Target]) -> dict[str, bool]:
        """Output column -> whether the mapping fills it (else passed through as read).

        A filled column takes the place of its first study column; constants go last.
        """
        by_source: dict[str, list[str]] = {}
        for t in plan:
            for s in t.sources:
                by_source.setdefault(s, []).append(t.column)
        out: dict[str, bool] = {}
        for name in columns:
            if name in self.drop:
                continue
            if name in by_source:
                for column in by_source[name]:
                    out.setdefault(column, True)
            else:
                out[name] = False
        for column in [*(t.column for t in plan), *self.constants]:
            out.setdefault(column, True)
        return out

    def _plan(self, present: set[str]) -> list[_Target]:
        """The targets whose study columns are present; structural errors raised."""
        plan = []
        for t in self._targets:
            absent = [s for s in t.sources if s not in present]
            if absent and len(absent) < len(t.sources):
                raise MappingError(
                    f"columns.{t.column}: the file lacks {', '.join(map(repr, absent))} of "
                    f"the trials {', '.join(map(repr, t.sources))}" + _near(absent[0], present))
            if absent:
                continue
            if t.column in present and t.column not in t.sources:
                raise MappingError(
                    f"the file has a column {t.column!r} and the mapping fills {t.column} "
                    f"from {', '.join(map(repr, t.sources))}; remove one of the two")
            plan.append(t)
        for column in self.constants:
            if column in present:
                raise MappingError(f"the file has a column {column!r} and the mapping sets "
                                   f"it as a constant; remove one of the two")
        return plan

    # -- applying ------------------------------------------------------------------------
    def apply(self, frame: pd.DataFrame, *, first_row: int = 1
              ) -> tuple[pd.DataFrame, MappingReport]:
        """Convert a study table to contract columns.

        Parameters
        ----------
        frame : DataFrame
            The study's table (or one chunk of it), cells as read.
        first_row : int
            Row number of the first row (for the issues; the first data row is 1).

        Returns
        -------
        frame : DataFrame
            Contract columns the mapping fills, study columns it does not read passed
            through (``drop`` removed). Columns that needed no conversion keep their raw
            cells for the validator; converted ones are numbers or contract values.
            A cell the mapping could not map is missing, and named in the report.
        report : MappingReport
            What was renamed, recoded, averaged and converted, and every problem.

        Raises
        ------
        MappingError
            When the file's columns cannot fit the mapping at all (some but not all
            trials of an average, a contract column both present and mapped).
        """
        frame = frame.reset_index(drop=True)
        n = len(frame)
        present = set(frame.columns)
        plan = self._plan(present)
        report = MappingReport(n_rows=n, first_row=first_row)
        problems: list[tuple[str, str, np.ndarray, np.ndarray, str]] = []
        filled: dict[str, pd.Series] = {}
        for t in plan:
            filled[t.column] = self._fill(t, frame, report, problems)
        for t in self._targets:
            if t not in plan:
                report.absent.setdefault(t.column, list(t.sources))
        for column, value in self.constants.items():
            filled[column] = pd.Series([_constant(COLUMN_BY_NAME[column], value)] * n,
                                       dtype="float64" if COLUMN_BY_NAME[column].is_numeric
                                       else "str")
            report.constants[column] = value
        out: dict[str, pd.Series] = {}
        for name, is_filled in self._layout(list(frame.columns), plan).items():
            out[name] = filled[name] if is_filled else frame[name]
            if is_filled:
                continue
            if name in COLUMN_BY_NAME:
                report.as_named.setdefault(name, None)
            else:
                report.unmapped_columns.setdefault(name, None)
        for name in frame.columns:
            if name in self.drop:
                report.dropped.setdefault(name, None)
        result = pd.DataFrame(out, index=frame.index)
        report.issues = _issues(problems, result, first_row)
        report.n_issues = len(report.issues)
        for column, source, positions, values, _ in problems:
            codes, uniques = pd.factorize(values)
            for k in range(min(len(uniques), _VALUES_KEPT)):
                report._add_unmapped(source, column, uniques[k],
                                     positions[codes == k] + first_row)
            beyond = int((codes >= _VALUES_KEPT).sum())
            if beyond:
                report.more_unmapped[source] = report.more_unmapped.get(source, 0) + beyond
        return result, report

    def _fill(self, t: _Target, frame: pd.DataFrame, report: MappingReport,
              problems: list) -> pd.Series:
        decoded = [self._decode(t, s, frame[s], report, problems) for s in t.sources]
        if len(t.sources) == 1 and t.sources[0] != t.column:
            report.renamed[t.sources[0]] = t.column
        if not t.numeric_work and not (t.codes is not None and t.spec.is_numeric):
            (values,) = decoded
            if t.column in TEXT_COLUMNS:
                return numbers_as_text(values)
            return values
        columns = []
        for source, values in zip(t.sources, decoded, strict=True):
            numbers, bad = _numbers(values)
            if bad.any():
                if t.average:
                    what = "averaged"
                elif t.factor != 1.0:
                    what = f"converted from {t.unit}"
                else:
                    what = "recoded" if t.codes is not None else "offset"
                problems.append((t.column, source, np.flatnonzero(bad),
                                 values.astype("str").to_numpy()[bad],
                                 f"{t.spec.rule}; study column {source!r} must hold numbers "
                                 f"to be {what}: not a number"))
            columns.append(numbers)
        if t.average:
            result, n_fewer = _combine(np.column_stack(columns), t.rule)
            entry = report.averaged.setdefault(
                t.column, {"sources": list(t.sources), "rule": t.rule, "rows_fewer_trials": 0})
            entry["rows_fewer_trials"] += n_fewer
        else:
            result = columns[0]
        if t.unit is not None:  # declared, even as the contract's unit: counted, checked
            entry = report.converted.setdefault(
                t.column, {"unit": t.unit, "to": t.spec.unit, "factor": t.factor, "values": 0})
            entry["values"] += int((~np.isnan(result)).sum())
            if t.factor != 1.0:
                result = result * t.factor
        if t.offset:
            result = result + t.offset
            report.offsets[t.column] = t.offset
        return pd.Series(result, index=frame.index, dtype="float64")

    def _decode(self, t: _Target, source: str, raw: pd.Series, report: MappingReport,
                problems: list) -> pd.Series:
        """Missing codes and code maps of one study column."""
        if t.codes is None and not t.missing:
            return raw
        keys = pd.Series(_keys(raw), index=raw.index, dtype=object)
        present = keys.notna().to_numpy()
        if t.codes is not None and not present.all():  # a blank code: missing, said so
            entry = report.blank_codes.setdefault((t.column, source), {"count": 0, "rows": []})
            entry["count"] += int((~present).sum())
            room = _ROWS_KEPT - len(entry["rows"])
            if room > 0:
                entry["rows"] += (np.flatnonzero(~present)[:room] + report.first_row).tolist()
        is_missing = keys.isin(t.missing).to_numpy() & present
        if is_missing.any():
            report.missing_codes[t.column] = report.missing_codes.get(t.column, 0) + int(
                is_missing.sum())
        if t.codes is None:
            return raw.mask(is_missing)
        known = keys.isin(list(t.codes)).to_numpy() & present & ~is_missing
        contract_value = (keys.isin(list(t.spec.categories or ())).to_numpy()
                          & present & ~known & ~is_missing)
        unmapped = present & ~known & ~is_missing & ~contract_value
        counts = report.recoded.setdefault(t.column, {})
        for key, count in keys[known].value_counts(sort=False).items():
            counts[key] = counts.get(key, 0) + int(count)
        if contract_value.any():
            counts["(contract value)"] = counts.get("(contract value)", 0) + int(
                contract_value.sum())
        if unmapped.any():
            known_codes = ", ".join(f"{k} -> {v}" for k, v in t.codes.items())
            problems.append((t.column, source, np.flatnonzero(unmapped),
                             raw.astype("str").to_numpy()[unmapped],
                             f"code not in the mapping of study column {source!r} "
                             f"({known_codes}); add it to columns.{t.column}.codes"))
        out = keys.map(t.codes).where(known, keys.where(contract_value))
        if t.spec.is_numeric:
            return pd.to_numeric(out, errors="raise").astype("float64")
        return out.astype("str")

    def apply_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Convert one record (a JSON object of the study's fields) to contract fields.

        The same conversion as :meth:`apply`, on plain values (the service's path). In a
        record an absent key is a missing value.

        Raises
        ------
        MappingError
            Naming every field whose value the mapping could not map.
        """
        present = set(record)
        out: dict[str, Any] = {}
        problems: list[str] = []
        consumed: set[str] = set()
        for t in self._targets:
            if not any(s in present for s in t.sources):
                continue
            if t.column in present and t.column not in t.sources:
                raise MappingError(
                    f"the record has a field {t.column!r} and the mapping fills {t.column} "
                    f"from {', '.join(map(repr, t.sources))}; remove one of the two")
            consumed.update(t.sources)
            out[t.column] = self._record_value(t, [record.get(s) for s in t.sources], problems)
        for column, value in self.constants.items():
            if column in present:
                raise MappingError(f"the record has a field {column!r} and the mapping sets "
                                   "it as a constant; remove one of the two")
            out[column] = _constant(COLUMN_BY_NAME[column], value)
        if problems:
            raise MappingError("; ".join(problems))
        rest = {k: v for k, v in record.items() if k not in consumed and k not in self.drop}
        return {**out, **rest}

    def _record_value(self, t: _Target, values: list[Any], problems: list[str]) -> Any:
        decoded = []
        for source, value in zip(t.sources, values, strict=True):
            key = code_key(value)
            if key is not None and key in t.missing:
                decoded.append(None)
            elif t.codes is None or key is None:
                decoded.append(value)
            elif key in t.codes:
                decoded.append(t.codes[key])
            elif t.spec.categories and key in t.spec.categories:
                decoded.append(key)
            else:
                known = ", ".join(f"{k} -> {v}" for k, v in t.codes.items())
                problems.append(f"field {source!r} ({t.column}): value {value!r} is not in the "
                                f"mapping's codes ({known})")
                decoded.append(None)
        if not t.numeric_work and not (t.codes is not None and t.spec.is_numeric):
            (value,) = decoded
            if t.column in TEXT_COLUMNS and isinstance(
                    value, int | float | np.integer | np.floating) and not isinstance(
                    value, bool | np.bool_):
                return code_key(value)  # 101.0 -> "101", as numbers_as_text does
            return value
        numbers = []
        for source, value in zip(t.sources, decoded, strict=True):
            number, bad = _number(value)
            if bad:
                problems.append(f"field {source!r} ({t.column}): value {value!r} is not a "
                                "number")
            numbers.append(number)
        if t.average:
            result, _ = _combine(np.array([numbers], dtype="float64"), t.rule)
            number = float(result[0])
        else:
            number = numbers[0]
        if math.isnan(number):
            return None
        return number * t.factor + t.offset


def _same_instrument(column: str, sources: Sequence[str], declared: Sequence[str],
                     versions: Mapping[str, tuple[str, tuple[int, ...]]]) -> None:
    """Refuse an instrument's column filled from another instrument's study column (a
    PROMIS sum is not a HADS score), or from an instrument the mapping does not declare."""
    inst = instrument_of_column(column)
    if inst is None:
        return
    used = {versions[d][0] if d in versions else d for d in declared}
    if declared and inst.name not in used:
        raise ValueError(f"columns.{column}: {column} belongs to the {inst.label or inst.name}, "
                         f"which the mapping's instruments: list does not declare "
                         f"({', '.join(declared)})")
    for source in sources:
        named = instrument_named(source)
        if named is not None and named[0].name != inst.name:
            other, word = named
            totals = [c for c in other.total_columns if c.endswith(("_raw", "_total"))]
            raise ValueError(
                f"columns.{column}: study column {source!r} is named like the "
                f"{other.label or other.name} ({word!r}), not the {inst.label or inst.name}; "
                "an instrument's total is accepted only for that instrument"
                + (f" (map it to {' or '.join(other.total_columns)})" if totals else ""))


def _contract_column(column: str, where: str) -> None:
    if column not in COLUMN_BY_NAME:
        close = difflib.get_close_matches(column, list(COLUMN_BY_NAME), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: {column!r} is not a contract column{hint}; study columns "
                         "that the contract does not know are passed through unmapped")


def _code_target(spec: ColumnSpec, value: Any, where: str) -> Any:
    """Check a code's (or constant's) target value against the contract column."""
    if value is None:
        return None
    if spec.is_category:
        text = str(value).strip().lower()
        if isinstance(value, bool) or text not in (spec.categories or ()):
            raise ValueError(f"{where}: {value!r} is not a value of {spec.name} "
                             f"({', '.join(spec.categories or ())})")
        return text
    if spec.is_numeric:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: {value!r} is not a number ({spec.name} is {spec.rule})")
        return float(value)
    return str(value)


def _constant(spec: ColumnSpec, value: Any) -> Any:
    return _code_target(spec, value, "constants")


def _near(name: str, present: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(present), n=1, cutoff=0.75)
    return f" (the file has {close[0]!r})" if close else ""


def _combine(matrix: np.ndarray, rule: str) -> tuple[np.ndarray, int]:
    """Trials (rows x trials) to one value per row, and the rows with fewer trials."""
    n_present = (~np.isnan(matrix)).sum(axis=1)
    fewer = int(((n_present > 0) & (n_present < matrix.shape[1])).sum())
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice": no trials
        if rule == "mean":
            result = np.nanmean(matrix, axis=1)
        elif rule == "median":
            result = np.nanmedian(matrix, axis=1)
        elif rule == "complete_mean":
            result = np.where(n_present == matrix.shape[1], matrix.mean(axis=1), np.nan)
        else:
            first = np.argmax(~np.isnan(matrix), axis=1)
            result = matrix[np.arange(len(matrix)), first]
    return result, fewer


def _issues(problems: list, frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
    if not problems:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _ISSUE_COLUMNS})
    ids = (numbers_as_text(frame["participant_id"]).astype("object").to_numpy()
           if "participant_id" in frame else np.full(len(frame), None, dtype=object))
    parts = []
    for column, _, positions, values, rule in problems:
        pid = [None if not isinstance(i, str) or not i.strip() else i.strip()
               for i in ids[positions]]
        parts.append(pd.DataFrame({"row": positions + first_row, "participant_id": pid,
                                   "column": column, "value": values, "rule": rule}))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("row", kind="stable").reset_index(drop=True)


def _error_lines(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if p not in ("str", "ColumnSource"))
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key {where!r}")
        elif err["type"] in ("literal_error", "value_error", "string_type", "missing"):
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
        else:
            lines.append(f"{where}: {err['msg']}" if where else err["msg"])
    return list(dict.fromkeys(lines))




def map_file(path: str | os.PathLike[str], mapping: StudyMapping,
             out: str | os.PathLike[str], *, read_options: ReadOptions | None = None,
             chunk_size: int = 100_000) -> MappingReport:
    """Apply a mapping to a study file and write the contract-named table (CSV or Parquet).

    Nothing is written when any value could not be mapped: the error names every such
    value with its rows. Validate the output like any cohort file.

    Raises
    ------
    MappingError
        Unmapped values, or a file whose columns cannot fit the mapping.
    CohortFileError
        When the file cannot be read, or the output name is not .csv or .parquet.
    """
    file_format(out)  # refuse a wrong output name before reading anything
    source = open_cohort(path, required=(), options=read_options,
                         keep_codes=NUMERIC_COLUMNS | mapping.keep_codes(),
                         text_columns=TEXT_COLUMNS | mapping.text_sources())
    report = MappingReport()
    plausible = PlausibilityCheck(mapping.declared_units)
    frames, n = [], 0
    for raw, _ in source.chunks(chunk_size):
        frame, chunk_report = mapping.apply(raw, first_row=n + 1)
        n += len(raw)
        report.update(chunk_report)
        plausible.update(frame)
        frames.append(frame)
    report.checked = plausible.checked_lines()
    if not report.ok:
        lines = report.error_lines() or [
            f"row {r.row}, column {r.column}: value {r.value!r}: {r.rule}"
            for r in report.issues.head(5).itertuples()]
        raise MappingError(f"{path}: nothing written; " + "; ".join(lines))
    write_table(pd.concat(frames, ignore_index=True), out)
    return report


# -- what happened -----------------------------------------------------------------------

@dataclass
class UnmappedValue:
    """A study value the mapping could not map: where, how often, and the first rows."""

    column: str
    contract_column: str
    value: str
    count: int
    rows: list[int]

    def line(self) -> str:
        more = ", ..." if self.count > len(self.rows) else ""
        return (f"study column {self.column!r} ({self.contract_column}): value "
                f"{self.value!r} in {self.count} row(s) (rows "
                f"{', '.join(map(str, self.rows))}{more}) could not be mapped")


@dataclass
class MappingReport:
    """What :meth:`StudyMapping.apply` did to a table, and what it could not do.

    Reports of the chunks of one file add up with :meth:`update`.

    Attributes
    ----------
    renamed : dict
        Study column -> contract column.
    recoded : dict
        Contract column -> {study code: rows}; ``"(contract value)"`` counts cells that
        already held the contract's value.
    averaged : dict
        Contract column -> sources, rule and rows averaged from fewer trials.
    converted : dict
        Contract column -> unit, factor and number of values converted.
    constants, offsets, missing_codes : dict
        Constants set, item offsets added, cells set missing by a declared missing code.
    blank_codes : dict
        (contract column, study column) -> count and first rows of blank cells in a
        coded column, left missing (a warning, never silent).
    checked : list of str
        What the unit check saw of each pressure column, after conversion (filled by
        :func:`eihpredict.validation.validate_file`).
    unmapped_values : list of UnmappedValue
        Every study value no code map covers (errors).
    unmapped_columns : list of str
        Study columns neither mapped, contract columns, nor dropped (passed through).
    as_named : list of str
        Contract columns the file already has under their contract name.
    absent : dict
        Contract column -> the study columns it is mapped from, which the file lacks.
    issues : DataFrame
        Row-level problems, columns ``row, participant_id, column, value, rule``.
    """

    n_rows: int = 0
    renamed: dict[str, str] = field(default_factory=dict)
    recoded: dict[str, dict[str, int]] = field(default_factory=dict)
    averaged: dict[str, dict[str, Any]] = field(default_factory=dict)
    converted: dict[str, dict[str, Any]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    missing_codes: dict[str, int] = field(default_factory=dict)
    unmapped_values: list[UnmappedValue] = field(default_factory=list)
    unmapped_columns: dict[str, None] = field(default_factory=dict)
    as_named: dict[str, None] = field(default_factory=dict)
    dropped: dict[str, None] = field(default_factory=dict)
    absent: dict[str, list[str]] = field(default_factory=dict)
    issues: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype=object)
                                              for c in _ISSUE_COLUMNS}))
    n_issues: int = 0
    more_unmapped: dict[str, int] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    blank_codes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    first_row: int = 1

    @property
    def ok(self) -> bool:
        """True when every value was mapped."""
        return not self.unmapped_values and self.n_issues == 0

    def _add_unmapped(self, column: str, contract_column: str, value: Any,
                      rows: Sequence[int], count: int | None = None) -> None:
        count = len(rows) if count is None else count
        for entry in self.unmapped_values:
            if (entry.column, entry.contract_column, entry.value) == (
                    column, contract_column, str(value)):
                entry.count += count
                entry.rows.extend(int(r) for r in rows[: _ROWS_KEPT - len(entry.rows)])
                return
        if sum(e.column == column for e in self.unmapped_values) >= _VALUES_KEPT:
            self.more_unmapped[column] = self.more_unmapped.get(column, 0) + count
            return
        self.unmapped_values.append(UnmappedValue(
            column, contract_column, str(value), count, [int(r) for r in rows[:_ROWS_KEPT]]))

    def update(self, other: MappingReport) -> MappingReport:
        """Add the report of the next chunk of the same file; returns ``self``."""
        self.n_rows += other.n_rows
        self.renamed.update(other.renamed)
        for column, counts in other.recoded.items():
            mine = self.recoded.setdefault(column, {})
            for key, count in counts.items():
                mine[key] = mine.get(key, 0) + count
        for column, entry in other.averaged.items():
            if column in self.averaged:
                self.averaged[column]["rows_fewer_trials"] += entry["rows_fewer_trials"]
            else:
                self.averaged[column] = dict(entry)
        for column, entry in other.converted.items():
            if column in self.converted:
                self.converted[column]["values"] += entry["values"]
            else:
                self.converted[column] = dict(entry)
        self.constants.update(other.constants)
        self.offsets.update(other.offsets)
        for column, count in other.missing_codes.items():
            self.missing_codes[column] = self.missing_codes.get(column, 0) + count
        for entry in other.unmapped_values:
            self._add_unmapped(entry.column, entry.contract_column, entry.value, entry.rows,
                               entry.count)
        for name in ("unmapped_columns", "as_named", "dropped"):
            getattr(self, name).update(getattr(other, name))
        for column, sources in other.absent.items():
            self.absent.setdefault(column, sources)
        for column, count in other.more_unmapped.items():
            self.more_unmapped[column] = self.more_unmapped.get(column, 0) + count
        for key, entry in other.blank_codes.items():
            mine = self.blank_codes.setdefault(key, {"count": 0, "rows": []})
            mine["count"] += entry["count"]
            mine["rows"] += entry["rows"][: _ROWS_KEPT - len(mine["rows"])]
        self.n_issues += other.n_issues
        room = _ISSUES_KEPT - len(self.issues)
        if not other.issues.empty and room > 0:
            kept = other.issues.head(room)
            self.issues = pd.concat([self.issues, kept], ignore_index=True) if (
                not self.issues.empty) else kept
        return self

    def lines(self) -> list[str]:
        """What was done, one line per kind (for the terminal and the model card)."""
        out = []
        if self.renamed:
            out.append("renamed: " + ", ".join(f"{s} -> {c}" for s, c in self.renamed.items()))
        for column, counts in self.recoded.items():
            shown = ", ".join(f"{k}: {v}" for k, v in counts.items())
            out.append(f"recoded {column}: {shown or 'no values'}")
        for column, entry in self.averaged.items():
            fewer = entry["rows_fewer_trials"]
            out.append(f"averaged {column} = {entry['rule']} of {', '.join(entry['sources'])}"
                       + (f" ({fewer} row(s) from fewer trials)" if fewer else ""))
        for column, entry in self.converted.items():
            out.append(f"converted {column}: {entry['unit']} -> {entry['to']} "
                       f"(x {entry['factor']:.8g}, {entry['values']} value(s))")
        out += self.checked  # the unit check after conversion (filled by validation)
        for column, offset in self.offsets.items():
            out.append(f"item offset {column}: {offset:+d}")
        for column, count in self.missing_codes.items():
            out.append(f"missing codes {column}: {count} cell(s) set missing")
        for column, value in self.constants.items():
            out.append(f"constant {column} = {value}")
        if self.as_named:
            out.append(f"used as named: {len(self.as_named)} contract column(s)")
        if self.dropped:
            out.append("dropped: " + ", ".join(self.dropped))
        return out

    def warning_lines(self, *, unmapped_columns: bool = True) -> list[str]:
        """Columns passed through unmapped (unless ``unmapped_columns=False``: a validation
        lists them as unknown columns), and mapped study columns the file lacks."""
        out = []
        if self.unmapped_columns and unmapped_columns:
            out.append(f"{len(self.unmapped_columns)} study column(s) not mapped (kept, "
                       f"never used as features): {', '.join(self.unmapped_columns)}")
        for column, sources in self.absent.items():
            out.append(f"{column}: mapped from {', '.join(sources)}, which the file lacks")
        for (column, source), entry in self.blank_codes.items():
            more = ", ..." if entry["count"] > len(entry["rows"]) else ""
            out.append(f"{column}: {entry['count']} blank cell(s) in study column {source!r} "
                       f"(rows {', '.join(map(str, entry['rows']))}{more}) left missing; "
                       f"give them a code in the study file if they have a value")
        return out

    def error_lines(self) -> list[str]:
        """Every unmapped study value, one line each (at most 50 values per column, then
        a count of the rest)."""
        return [entry.line() for entry in self.unmapped_values] + [
            f"study column {column!r}: {count} more cell(s) with other values that could "
            "not be mapped" for column, count in self.more_unmapped.items()]


def stored_mapping(stored: StudyMapping | None, columns,
                   explicit: StudyMapping | None = None) -> StudyMapping | None:
    """The study mapping to apply to a file with these ``columns``: the one given, else a
    model's own (stored at training, :attr:`eihpredict.model_dir.LoadedModel.mapping`)
    when the file uses the study's names (it lacks a column the contract requires).
    ``score`` and ``prescribe`` decide the same way."""
    if explicit is not None:
        return explicit
    if stored is not None and any(c not in columns for c in REQUIRED_COLUMNS):
        return stored
    return None
