"""Which exercise for this patient: a per-patient prescription with honest uncertainty.

For every participant and every candidate exercise option (modality, intensity,
duration; by default the options seen in training), the model's P(impaired EIH) with a
95 % interval, the option's rank (1 = lowest P) and its difference to the best option
with a paired 95 % interval. Everything goes through the one fitted-model protocol
(:class:`eihpredict.modeling.FittedModel`, :class:`~eihpredict.modeling.ColumnBatch`)
and the one validator, so the Python function (:func:`prescribe`), ``eihpredict
prescribe`` and ``POST /prescribe`` give the same numbers.

Uncertainty: a participant-level bootstrap of the whole fitted pipeline. At training
time (:func:`fit_prescription`), the chosen candidate is refitted ``B`` times (its
hyperparameters, its own calibration folds) on participants drawn with replacement (all
sessions of a drawn participant together) and the refits are stored with the model
(``artifacts/prescription.joblib``). The interval of P is the 2.5 and 97.5 percentiles
of the refits' predictions; the interval of a difference uses the same refits, paired.

When it may be read causally: only when the exercise was allocated at random
(``design.allocation: randomised``: a crossover in random order or randomised parallel
groups). Observational allocation (the clinician chose the exercise) confounds the
option with whatever drove the choice: :func:`prescribe` refuses it unless
``allow_observational`` and then warns; an undeclared allocation is a warning. The
heterogeneity test (is the best option the same for everyone?) is computed at training
and reported before any personal ranking.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cohort_io import ReadOptions
from .config import CandidateConfig, PipelineConfig
from .features import baseline_moderators
from .fileio import atomic_path
from .mapping import StudyMapping
from .model_dir import LoadedModel
from .modeling import ColumnBatch, FittedModel, draw_rows, fit_candidate, heterogeneity_test
from .sessions import (
    EXERCISE_OPTION_COLUMNS,
    describe_design,
    has_sessions,
    option_labels,
)
from .validation import (
    CohortValidationError,
    DuplicateTracker,
    read_valid_cohort,
    validate_frame,
    validate_records,
)

__all__ = ["PRESCRIPTION_ARTIFACT", "PRESCRIPTION_COLUMNS", "Prescription", "PrescriptionError",
           "fit_prescription", "load_options", "phenotype_strata", "plot_strata", "prescribe",
           "prescribe_file", "prescribe_records",
           "prescription_metadata", "write_prescription"]

logger = logging.getLogger("eihpredict.prescribe")

#: Output columns, in order (contract v3).
PRESCRIPTION_COLUMNS = ("participant_id", "option", "exercise_modality",
                        "exercise_intensity_pct", "exercise_duration_min", "p_impaired_eih",
                        "p_low", "p_high", "rank", "difference_to_best", "difference_low",
                        "difference_high")
#: The stored bootstrap refits, inside the model directory's ``artifacts/``.
PRESCRIPTION_ARTIFACT = "prescription.joblib"
#: Refits when ``prescription.bootstrap`` is not set and the cohort allows a prescription.
DEFAULT_BOOTSTRAP = 200
#: Phenotype strata (CPM efficiency x TS): CPM responder rule >= 20 % (Yarnitsky 2015's
#: common rule), TS facilitated at a rise of >= 2 NRS points over the train.
CPM_EFFICIENT_PCT = 20.0
TS_HIGH_NRS = 2.0
CAUSAL_DESIGNS = ("randomised crossover", "randomised parallel groups")


class PrescriptionError(ValueError):
    """A prescription that cannot be made (no stored refits, an option outside the
    training support, observational allocation)."""


# -- training ---------------------------------------------------------------------------

def training_options(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The exercise options of a typed training cohort, with their row counts."""
    present = frame[list(EXERCISE_OPTION_COLUMNS)].dropna()
    counts = present.astype({"exercise_modality": str}).value_counts(sort=False)
    out = []
    for (modality, intensity, duration), count in sorted(counts.items()):
        out.append({"option": option_labels(pd.DataFrame(
            [[modality, intensity, duration]], columns=list(EXERCISE_OPTION_COLUMNS)))[0],
            "exercise_modality": str(modality), "exercise_intensity_pct": float(intensity),
            "exercise_duration_min": float(duration), "n_rows": int(count)})
    return out


