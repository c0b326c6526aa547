"""Draft a study mapping from a file's header and values (``eihpredict map --init``).

The draft is a starting point a person checks, never a silent guess: every suggestion
says why it was made (name, synonym, value range), codes the values cannot decide are
left as ``TODO`` (so the draft does not load until someone decides), and every study
column and value it could not map is listed.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .cohort_io import ReadOptions, open_cohort
from .instruments import INSTRUMENTS, instrument_of_column
from .mapping import MAPPING_FORMAT, code_key, instrument_named
from .schema import COLUMN_BY_NAME, COLUMNS, QUESTIONNAIRES
from .validation import item_coding_shift

__all__ = ["MappingDraft", "draft_mapping"]

_MAX_DISTINCT = 40

#: Contract column -> normalised study names that mean it.
_NAMES: Mapping[str, tuple[str, ...]] = {
    "participant_id": ("record_id", "recordid", "subject", "subject_id", "subjectid", "subj",
                       "id", "participant", "participant_id", "pid", "study_id",
                       "patient_id", "patient", "code", "subject_code", "proband", "vp"),
    "sex": ("gender", "sex", "geschlecht", "sexe", "kon", "sex_1_f_2_m"),
    "age_years": ("age", "age_y", "age_yrs", "alter", "age_at_visit"),
    "bmi_kg_m2": ("bmi", "body_mass_index"),
    "site": ("site", "center", "centre", "location", "study_site"),
    "population": ("group", "population", "diagnosis", "condition", "cohort", "diag",
                   "patient_group", "arm"),
    "pain_duration_months": ("pain_duration", "duration_of_pain", "pain_months",
                             "symptom_duration"),
    "pain_intensity_nrs": ("pain_nrs", "nrs", "pain_intensity", "current_pain", "nrs_pain",
                           "pain"),
    "physical_activity_met_min_week": ("ipaq", "ipaq_total", "met_min_week", "met_minutes",
                                       "physical_activity", "met"),
    # questionnaire totals: declared with each instrument (instruments.py), see _synonyms
    "exercise_modality": ("exercise", "modality", "exercise_type", "exercise_modality",
                          "condition_exercise"),
    "exercise_intensity_pct": ("intensity", "exercise_intensity", "intensity_pct"),
    "exercise_duration_min": ("duration", "exercise_duration", "exercise_min"),
    "cpm_paradigm": ("cpm_paradigm", "paradigm"),
    "cpm_conditioning": ("cpm_conditioning", "conditioning", "conditioning_stimulus"),
    "eih_impaired": ("eih_impaired", "impaired_eih", "non_responder"),
}

def _synonyms() -> dict[str, str]:
    """Normalised study name -> contract column (instrument totals from the registry)."""
    out = {name: column for column, names in _NAMES.items() for name in names}
    for inst in INSTRUMENTS.values():
        for column, names in inst.total_synonyms.items():
            out.update(dict.fromkeys(names, column))
    return out


def _item_of(norm: str) -> tuple[object, int, str] | None:
    """(instrument, contract item number, stem) of a study item name such as ``pseq_3``,
    ``PHQ9_Q2`` or ``stai_21`` (form numbering), or None."""
    stems = sorted(((stem, inst) for inst in INSTRUMENTS.values() for stem in inst.stems),
                   key=lambda pair: -len(pair[0]))
    for stem, inst in stems:
        match = re.fullmatch(re.escape(stem) + r"_?(?:item_?|q_?)?(\d{1,2})", norm)
        if match:
            number = int(match.group(1))
            if number > inst.n_items and inst.study_item_offset:
                number -= inst.study_item_offset
            return inst, number, stem
    return None

#: Contract category value -> study labels (normalised) that mean it.
_VALUE_SYNONYMS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "sex": {"female": ("f", "female", "w", "woman", "women", "weiblich", "frau", "femme",
                       "kvinde", "girl", "fem"),
            "male": ("m", "male", "man", "men", "mannlich", "männlich", "mann", "homme",
                     "mand", "boy")},
    "population": {
        "healthy": ("healthy", "control", "controls", "ctrl", "hc", "pain_free", "painfree",
                    "healthy_control"),
        "chronic_low_back_pain": ("clbp", "lbp", "low_back_pain", "chronic_low_back_pain",
                                  "back_pain"),
        "knee_osteoarthritis": ("koa", "oa", "knee_oa", "knee_osteoarthritis",
                                "osteoarthritis"),
        "chronic_neck_pain": ("cnp", "neck_pain", "chronic_neck_pain", "neck"),
        "fibromyalgia": ("fm", "fms", "fibro", "fibromyalgia"),
        "other_chronic_pain": ("other", "other_chronic_pain", "chronic_pain")},
    "exercise_modality": {
        "aerobic": ("aerobic", "cycling", "bike", "cycle", "running", "walking", "treadmill"),
        "isometric": ("isometric", "wall_squat", "handgrip", "static", "plank"),
        "dynamic_resistance": ("dynamic_resistance", "resistance", "strength", "dynamic",
                               "weights")},
    "cpm_paradigm": {"parallel": ("parallel", "concurrent"),
                     "sequential": ("sequential", "serial")},
    "cpm_conditioning": {
        "cold_pressor": ("cold_pressor", "cold", "cpt", "cold_water", "ice_water"),
        "cuff_pressure": ("cuff_pressure", "cuff", "cuff_algometry"),
        "hot_water": ("hot_water", "hot", "heat", "warm_water"),
        "ischemic": ("ischemic", "ischaemic", "tourniquet"),
        "other": ("other",)},
}

_UNIT_TOKENS = (("kgcm2", "kg/cm2"), ("kgf", "kg/cm2"), ("kg", "kg/cm2"),
                ("ncm2", "N/cm2"), ("lbfcm2", "lbf/cm2"), ("newtons", "N"), ("newton", "N"),
                ("lbf", "lbf"), ("psi", "psi"), ("kpa", "kPa"))
#: Name parts of a derived effect (a change, difference or percentage computed from a
#: before and an after value), never a raw before/after measurement.
_DERIVED = {"abs", "pct", "percent", "perc", "diff", "difference", "change", "delta",
            "effect", "eff", "efficiency", "gain", "ratio", "reduction", "increase",
            "improvement", "magnitude", "chg", "response"}
_FORCES = ("N", "lbf")
_LOCAL = {"local", "l", "loc", "quad", "quadriceps", "vl", "leg", "thigh", "ex", "exercising",
          "biceps", "arm_ex"}
_REMOTE = {"remote", "r", "rem", "trap", "trapezius", "hand", "forearm", "contra",
           "distant", "nonex"}
_PRE = {"pre", "before", "t0", "baseline_ex", "prex"}
_POST = {"post", "after", "t1post", "postex"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


@dataclass
class _Profile:
    """What one pass over the file saw of a column."""

    name: str
    n: int = 0
    n_present: int = 0
    n_numeric: int = 0
    low: float = np.inf
    high: float = -np.inf
    total: float = 0.0
    values: dict[str, int] = field(default_factory=dict)
    many: bool = False

    @property
    def numeric(self) -> bool:
        return self.n_present > 0 and self.n_numeric == self.n_present

    @property
    def mean(self) -> float:
        return self.total / self.n_numeric if self.n_numeric else float("nan")


@dataclass
class _Entry:
    contract: str
    sources: list[str]
    unit: str | None = None
    probe_area_cm2: float | None = None
    codes: dict[str, str] | None = None
    missing: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)


@dataclass
class MappingDraft:
    """A drafted mapping: the YAML text to check, and what could not be mapped.

    Attributes
    ----------
    text : str
        The mapping file (YAML with comments); ``TODO`` marks what a person must decide.
    suggestions : list of str
        One line per contract column filled, with the reason.
    unmapped_columns : list of str
        Study columns the draft does not map (with what was seen).
    unmapped_values : list of str
        Values of mapped category columns the draft could not map (``TODO`` in the text).
    """

    text: str
    suggestions: list[str]
    unmapped_columns: list[str]
    unmapped_values: list[str]

    @property
    def complete(self) -> bool:
        return not self.unmapped_values


def _profile(path: Path, options: ReadOptions | None) -> tuple[list[str], dict[str, _Profile]]:
    header = open_cohort(path, required=(), options=options).columns
    # SPSS value labels: applied where the name suggests a category (sex, group), codes
    # kept elsewhere (items labelled "strongly agree" stay numbers).
    synonyms = _synonyms()
    labelled = {c for c in header if COLUMN_BY_NAME.get(synonyms.get(_norm(c), ""),
                                                        COLUMN_BY_NAME["age_years"]).kind
                == "category"}
    source = open_cohort(path, required=(), options=options,
                         keep_codes=frozenset(header) - labelled)
    profiles = {c: _Profile(c) for c in source.columns}
    for chunk, _ in source.chunks(50_000):
        for name in source.columns:
            p, series = profiles[name], chunk[name]
            p.n += len(series)
            if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
                    series.dtype):
                numbers = series.to_numpy(dtype="float64", na_value=np.nan)
                present = ~np.isnan(numbers)
            else:
                text = series.astype("str").str.strip()
                present = (text.notna() & (text != "")).to_numpy(dtype=bool)
                numbers = pd.to_numeric(text.where(present), errors="coerce").to_numpy(
                    dtype="float64", na_value=np.nan)
            p.n_present += int(present.sum())
            finite = numbers[np.isfinite(numbers)]
            p.n_numeric += len(finite)
            if len(finite):
                p.low, p.high = min(p.low, finite.min()), max(p.high, finite.max())
                p.total += float(finite.sum())
            if not p.many:
                for key, count in pd.Series(series[present]).map(code_key).value_counts(
                        ).items():
                    p.values[key] = p.values.get(key, 0) + int(count)
                if len(p.values) > _MAX_DISTINCT:
                    p.many, p.values = True, {}
    return source.columns, profiles


def _unit_of(tokens: list[str], profile: _Profile) -> tuple[str | None, str]:
    joined = "".join(tokens)
    for token, unit in _UNIT_TOKENS:
        if token in tokens or (len(token) > 2 and token in joined):
            return unit, f"'{token}' in the name"
    if tokens and tokens[-1] == "n":
        return "N", "'n' in the name"
    if profile.numeric and profile.high < 20:
        return "kg/cm2", (f"CHECK: every value is below 20 (largest {profile.high:.3g}), as "
                          "kg/cm2 are")
    if profile.numeric and profile.mean < 100:
        return "N", (f"CHECK: mean {profile.mean:.3g}, below PPTs in kPa, as newtons on a "
                     "1 cm2 probe (or N/cm2) are")
    return None, ""


def _pressure_target(tokens: list[str]) -> str | None:
    words = set(tokens)
    if words & {"cpm"}:
        if words & (_POST | {"cond", "during", "test2"}):
            return "cpm_test_after_kpa"
        return "cpm_test_before_kpa"
    if words & _PRE:
        return "eih_ppt_pre_kpa" if not words & _REMOTE else None
    if words & _POST:
        return "eih_ppt_post_kpa" if not words & _REMOTE else None
    if words & _REMOTE:
        return "ppt_remote_kpa"
    return "ppt_local_kpa"


_TOTAL_WORDS = {"sum", "raw", "total", "score", "rawscore", "summed", "t", "tscore"}


def _instrument_total(norm: str, tokens: list[str], profile: _Profile
                      ) -> tuple[str, str, list[str]] | None:
    """A total or T-score named after its instrument (``promis_anx_rawscore``,
    ``PSEQ total``), decided by the values where the instrument has a lookup (a PROMIS
    sum is 4-20, its T-score 40-82)."""
    named = instrument_named(norm)
    synonym = _synonyms().get(norm)
    if named is None or not (set(tokens) & _TOTAL_WORDS or synonym):
        return None
    inst = named[0]
    totals = [s for s in inst.scales if s.total]
    if not totals or (synonym and synonym != totals[0].total):
        return None  # the synonym rule says which total (hads_d, tsk11, ...)
    column = synonym or totals[0].total
    why = "synonym" if synonym else f"named after the {inst.label or inst.name}, a total"
    lookup = next((lk for lk in inst.lookups if lk.scale == totals[0].feature), None)
    if lookup is not None and (set(tokens) & {"t", "tscore"} or (
            profile.numeric and profile.high > inst.total_range(totals[0])[1])):
        column, why = lookup.feature, (f"named after the {inst.label or inst.name}; values "
                                       f"up to {profile.high:g}, above its raw sums: T-scores")
    return column, why, tokens


_RATING_WORDS = {"rating", "ratings", "nrs", "vas", "rate", "painrating", "pain"}


def _rating_target(tokens: list[str]) -> str | None:
    """The rating-CPM column of a CPM name that says it is a pain rating, or None."""
    words = set(tokens)
    if "cpm" not in words or not words & _RATING_WORDS or words & {"ppt", "kpa", "kg"}:
        return None
    if words & {"scale"}:
        return "cpm_rating_scale"
    if words & (_POST | {"cond", "during", "test2", "cs", "cold", "ice", "cpt",
                         "conditioning", "conditioned"}):
        return "cpm_test_after_rating"
    return "cpm_test_before_rating"


def _trial_stem(norm: str) -> tuple[str, bool]:
    """A name without its trial number (``ppt_l_t1_kg`` -> ``ppt_l_kg``)."""
    stem = re.sub(r"(?:^|_)(?:t|trial|rep|r|m)?([1-5])(?=_|$)", "", norm)
    return stem.strip("_"), stem != norm


def _same_measure(first: str, name: str) -> str:
    """Why two study columns that would fill one contract column are not trials of one
    measure (``""`` when they are: the same name but for a trial number)."""
    stem_a, stem_b = _trial_stem(_norm(first))[0], _trial_stem(_norm(name))[0]
    if stem_a == stem_b:
        return ""
    words_a, words_b = set(stem_a.split("_")), set(stem_b.split("_"))
    return (f"its name differs by {', '.join(sorted(words_b - words_a)) or 'word order'}"
            f" (not by a trial number) from {first}'s "
            f"{', '.join(sorted(words_a - words_b)) or 'name'}")


_ITEM_NAME = re.compile(r"(pcs|tsk|hads)_?(?:item_?|q_?)?(\d{1,2})")


def _item_shifts(columns: list[str], profiles: Mapping[str, _Profile]
                 ) -> dict[str, tuple[int, str]]:
    """Questionnaire -> (offset, why) when its items, taken together, are coded one step
    off the contract's scale (:func:`eihpredict.validation.item_coding_shift`)."""
    counts: dict[str, dict[float, int]] = {}
    for name in columns:
        match = _ITEM_NAME.fullmatch(_norm(name))
        profile = profiles[name]
        if match is None or not profile.numeric or profile.many:
            continue
        mine = counts.setdefault(match.group(1), {})
        for key, count in profile.values.items():
            mine[float(key)] = mine.get(float(key), 0) + count
    out = {}
    for prefix, seen in counts.items():
        shift = item_coding_shift(prefix, seen)
        if shift is not None:
            out[prefix] = (shift[0], f"CHECK: {shift[1]}; item_offsets.{prefix}: "
                                     f"{shift[0]:+d} recodes them")
    return out