def wants_prescription(config: PipelineConfig, frame: pd.DataFrame) -> int:
    """Number of bootstrap refits to store (0: none)."""
    if config.prescription.bootstrap is not None:
        return int(config.prescription.bootstrap)
    if not set(EXERCISE_OPTION_COLUMNS) <= set(frame.columns):
        return 0
    if "exercise" not in config.features.groups:
        return 0
    return DEFAULT_BOOTSTRAP if has_sessions(frame) else 0


def fit_prescription(candidate: CandidateConfig, config: PipelineConfig, X: pd.DataFrame,
                     y: np.ndarray, params: dict[str, Any], *, n_boot: int, seed: int,
                     on_progress: Callable[[int, int], None] | None = None
                     ) -> list[FittedModel]:
    """``n_boot`` refits of the chosen candidate on participant-resampled data.

    All rows of a drawn participant go in together (copies of one participant keep one
    id, so the refit's calibration folds keep them on one side too).
    """
    ids = X["participant_id"].astype(str).to_numpy()
    rng = np.random.default_rng([seed, 23])
    refits = []
    for b in range(n_boot):
        idx = draw_rows(rng, len(y), ids)
        Xb = X.iloc[idx].reset_index(drop=True)
        if "session_id" not in Xb:  # one row per participant: copies are its "sessions"
            Xb = Xb.assign(session_id=np.arange(len(Xb)).astype(str))
        fitted = fit_candidate(candidate, config, Xb, y[idx], seed=seed + 1 + b,
                               params=params)
        refits.append(fitted.model)
        if on_progress is not None:
            on_progress(b + 1, n_boot)
    return refits


def prescription_metadata(config: PipelineConfig, frame: pd.DataFrame, y_event: np.ndarray,
                          n_boot: int) -> dict[str, Any]:
    """What ``metadata.json`` stores under ``prescription``."""
    options = training_options(frame)
    support: dict[str, dict[str, list[float]]] = {}
    for o in options:
        s = support.setdefault(o["exercise_modality"], {
            "exercise_intensity_pct": [np.inf, -np.inf],
            "exercise_duration_min": [np.inf, -np.inf]})
        for column in ("exercise_intensity_pct", "exercise_duration_min"):
            s[column] = [min(s[column][0], o[column]), max(s[column][1], o[column])]
    design = describe_design(frame)
    allocation = config.design.allocation
    heterogeneity = None
    try:
        heterogeneity = heterogeneity_test(frame, y_event).to_dict()
    except ValueError as exc:
        logger.warning("    heterogeneity test not run: %s", exc)
    return {"bootstrap": n_boot, "artifact": f"artifacts/{PRESCRIPTION_ARTIFACT}",
            "options": options, "support": support, "design": design.to_dict(),
            "allocation": allocation, "causal": _causal(design.design, allocation),
            "heterogeneity": heterogeneity,
            "strata": {"cpm_efficient_pct": CPM_EFFICIENT_PCT, "ts_high_nrs": TS_HIGH_NRS}}


def _causal(design: str, allocation: str) -> str:
    if allocation == "randomised" and design in ("crossover", "parallel groups"):
        return (f"yes: randomised {design}; the differences between options may be read "
                "as per-patient comparisons (under the model's assumptions)")
    if allocation == "observational":
        return ("no: observational allocation (the exercise was chosen, not randomised); "
                "differences between options are associations, confounded by whatever "
                "drove the choice")
    return (f"not declared: the training design is {design}; only a randomised "
            "crossover or randomised parallel groups (design.allocation: randomised) "
            "support a per-patient comparison")


# -- scoring ---------------------------------------------------------------------------------

@dataclass
class Prescription:
    """Result of :func:`prescribe`.

    Attributes
    ----------
    table : DataFrame
        :data:`PRESCRIPTION_COLUMNS`, one row per participant and option, ordered by
        participant (input order) and rank.
    heterogeneity : dict or None
        The training cohort's heterogeneity test (reported before the rankings).
    causal : str
        Whether the training design supports a per-patient comparison, and why.
    warnings : list of str
    strata : DataFrame
        Per phenotype stratum (CPM efficiency x TS) and option: mean P(impaired) with
        its interval, difference to the stratum's best option with its interval.
    """

    table: pd.DataFrame
    heterogeneity: dict | None
    allocation: str
    causal: str
    warnings: list[str] = field(default_factory=list)
    strata: pd.DataFrame | None = None
    n_bootstrap: int = 0

    def heading(self) -> list[str]:
        """Lines shown before any personal ranking: heterogeneity, then causality."""
        het = self.heterogeneity
        lines = [_describe_heterogeneity(het) if het else
                 "heterogeneity test: not available for this model"]
        lines.append(f"causal reading: {self.causal}")
        lines += [f"warning: {w}" for w in self.warnings]
        return lines

    def about(self) -> dict[str, Any]:
        return {"heterogeneity": self.heterogeneity, "allocation": self.allocation,
                "causal": self.causal, "warnings": self.warnings,
                "n_bootstrap": self.n_bootstrap,
                "interval": "95 % participant-level bootstrap of the whole fitted pipeline "
                            "(percentiles; differences paired)"}


def _describe_heterogeneity(het: Mapping[str, Any]) -> str:
    verdict = ("the best exercise differs between participants" if het["heterogeneous"]
               else "no evidence that the best exercise differs between participants: "
                    "personal rankings mostly repeat the average ranking")
    return (f"heterogeneity test (training cohort): F = {het['statistic'] / het['df']:.2f} on "
            f"{het['df']} and {het['df_denominator']} df, p = {het['p_value']:.3g}: {verdict}")