def _suggest(name: str, profile: _Profile, shifts: Mapping[str, tuple[int, str]] | None = None
             ) -> tuple[str | None, str, list[str]]:
    """(contract column, why, tokens) for one study column, or (None, why, tokens)."""
    shifts = shifts or {}
    norm = _norm(name)
    tokens = norm.split("_")
    item = _item_of(norm)
    if item:
        questionnaire, number, stem = item
        shift = shifts.get(questionnaire.name, (0, ""))[0]
        if profile.numeric and profile.high + shift > questionnaire.item_max:
            if questionnaire.name == "tsk" and 11 <= profile.low and profile.high <= 44:
                return ("tsk11_total", f"values {profile.low:g}-{profile.high:g} are totals, "
                        "not answers 1-4, and fit the TSK-11 (11-44)", tokens)
            return None, (f"named like item {number} of the {stem.upper()}, but values "
                          f"reach {profile.high:g} (items are {questionnaire.item_min}-"
                          f"{questionnaire.item_max})"), tokens
        if 1 <= number <= questionnaire.n_items:
            return questionnaire.item(number), "item name", tokens
    if name in COLUMN_BY_NAME:
        return name, "contract name", tokens
    total = _instrument_total(norm, tokens, profile)
    if total is not None:
        return total
    is_pressure = any(t in ("ppt", "pressure", "algometer", "algo", "ppts") for t in tokens)
    if is_pressure or "cpm" in tokens or "eih" in tokens:
        derived = sorted(set(tokens) & _DERIVED) or (
            ["median"] if "median" in tokens and len(tokens) > 2 else [])
        # Negative values well beyond a stray typo near zero: a difference, no pressure.
        negative = profile.numeric and profile.low < 0 and -profile.low > 0.1 * profile.high
        if derived or negative:
            evidence = (f"'{derived[0]}' in the name" if derived else
                        f"negative values (lowest {profile.low:.3g}), which no pressure is")
            return None, (f"a derived effect ({evidence}), not a raw before/after "
                          "measurement: left unmapped; the toolkit computes its own effects "
                          "(cpm_abs, cpm_pct) from the raw before and after columns"), tokens
    rating = _rating_target(tokens)
    if rating is not None:
        why = "CPM rating name (a rating, not a pressure: rating-based CPM)"
        if rating != "cpm_rating_scale" and profile.numeric:
            scale = "0-10" if profile.high <= 10 else "0-100"
            why += (f"; CHECK: ratings up to {profile.high:g}, so constants: "
                    f"cpm_rating_scale: {scale} unless the file says")
        return rating, why, tokens
    if is_pressure or ("cpm" in tokens and profile.numeric and profile.mean > 1):
        stem, _ = _trial_stem(norm)
        target = _pressure_target(stem.split("_"))
        if target is None:
            return None, "a remote-site PPT before/after exercise has no contract column", tokens
        return target, "pressure name", tokens
    synonyms = _synonyms()
    target = synonyms.get(norm) or synonyms.get(_trial_stem(norm)[0])
    if target:
        return target, "synonym", tokens
    close = difflib.get_close_matches(norm, [*COLUMN_BY_NAME, *synonyms], n=1, cutoff=0.85)
    if close:
        return COLUMN_BY_NAME[close[0]].name if close[0] in COLUMN_BY_NAME else \
            synonyms[close[0]], f"close to {close[0]!r}", tokens
    return None, "no contract column matches the name", tokens


_MISSING_CODES = (-999.0, -99.0, -9.0, -1.0, 88.0, 98.0, 99.0, 888.0, 999.0, 9999.0)


def _missing_codes(spec, profile: _Profile) -> list[str]:
    """Typical missing-value codes (99, -9, ...) the column holds outside its range."""
    if profile.many:
        candidates = {profile.low, profile.high}
    else:
        candidates = {float(k) for k in profile.values}
    out = [c for c in _MISSING_CODES if c in candidates
           and ((spec.max is not None and c > spec.max) or (spec.min is not None and c < spec.min))]
    return [code_key(c) for c in out]


def _codes_for(column: str, profile: _Profile) -> tuple[dict[str, str] | None, list[str]]:
    """Codes for a category column, and the values it could not decide."""
    spec = COLUMN_BY_NAME[column]
    categories = spec.categories or ()
    if profile.many:
        return None, [f"more than {_MAX_DISTINCT} distinct values"]
    synonyms = {_norm(s): value for value, words in _VALUE_SYNONYMS.get(column, {}).items()
                for s in words}
    codes: dict[str, str] = {}
    undecided = []
    for key, count in sorted(profile.values.items(), key=lambda kv: -kv[1]):
        if key in categories:
            continue
        value = synonyms.get(_norm(key))
        if value is not None:
            codes[key] = value
        else:
            codes[key] = "TODO"
            undecided.append(f"{key} ({count} rows)")
    return (codes or None), undecided