def load_options(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read an options YAML: a list (or ``options:`` list) of ``modality``,
    ``intensity_pct``, ``duration_min``.

    Raises
    ------
    PrescriptionError
        Naming the option (1-based) and the field that is wrong.
    """
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PrescriptionError(f"{path}: cannot read the options file: {exc}") from None
    if isinstance(data, dict) and "options" in data:
        data = data["options"]
    if not isinstance(data, list) or not data:
        raise PrescriptionError(f"{path}: expected a list of options (modality, "
                                "intensity_pct, duration_min)")
    return [_option(item, f"{path}: option {i}") for i, item in enumerate(data, start=1)]


def _option(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise PrescriptionError(f"{where}: expected modality, intensity_pct, duration_min")
    keys = {"modality": "exercise_modality", "intensity_pct": "exercise_intensity_pct",
            "duration_min": "exercise_duration_min"}
    unknown = sorted(set(item) - set(keys) - set(keys.values()))
    if unknown:
        raise PrescriptionError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; "
                                "expected modality, intensity_pct, duration_min")
    out: dict[str, Any] = {}
    for short, column in keys.items():
        value = item.get(short, item.get(column))
        if value is None:
            raise PrescriptionError(f"{where}: {short} is missing")
        if short == "modality":
            out[column] = str(value).strip().lower()
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise PrescriptionError(f"{where}: {short} {value!r} is not a number") from None
            if not np.isfinite(number):
                raise PrescriptionError(f"{where}: {short} {value!r} is not a finite number")
            out[column] = number
    out["option"] = option_labels(pd.DataFrame([out]))[0]
    return out


def _check_support(options: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> None:
    support = meta["support"]
    for o in options:
        name = o["option"]
        modality = o["exercise_modality"]
        if modality not in support:
            raise PrescriptionError(
                f"option {name!r} is outside the training support: modality {modality!r} "
                f"was not in the training data (seen: {', '.join(sorted(support))}); "
                "the model does not extrapolate")
        for column, unit in (("exercise_intensity_pct", "%"), ("exercise_duration_min", "min")):
            lo, hi = support[modality][column]
            if not lo <= o[column] <= hi:
                raise PrescriptionError(
                    f"option {name!r} is outside the training support: {column} "
                    f"{o[column]:g} {unit} outside the {lo:g}-{hi:g} {unit} seen for "
                    f"{modality} in training; the model does not extrapolate")


_REFITS: dict[tuple[str, str], list[FittedModel]] = {}


def _refits(loaded: LoadedModel) -> list[FittedModel]:
    """The stored bootstrap refits (loaded once per model directory and version; the
    directory's checksums were verified when it was loaded)."""
    import joblib

    key = (str(Path(loaded.path).resolve()), loaded.version)
    if key not in _REFITS:
        _REFITS[key] = joblib.load(Path(loaded.path) / "artifacts" / PRESCRIPTION_ARTIFACT)
    return _REFITS[key]


def _columns_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A typed frame as the column arrays :func:`validate_records` gives."""
    out = {}
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series.dtype):
            out[name] = series.to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = series.astype(object).to_numpy()
            out[name] = np.array([None if v is None or (isinstance(v, float) and np.isnan(v))
                                  else str(v) for v in values], dtype=object)
    return out


def prescribe(loaded: LoadedModel, frame: pd.DataFrame,
              options: Sequence[Mapping[str, Any]] | None = None, *,
              allow_observational: bool = False) -> Prescription:
    """Per-patient prescription for the participants of ``frame``.

    Parameters
    ----------
    loaded : LoadedModel
        A model directory trained with a prescription (metadata ``prescription``).
    frame : DataFrame
        Cohort rows as read (checked by the one validator). With ``session_id``, a
        participant's first row gives its baseline; exercise and outcome columns are
        ignored.
    options : sequence of dict, optional
        ``exercise_modality``, ``exercise_intensity_pct``, ``exercise_duration_min``
        each (or ``modality``, ``intensity_pct``, ``duration_min``); default: the
        options seen in training.
    allow_observational : bool
        Prescribe from a model trained on observationally allocated exercise (with a
        warning); refused otherwise.

    Returns
    -------
    Prescription

    Raises
    ------
    CohortValidationError
        When a row breaks the contract (every problem is in ``issues``).
    PrescriptionError
        No stored refits, an option outside the training support, observational
        allocation.
    """
    checked = validate_frame(frame, duplicates=DuplicateTracker())
    if len(checked.issues):
        raise CohortValidationError(checked.issues, "prescribe input")
    return _prescribe(loaded, _columns_of(checked.frame), len(checked.frame), options,
                      allow_observational)


def prescribe_records(loaded: LoadedModel, records: list[Mapping[str, Any]],
                      options: Sequence[Mapping[str, Any]] | None = None, *,
                      allow_observational: bool = False) -> Prescription | list[dict]:
    """:func:`prescribe` for JSON records (the service): the issues when any record is
    invalid (nothing is prescribed), else the prescription."""
    checked = validate_records(list(records))
    if checked.issues:
        return checked.issues
    return _prescribe(loaded, checked.columns, len(records), options, allow_observational)


def prescribe_file(model: str | os.PathLike[str], input: str | os.PathLike[str],
                   output: str | os.PathLike[str], *,
                   options: str | os.PathLike[str] | None = None,
                   report: str | os.PathLike[str] | None = None,
                   allow_observational: bool = False,
                   read_options: ReadOptions | None = None,
                   mapping: StudyMapping | None = None) -> Prescription:
    """``eihpredict prescribe``: read and check the whole input file (any invalid row
    stops it, with every problem listed), prescribe, write (:func:`write_prescription`).
    ``mapping`` maps a study's own names, codes and units onto the contract; without
    one, a model trained with a mapping applies its stored mapping to a file that uses
    the study's names (as ``score`` does: :func:`~eihpredict.mapping.stored_mapping`)."""
    from .cohort_io import open_cohort
    from .mapping import stored_mapping
    from .model_dir import load_model_dir

    loaded = load_model_dir(model)
    chosen = load_options(options) if options is not None else None
    header = open_cohort(input, required=(), options=read_options).columns
    mapping = stored_mapping(loaded.mapping, header, mapping)
    frame = read_valid_cohort(input, read_options=read_options, mapping=mapping)
    result = _prescribe(loaded, _columns_of(frame), len(frame), chosen, allow_observational)
    write_prescription(result, output, report=report)
    return result


def _prescribe(loaded: LoadedModel, columns: dict[str, np.ndarray], n: int,
               options: Sequence[Mapping[str, Any]] | None,
               allow_observational: bool) -> Prescription:
    meta = loaded.metadata.get("prescription")
    if not meta or not meta.get("bootstrap"):
        raise PrescriptionError(
            f"model {loaded.version} has no prescription: it was trained without stored "
            "bootstrap refits (a cohort with one exercise option, or prescription.bootstrap "
            "0); train on a repeated-session or parallel-group cohort")
    warnings = []
    if meta["allocation"] == "observational":
        if not allow_observational:
            raise PrescriptionError(
                "the model was trained on observationally allocated exercise "
                "(design.allocation: observational): option differences are confounded "
                "by whatever drove the choice, not per-patient effects; refused unless "
                "allow_observational (--allow-observational)")
        warnings.append("observational allocation: option differences are associations, "
                        "not per-patient effects")
    elif meta["allocation"] != "randomised":
        warnings.append("allocation not declared (design.allocation): read the ranking "
                        "causally only if the exercise was randomised")
    chosen = ([_option(o, f"option {i}") for i, o in enumerate(options, start=1)]
              if options is not None else
              [{k: o[k] for k in ("option", *EXERCISE_OPTION_COLUMNS)} for o in meta["options"]])
    if not chosen:
        raise PrescriptionError("no options to compare")
    _check_support(chosen, meta)
    ids = np.asarray(columns["participant_id"], dtype=object)
    _, first = np.unique(ids.astype(str), return_index=True)
    first = np.sort(first)  # one row per participant, in input order
    base = {k: np.asarray(v)[first] if not isinstance(v, pd.Categorical) else v[first]
            for k, v in columns.items()}
    m = len(first)
    model: FittedModel = loaded.model
    refits = _refits(loaded)
    K, B = len(chosen), len(refits)
    point = np.empty((K, m))
    boot = np.empty((B, K, m))
    for k, o in enumerate(chosen):
        cols = {**base,
                "exercise_modality": np.full(m, o["exercise_modality"], dtype=object),
                "exercise_intensity_pct": np.full(m, o["exercise_intensity_pct"], "float64"),
                "exercise_duration_min": np.full(m, o["exercise_duration_min"], "float64")}
        batch = ColumnBatch.from_columns(cols, m).with_missing(
            [*model.input_columns, *model.optional_columns])
        point[k] = model.predict(batch)["p_impaired_eih"]
        for b, refit in enumerate(refits):
            boot[b, k] = refit.predict(batch.with_missing(
                [*refit.input_columns, *refit.optional_columns]))["p_impaired_eih"]
    table = _table(base["participant_id"], chosen, point, boot)
    strata = _strata(base, chosen, point, boot)
    return Prescription(table, meta.get("heterogeneity"), meta["allocation"], meta["causal"],
                        warnings, strata, B)


def _table(ids, options, point: np.ndarray, boot: np.ndarray) -> pd.DataFrame:
    K, m = point.shape
    order = np.argsort(point, axis=0, kind="stable")  # ties: the earlier option first
    rank = np.empty((K, m), dtype=np.int64)
    rank[order, np.arange(m)[None, :]] = np.arange(1, K + 1)[:, None]
    best = order[0]
    low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    diff = point - point[best, np.arange(m)]
    diff_boot = boot - boot[:, best, np.arange(m)][:, None, :]
    d_low, d_high = np.nanpercentile(diff_boot, [2.5, 97.5], axis=0)
    rows = []
    for i in range(m):
        for k in order[:, i]:
            o = options[k]
            rows.append((str(ids[i]), o["option"], o["exercise_modality"],
                         o["exercise_intensity_pct"], o["exercise_duration_min"],
                         point[k, i], low[k, i], high[k, i], int(rank[k, i]), diff[k, i],
                         d_low[k, i], d_high[k, i]))
    return pd.DataFrame(rows, columns=list(PRESCRIPTION_COLUMNS))


def phenotype_strata(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """CPM efficiency x TS stratum of each participant (``unknown`` where missing).

    Examples
    --------
    >>> phenotype_strata({"cpm_test_before_kpa": np.array([300.0, 300.0]),
    ...                   "cpm_test_after_kpa": np.array([400.0, 310.0]),
    ...                   "ts_first_nrs": np.array([2.0, 2.0]),
    ...                   "ts_last_nrs": np.array([3.0, 6.0])}).tolist()
    ['efficient CPM, low TS', 'less efficient CPM, high TS']
    """
    n = len(columns["participant_id"]) if "participant_id" in columns else len(
        next(iter(columns.values())))
    numeric = {c: np.asarray(v, dtype="float64") for c, v in columns.items()
               if c in ("cpm_test_before_kpa", "cpm_test_after_kpa", "ts_first_nrs",
                        "ts_last_nrs")}
    z = baseline_moderators(numeric)
    cpm = z.get("cpm_pct", np.full(n, np.nan)) * 20.0 + 15.0
    ts = z.get("ts_diff", np.full(n, np.nan)) * 1.5 + 1.5
    cpm_label = np.where(np.isnan(cpm), "unknown CPM",
                         np.where(cpm >= CPM_EFFICIENT_PCT, "efficient CPM",
                                  "less efficient CPM"))
    ts_label = np.where(np.isnan(ts), "unknown TS",
                        np.where(ts >= TS_HIGH_NRS, "high TS", "low TS"))
    return np.char.add(np.char.add(cpm_label.astype(str), ", "), ts_label.astype(str))


def _strata(base, options, point: np.ndarray, boot: np.ndarray) -> pd.DataFrame:
    labels = phenotype_strata(base)
    rows = []
    for stratum in sorted(set(labels)):
        mask = labels == stratum
        p = point[:, mask].mean(axis=1)
        pb = boot[:, :, mask].mean(axis=2)
        best = int(np.argmin(p))
        low, high = np.nanpercentile(pb, [2.5, 97.5], axis=0)
        d_low, d_high = np.nanpercentile(pb - pb[:, [best]], [2.5, 97.5], axis=0)
        for k, o in enumerate(options):
            rows.append({"stratum": stratum, "n_participants": int(mask.sum()),
                         "option": o["option"], "p_impaired_eih": p[k], "p_low": low[k],
                         "p_high": high[k], "difference_to_best": p[k] - p[best],
                         "difference_low": d_low[k], "difference_high": d_high[k]})
    return pd.DataFrame(rows)


def plot_strata(strata: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Per-stratum P(impaired EIH) per option with 95 % intervals (one panel each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(strata["stratum"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.2), sharey=True,
                             squeeze=False)
    for ax, stratum in zip(axes[0], groups, strict=True):
        part = strata[strata["stratum"] == stratum].reset_index(drop=True)
        y = np.arange(len(part))
        ax.errorbar(part["p_impaired_eih"], y,
                    xerr=[part["p_impaired_eih"] - part["p_low"],
                          part["p_high"] - part["p_impaired_eih"]], fmt="o", capsize=3)
        ax.set_yticks(y, part["option"])
        ax.set_xlim(0, 1)
        ax.set_title(f"{stratum}\n(n = {int(part['n_participants'].iloc[0])})", fontsize=8)
        ax.set_xlabel("P(impaired EIH), 95 % interval", fontsize=8)
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return target


def write_prescription(result: Prescription, output: str | os.PathLike[str], *,
                       report: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the table (CSV or Parquet by extension, atomically), beside it
    ``OUTPUT.about.json`` (heterogeneity test, causal reading, warnings), and with
    ``report`` a folder holding ``strata.csv``, ``strata.png`` and ``report.md``."""
    import json

    from .cohort_io import write_table

    output = Path(output)
    write_table(result.table, output)
    about = output.with_name(output.name + ".about.json")
    with atomic_path(about) as tmp:
        tmp.write_text(json.dumps(result.about(), indent=2, default=str))
    written = [output, about]
    if report is not None:
        folder = Path(report)
        folder.mkdir(parents=True, exist_ok=True)
        strata = result.strata if result.strata is not None else pd.DataFrame()
        with atomic_path(folder / "strata.csv") as tmp:
            strata.to_csv(tmp, index=False)
        written.append(folder / "strata.csv")
        if len(strata):
            written.append(plot_strata(strata, folder / "strata.png"))
        lines = ["# Exercise prescription report", "", *[f"- {line}" for line in
                                                         result.heading()], "",
                 "## Phenotype strata (CPM efficiency x temporal summation)", "",
                 "| stratum | n | option | P(impaired) | 95 % interval | difference to "
                 "best | 95 % interval |", "|---|---|---|---|---|---|---|"]
        for row in strata.itertuples():
            lines.append(f"| {row.stratum} | {row.n_participants} | {row.option} | "
                         f"{row.p_impaired_eih:.3f} | {row.p_low:.3f}-{row.p_high:.3f} | "
                         f"{row.difference_to_best:+.3f} | {row.difference_low:+.3f} to "
                         f"{row.difference_high:+.3f} |")
        with atomic_path(folder / "report.md") as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        written.append(folder / "report.md")
    return written