def draft_mapping(path: str | os.PathLike[str], *, read_options: ReadOptions | None = None
                  ) -> MappingDraft:
    """Draft a mapping for a study file from its header and values.

    Parameters
    ----------
    path : path-like
        The study's export (``.csv``, ``.parquet``, ``.xlsx``, ``.sav``); read once.
    read_options : ReadOptions, optional
        CSV separator and decimal mark, Excel sheet.

    Returns
    -------
    MappingDraft
    """
    path = Path(path)
    columns, profiles = _profile(path, read_options)
    entries: dict[str, _Entry] = {}
    unmapped: list[str] = []
    drop = []
    shifts = _item_shifts(columns, profiles)
    for name in columns:
        profile = profiles[name]
        if _norm(name).startswith("redcap_") or _norm(name).endswith("_complete"):
            drop.append(name)
            continue
        if profile.n_present == 0:
            unmapped.append(f"{name} (empty)")
            continue
        target, why, tokens = _suggest(name, profile, shifts)
        if target is None:
            unmapped.append(f"{name} ({why})")
            continue
        spec = COLUMN_BY_NAME[target]
        if target == "tsk_total" and profile.numeric and profile.low < 17 and profile.high <= 44:
            target, spec = "tsk11_total", COLUMN_BY_NAME["tsk11_total"]
            why = (f"values {profile.low:g}-{profile.high:g}: below 17, so TSK-11 totals "
                   "(11-44), not TSK-17")
        if target in entries:
            entry = entries[target]
            if spec.unit == "kPa" and spec.is_numeric:
                other = _same_measure(entry.sources[0], name)
                if other:
                    unmapped.append(f"{name} (would also fill {target}, already from "
                                    f"{entry.sources[0]}, but {other}: a contract column "
                                    "holds one measure, trials of different sites are never "
                                    "averaged; map it by hand, e.g. to ppt_remote_kpa if it "
                                    "is the site away from the exercising muscle)")
                    continue
                entry.sources.append(name)
                entry.why = [w for w in entry.why if not w.endswith("trials averaged")]
                entry.why.append(f"{len(entry.sources)} trials averaged")
                continue
            unmapped.append(f"{name} (would also fill {target}, already from "
                            f"{entry.sources[0]})")
            continue
        entry = _Entry(target, [name], why=[why])
        if spec.unit == "kPa":
            unit, reason = _unit_of(tokens, profile)
            if unit is not None:
                entry.unit = unit
                if unit != "kPa":
                    entry.why.append(f"unit {unit}: {reason}")
                if unit in _FORCES:
                    entry.probe_area_cm2 = 1.0
                    entry.why.append("CHECK: probe_area_cm2 (1 cm2 is the usual probe)")
        elif target == "age_years" and profile.numeric and profile.low > 100:
            entry.unit = "months"
            entry.why.append(f"CHECK: every value above 100 (lowest {profile.low:.4g}): "
                             "ages in months")
        if spec.is_numeric and profile.numeric:
            entry.missing = _missing_codes(spec, profile)
            if entry.missing:
                entry.why.append(f"CHECK: {', '.join(entry.missing)} outside "
                                 f"{spec.rule}, read as missing-value codes")
        if spec.is_category:
            entry.codes, undecided = _codes_for(target, profile)
            blank = profile.n - profile.n_present
            if blank:
                entry.why.append(f"CHECK: {blank} blank cell(s) in {name} will be a missing "
                                 f"{target} (reported when the mapping is applied)")
            if undecided:
                entry.why.append(f"TODO: decide {', '.join(undecided)} -> "
                                 f"{' / '.join(spec.categories or ())}")
        entries[target] = entry
    return _render(path, entries, unmapped, drop, shifts)


def _scalar(value: str) -> str:
    return yaml.safe_dump([value], default_flow_style=True, allow_unicode=True,
                          width=10_000).strip()[1:-1]


def _render(path: Path, entries: dict[str, _Entry], unmapped: list[str],
            drop: list[str], shifts: Mapping[str, tuple[int, str]] | None = None
            ) -> MappingDraft:
    shifts = shifts or {}
    lines = [
        f"# Study mapping drafted by `eihpredict map --init {path.name}` on "
        f"{_dt.date.today().isoformat()}.",
        "# A draft: check every suggestion (CHECK) and decide every TODO, then run",
        f"#   eihpredict validate {path.name} --mapping THIS_FILE.yaml",
        "# Format: docs/mapping.md.",
        f"format: {MAPPING_FORMAT}",
        f"study: {_scalar(path.stem)}",
        "columns:",
    ]
    suggestions, unmapped_values = [], []
    order = {c.name: i for i, c in enumerate(COLUMNS)}
    offset_items = {item for prefix in shifts for item in QUESTIONNAIRES[prefix].items}
    for target in sorted(entries, key=order.__getitem__):
        entry = entries[target]
        simple = (len(entry.sources) == 1 and entry.unit is None and entry.codes is None
                  and not entry.missing)
        why = "; ".join(entry.why)
        if simple and entry.sources[0] == target and target not in offset_items:
            lines.append(f"  # {target}: as named")
            continue
        if simple:
            lines.append(f"  {target}: {_scalar(entry.sources[0])}  # {why}")
        else:
            lines.append(f"  {target}:  # {why}")
            if len(entry.sources) > 1:
                lines.append(f"    average: [{', '.join(map(_scalar, entry.sources))}]")
            else:
                lines.append(f"    from: {_scalar(entry.sources[0])}")
            if entry.unit is not None:
                lines.append(f"    unit: {entry.unit}")
            if entry.probe_area_cm2 is not None:
                lines.append(f"    probe_area_cm2: {entry.probe_area_cm2:g}")
            if entry.codes:
                lines.append("    codes:")
                for key, value in entry.codes.items():  # a TODO refuses to load: decide it
                    lines.append(f"      {_scalar(key)}: {value}")
            if entry.missing:
                lines.append(f"    missing: [{', '.join(entry.missing)}]")
        suggestions.append(f"{target} <- {', '.join(entry.sources)}"
                           + (f" ({entry.unit})" if entry.unit else "") + f": {why}")
        todo = [k for k, v in (entry.codes or {}).items() if v == "TODO"]
        if todo:
            unmapped_values.append(f"{', '.join(entry.sources)} -> {target}: value(s) "
                                   f"{', '.join(todo)} could not be mapped (TODO)")
    shifted = {prefix: shift for prefix, shift in shifts.items()
               if any(e.contract in QUESTIONNAIRES[prefix].items for e in entries.values())}
    if shifted:
        lines.append("item_offsets:")
        for prefix, (offset, why) in shifted.items():
            lines.append(f"  {prefix}: {offset}  # {why}")
            suggestions.append(f"item_offsets.{prefix} = {offset:+d}: {why}")
    used = list(dict.fromkeys(inst.name for target in entries
                              if (inst := instrument_of_column(target)) is not None))
    if used:  # the mapping declares the instruments: any other's column is then refused
        lines.append(f"instruments: [{', '.join(used)}]  # CHECK: the instruments the study "
                     "used (docs/instruments.md)")
    absent = [c.name for c in COLUMNS if c.is_category and c.name not in entries
              and c.name not in ("sex",)]
    if absent:
        lines.append("# constants:  # a value the same for every row, if the file lacks it")
        for name in absent:
            lines.append(f"#   {name}: {' | '.join(COLUMN_BY_NAME[name].categories or ())}")
    if drop:
        lines.append(f"drop: [{', '.join(map(_scalar, drop))}]  # REDCap bookkeeping")
    if unmapped:
        lines.append("# Not mapped (kept and passed through, never used as features):")
        lines += [f"#   {u}" for u in unmapped]
        if not drop:
            lines.append("# drop: []  # study columns removed on reading (names, birth dates)")
    return MappingDraft("\n".join(lines) + "\n", suggestions, unmapped, unmapped_values)
