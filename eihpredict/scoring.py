"""Scoring: the one scoring path, and the streaming batch engine behind ``eihpredict score``.

:func:`score_frame` is what the batch CLI, the HTTP endpoint, the MLflow pyfunc
wrapper and notebooks all call, so the same row gets the same number everywhere.
Invalid rows are never scored and never dropped silently: they come back in
``rejects`` with their reasons.

:func:`score_file` streams a CSV or Parquet file (or a directory of parts) through
:func:`score_frame` chunk by chunk, in bounded memory, locally or on a Dask cluster.
Each finished chunk is written to a work folder beside the output
(``.<output name>.work/``); only when every chunk is done are the parts joined into
the final file, which is then moved into place atomically. A crash or Ctrl-C leaves
no file under the output's name; ``--resume`` continues from the last finished chunk
and produces the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .cohort_io import (
    CohortFileError,
    CohortSource,
    ReadOptions,
    file_format,
    open_cohort,
    write_table,
)
from .explain import top_contributions
from .fileio import OutputPathError, atomic_path, check_outputs, same_file
from .mapping import MappingError, StudyMapping, stored_mapping
from .modeling import ColumnBatch, FittedModel
from .schema import COLUMN_BY_NAME, OUTCOME_COLUMNS, REQUIRED_COLUMNS
from .validation import (
    DuplicateTracker,
    PlausibilityCheck,
    as_text,
    format_issue,
    open_study,
    passthrough_names,
    reject_table,
    validate_frame,
    validate_mapped_frame,
    validate_records,
)

__all__ = ["RecordScores", "ScoreResult", "ScoreSummary", "ScoringError", "absent_inputs",
           "passthrough_names", "score_file", "score_frame", "score_records", "stored_mapping",
           "too_few_observed"]

logger = logging.getLogger("eihpredict.score")


#: Rows of each chunk the unit check of a scoring run reads (validate reads every row).
PLAUSIBILITY_SAMPLE = 10_000


class ScoringError(ValueError):
    """A batch scoring run that cannot start or must stop (one readable line)."""


class _ResumeRefused(ScoringError):
    """``--resume`` with other settings: the interrupted run's work folder is kept."""


def _resume_options(settings: dict) -> str:
    """The command-line options that reproduce a run's settings (for a refused resume)."""
    options = [f"--chunk-size {settings['chunk_size']}"]
    if settings.get("explain"):
        options.append(f"--explain {settings['explain']}")
    options.append(f"--on-error {settings.get('on_error', 'skip')}")
    if settings.get("rejects"):
        options.append(f"--rejects {settings['rejects']}")
    if settings.get("raw_text"):
        options.append("--raw-text")
    if settings.get("min_observed_share") is not None:
        options.append(f"--min-observed {settings['min_observed_share']:g}")
    if settings.get("missing_explanation") is False:
        options.append("--no-missing-explanation")
    if settings.get("mapping"):
        options.append("--mapping (the same study mapping)")
    return " ".join(options)


@dataclass
class ScoreResult:
    """Scores of the valid rows (input order) and the rejected rows with reasons.

    ``valid`` flags the input rows that were scored (``scored`` holds them in order).
    """

    scored: pd.DataFrame
    rejects: pd.DataFrame
    issues: pd.DataFrame
    valid: np.ndarray | None = None




def check_explain(model: FittedModel, explain: int) -> None:
    """Refuse an ``explain`` count the model cannot fill: more than its features.

    Raises
    ------
    ScoringError
    """
    n = len(model.feature_names)
    if explain > n:
        raise ScoringError(f"--explain {explain}: the model has {n} features, so at most "
                           f"{n} contributions per row can be listed; give --explain {n} "
                           "or fewer")


def _outputs_frame(model: FittedModel, batch: ColumnBatch, ids, explain: int,
                   missing_explanation: bool = True) -> pd.DataFrame:
    check_explain(model, explain)
    contributions = model.explanation(batch) if explain > 0 else None
    scored = pd.DataFrame({"participant_id": ids, **model.predict(
        batch, contributions, missing_explanation=missing_explanation)})
    if contributions is not None:
        top = top_contributions(contributions, explain)
        for i in range(top.shape[1] // 3, explain):  # fewer features than asked: empty
            top[f"feature_{i + 1}"] = pd.Series([None] * batch.n, dtype=object)
            top[f"value_{i + 1}"] = np.nan
            top[f"contribution_{i + 1}"] = np.nan
        scored = pd.concat([scored, top.reset_index(drop=True)], axis=1)
    return scored


def score_frame(model: FittedModel, frame: pd.DataFrame, *, first_row: int = 1,
                duplicates: DuplicateTracker | np.ndarray | None = None,
                model_version: str | None = None, passthrough: bool = True,
                explain: int = 0, mapping: StudyMapping | None = None,
                min_observed_share: float = 0.0,
                missing_explanation: bool = True) -> ScoreResult:
    """Validate ``frame`` and score its valid rows.

    Parameters
    ----------
    model : FittedModel
    frame : DataFrame
        Cohort rows as read (text or typed); outcome columns are ignored.
    first_row : int
        Row number of the first row (for messages when scoring in chunks).
    duplicates : DuplicateTracker or array, optional
        Keeps ids unique across the chunks of a file (see :func:`validate_frame`).
    model_version : str, optional
        Written to a ``model_version`` column when given.
    passthrough : bool
        Keep columns that are not in the contract (extra columns) in the output; one
        named like an output column is kept as ``input_<name>``.
    explain : int
        Add the ``explain`` largest contributions per row (``feature_i``, ``value_i``,
        ``contribution_i``; contributions to the raw score: log-odds of impaired EIH, the
        predicted change in kPa, or the logit of the predicted class of a three-class
        model; ties in feature order).
    mapping : StudyMapping, optional
        Map a study's own names, codes and units onto the contract first (its problems
        make rows rejects, like the validator's).
    min_observed_share : float
        A valid row with a smaller share of the model's inputs observed is a reject
        (reason ``too few inputs observed``) instead of a prediction made mostly from
        what was learned about missingness (the model's setting:
        :attr:`eihpredict.model_dir.LoadedModel.min_observed_share`).
    missing_explanation : bool
        Compute ``missing_explanation_share`` and ``missing_dominated`` (the two-group
        split of each prediction between missing and observed inputs, for the rows with
        a missing input: :meth:`FittedModel.predict`). ``False`` leaves them empty.

    Returns
    -------
    ScoreResult
        ``scored`` has ``participant_id`` and the model's output columns
        (``model.output_columns``; binary: ``p_impaired_eih``, ``eih_prediction``:
        ``impaired`` at or above the model's threshold, else ``responder``; continuous
        and three classes: contract section 6), then ``model_version``, explanation and
        pass-through columns; ``rejects`` holds the invalid input rows as given, after
        ``row`` and ``reasons``.
    """
    # Outcome columns are ignored, except a covariate the model reads when given (the
    # pre-exercise PPT of a covariate-adjusted continuous model).
    inputs = frame.drop(columns=[c for c in OUTCOME_COLUMNS
                                 if c in frame and c not in model.optional_columns])
    if mapping is None:
        checked = validate_frame(inputs, first_row=first_row, duplicates=duplicates)
    else:
        checked = validate_mapped_frame(inputs, mapping, first_row=first_row,
                                        duplicates=duplicates)[0]
    valid, issues = checked.valid, checked.issues
    typed = checked.frame.loc[valid]
    # An input column the file lacks (an instrument the study never used) is missing in
    # every row, as an absent field of a JSON record is; missing_dominated says when that
    # leaves most of a row unmeasured. score_file refuses absent outcome columns first.
    reads = [*model.input_columns, *model.optional_columns]
    batch = (model.batch(typed) if all(c in typed.columns for c in model.input_columns)
             else ColumnBatch.from_frame(typed, reads).with_missing(reads))
    if min_observed_share > 0:
        few, few_issues = too_few_observed(model, batch, min_observed_share,
                                           typed["participant_id"].to_numpy(dtype=object),
                                           first_row + np.flatnonzero(valid))
        if few.any():
            valid = valid.copy()
            valid[np.flatnonzero(valid)[few]] = False
            issues = (pd.concat([issues, pd.DataFrame(few_issues)], ignore_index=True)
                      .sort_values("row", kind="stable", ignore_index=True))
            typed, batch = typed.loc[~few], batch.take(~few)
    scored = _outputs_frame(model, batch, typed["participant_id"].to_numpy(dtype=object),
                            explain, missing_explanation)
    if model_version is not None:
        scored.insert(1 + len(model.output_columns), "model_version", model_version)
    if passthrough:
        extra = [c for c in frame.columns if c not in COLUMN_BY_NAME]
        if extra:  # joined in one step (column by column is quadratic in their number)
            names = passthrough_names(extra, scored.columns)
            kept = frame.loc[valid, extra]
            kept.columns = [names[c] for c in extra]
            scored = pd.concat([scored, kept.reset_index(drop=True)], axis=1)
    rejects = reject_table(frame, issues, ~valid, first_row)
    return ScoreResult(scored=scored, rejects=rejects, issues=issues, valid=valid)


def too_few_observed(model: FittedModel, batch: ColumnBatch, minimum: float, ids,
                     rows) -> tuple[np.ndarray, list[dict]]:
    """Rows with less than ``minimum`` of the model's inputs observed, and an issue for
    each (columns of :data:`eihpredict.validation.ISSUE_COLUMNS`, ``row`` from ``rows``).

    """
    observed = 1.0 - model.missing_share(batch)
    few = observed < minimum
    n_inputs = len([c for c in model.input_columns if c != "participant_id"])
    rule = (f"too few inputs observed: the model requires at least {minimum * 100:.0f} % "
            f"of its {n_inputs} inputs (missing.min_observed_share)")
    issues = [{"row": int(rows[i]), "participant_id": ids[i], "column": "record",
               "value": f"{round(observed[i] * n_inputs)} of {n_inputs} inputs "
                        f"({observed[i] * 100:.0f} %)", "rule": rule}
              for i in np.flatnonzero(few)]
    return few, issues


@dataclass
class RecordScores:
    """Result of :func:`score_records`: issues (nothing scored) or one output per record."""

    issues: list[dict]
    outputs: dict[str, np.ndarray] | None = None
    explanations: list[list[dict]] | None = None


def _map_records(records: list[dict], mapping: StudyMapping) -> tuple[list[dict], list[dict]]:
    """Records in contract names, and an issue for each record the mapping cannot map."""
    mapped, issues = [], []
    for i, record in enumerate(records):
        try:
            mapped.append(mapping.apply_record(record))
        except MappingError as exc:
            mapped.append({})
            issues.append({"row": i + 1, "participant_id": None, "column": "record",
                           "value": None, "rule": f"study mapping: {exc}", "position": i})
    return mapped, issues


def score_records(model: FittedModel, records: list[dict], *, explain: int = 0,
                  mapping: StudyMapping | None = None,
                  min_observed_share: float = 0.0) -> RecordScores:
    """Validate and score JSON records (the service), all or nothing.

    The records go through :func:`~eihpredict.validation.validate_records` (the table
    validator's rules) and then the same protocol calls as :func:`score_frame`; a field
    a record leaves out is missing. With any invalid record nothing is scored and every
    problem is returned. ``mapping`` first maps records written with a study's own names
    and codes (the model's stored mapping, see :func:`stored_mapping`). A record with
    less than ``min_observed_share`` of the model's inputs observed is a problem too.
    """
    if mapping is not None:
        records, problems = _map_records(records, mapping)
        if problems:
            return RecordScores(problems)
    checked = validate_records(records)
    if checked.issues:
        return RecordScores(checked.issues)
    batch = ColumnBatch.from_columns(checked.columns, len(records)).with_missing(
        [*model.input_columns, *model.optional_columns])
    if min_observed_share > 0:
        ids = checked.columns["participant_id"]
        few, issues = too_few_observed(model, batch, min_observed_share, ids,
                                       np.arange(1, len(records) + 1))
        if few.any():
            return RecordScores([{**issue, "position": issue["row"] - 1} for issue in issues])
    contributions = model.explanation(batch) if explain > 0 else None
    outputs = {"participant_id": checked.columns["participant_id"],
               **model.predict(batch, contributions)}
    explanations = None
    if contributions is not None:
        idx, data, values = contributions.top(explain)
        names = contributions.names
        explanations = [[{"feature": names[j], "value": None if np.isnan(v) else float(v),
                          "contribution": float(c)}
                         for j, v, c in zip(idx[row], data[row], values[row], strict=True)]
                        for row in range(len(records))]
    return RecordScores([], outputs, explanations)


# --- batch engine ------------------------------------------------------------------------

@dataclass
class ScoreSummary:
    """Counts and paths of a finished :func:`score_file` run."""

    n_rows: int
    n_scored: int
    n_rejected: int
    output: Path
    rejects: Path | None
    chunks: int
    seconds: float
    resumed_chunks: int = 0
    absent_groups: list[str] = dataclasses.field(default_factory=list)
    absent_columns: list[str] = dataclasses.field(default_factory=list)
    n_inputs: int = 0

    def absent_line(self) -> str | None:
        """What the input lacked, for the log and the terminal (None when nothing)."""
        if not self.absent_columns:
            return None
        groups = (f"feature group(s) {', '.join(self.absent_groups)} absent; "
                  if self.absent_groups else "")
        return (f"{groups}{len(self.absent_columns)} of the model's {self.n_inputs} input "
                f"columns are not in the input ({', '.join(self.absent_columns)}): scored as "
                "missing in every row; missing_dominated is yes where most of a row's "
                "inputs were never measured")


def absent_inputs(model: FittedModel, header) -> tuple[list[str], list[str]]:
    """The model's input columns a header lacks, and the feature groups it lacks whole.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> model = SimpleNamespace(input_columns=["participant_id", "hads_anxiety",
    ...                                        "hads_depression", "pcs_total", "age_years"])
    >>> absent_inputs(model, ["participant_id", "pcs_total"])
    (['hads_anxiety', 'hads_depression', 'age_years'], ['hads', 'age'])
    """
    columns = [c for c in model.input_columns if c != "participant_id"]
    absent = [c for c in columns if c not in set(header)]
    groups: dict[str, list[str]] = {}
    for c in columns:
        spec = COLUMN_BY_NAME.get(c)
        groups.setdefault(spec.group if spec is not None else c, []).append(c)
    whole = [g for g, cs in groups.items() if all(c in absent for c in cs)]
    return absent, whole


def _sources(path: Path, required: tuple[str, ...], mapping=None, read_options=None
             ) -> list[CohortSource]:
    if path.is_dir():
        parts = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.name.lower().endswith((".csv", ".parquet", ".pq", ".csv.gz")))
        if not parts:
            raise ScoringError(f"{path}: directory holds no .csv or .parquet parts")
        return [open_study(p, required=required, mapping=mapping, read_options=read_options)
                for p in parts]
    return [open_study(path, required=required, mapping=mapping, read_options=read_options)]


def _fingerprint(sources: list[CohortSource]) -> list[dict]:
    return [{"path": str(s.path.resolve()), "size": s.path.stat().st_size,
             "mtime_ns": s.path.stat().st_mtime_ns} for s in sources]


def _chunks(sources: list[CohortSource], chunk_size: int
            ) -> Iterator[tuple[pd.DataFrame, int, int]]:
    """Yield (raw chunk, first row number, rows read so far) across all parts."""
    first = 1
    for source in sources:
        for raw, _ in source.chunks(chunk_size):
            raw = raw.reset_index(drop=True)
            yield raw, first, first - 1 + len(raw)
            first += len(raw)


def _lock(output: Path):
    """Hold an exclusive lock for ``output`` (released when the returned file closes).

    A second run writing the same output stops at once instead of corrupting the first.
    """
    import fcntl

    path = output.parent / f".{output.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ScoringError(f"{output}: another run is writing this output (lock {path}); "
                           "wait for it to finish") from None
    return handle


def _unlock(handle) -> None:
    """Remove the lock file, then release it (no lock file is left behind)."""
    with contextlib.suppress(OSError):
        os.unlink(handle.name)
    handle.close()


def _check_output(path: Path, what: str) -> None:
    try:
        file_format(path)
    except CohortFileError:
        raise ScoringError(f"{path}: {what} must end in .csv or .parquet") from None
    parent = path.resolve().parent
    if path.is_dir():
        raise ScoringError(f"{path}: {what} is a directory")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ScoringError(f"{path}: cannot write the {what} there: {probe} is a file, not a "
                           "folder")
    if not os.access(probe, os.W_OK):
        raise ScoringError(f"{path}: cannot write the {what} here (no write permission "
                           f"in {probe})")


def _join_parts(parts: list[Path], final: Path) -> None:
    """Join per-chunk parts into one file (CSV: header once; Parquet: one table)."""
    with atomic_path(final) as tmp:
        if file_format(final) == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            tables = [pq.read_table(p) for p in parts[:1]]
            schema = tables[0].schema
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in parts:
                    table = pq.read_table(part)
                    if table.num_rows:
                        writer.write_table(_conform(table, schema, pa))
        else:
            with open(tmp, "wb") as out:
                for i, part in enumerate(parts):
                    with open(part, "rb") as handle:
                        if i:
                            handle.readline()  # header only once
                        shutil.copyfileobj(handle, out, 1 << 20)


def _conform(table, schema, pa):
    """Cast a chunk's table to the first chunk's schema (all-null columns vary in type)."""
    if table.schema.equals(schema):
        return table
    columns = []
    for field in schema:
        column = table.column(field.name)
        columns.append(column.cast(field.type) if column.type != field.type else column)
    return pa.Table.from_arrays(columns, schema=schema)


class _WorkDir:
    """Per-chunk parts and progress of one run, kept for ``--resume``."""

    def __init__(self, output: Path, rejects: Path, settings: dict) -> None:
        self.root = output.parent / f".{output.name}.work"
        self.raw_text = bool(settings.get("raw_text"))
        self.settings = settings
        self.out_ext = ".parquet" if file_format(output) == "parquet" else ".csv"
        self.rej_ext = ".parquet" if file_format(rejects) == "parquet" else ".csv"

    def fresh(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self._save({"settings": self.settings, "chunks_done": 0, "rows_done": 0,
                    "n_scored": 0, "n_rejected": 0})

    def resume(self) -> dict:
        state_path = self.root / "state.json"
        if not state_path.exists():
            raise ScoringError("nothing to resume: no interrupted run of this output "
                               f"(no {state_path})")
        state = json.loads(state_path.read_text())
        before = state["settings"]
        if before != self.settings:
            changed = [k for k in self.settings if before.get(k) != self.settings[k]]
            if any(k in changed for k in ("input", "model_version", "output")):
                how = ("the input file or the model is not the one of that run, so it cannot "
                       "be resumed: run again without --resume to start over")
            else:
                how = (f"to continue it, resume with the options it ran with: --resume "
                       f"{_resume_options(before)}; or run without --resume to start over "
                       "(discards its finished chunks)")
            raise _ResumeRefused(
                "cannot resume: " + ", ".join(
                    f"{k} changed ({before.get(k)!r} then, {self.settings[k]!r} now)"
                    if k not in ("input", "mapping") else f"{k} changed" for k in changed)
                + f" since the interrupted run ({state['chunks_done']} chunk(s), "
                f"{state['rows_done']} rows done, kept in {self.root}); {how}")
        return state

    def tracker(self) -> DuplicateTracker:
        path = self.root / "ids.npz"
        if not path.exists():
            return DuplicateTracker()
        with np.load(path) as saved:
            return DuplicateTracker.restore(saved)

    def out_part(self, i: int) -> Path:
        return self.root / f"out-{i:06d}{self.out_ext}"

    def rej_part(self, i: int) -> Path:
        return self.root / f"rej-{i:06d}{self.rej_ext}"

    def commit(self, i: int, scored: pd.DataFrame, rejects: pd.DataFrame,
               tracker: DuplicateTracker, state: dict) -> None:
        write_table(scored, self.out_part(i), raw_text=self.raw_text)
        write_table(rejects, self.rej_part(i), raw_text=self.raw_text)
        with atomic_path(self.root / "ids.npz") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **tracker.state())
        self._save(state)

    def _save(self, state: dict) -> None:
        with atomic_path(self.root / "state.json") as tmp:
            tmp.write_text(json.dumps(state))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _score_chunk(model: FittedModel, raw: pd.DataFrame, first_row: int,
                 earlier: np.ndarray, explain: int, version: str, mapping=None,
                 min_observed_share: float = 0.0, missing_explanation: bool = True):
    """One chunk, as run in this process or on a Dask worker."""
    result = score_frame(model, raw, first_row=first_row, duplicates=earlier,
                         model_version=version, explain=explain, mapping=mapping,
                         min_observed_share=min_observed_share,
                         missing_explanation=missing_explanation)
    first_issue = format_issue(result.issues.iloc[0]) if len(result.issues) else None
    return result.scored, result.rejects, first_issue


def _earlier(tracker: DuplicateTracker, mapped: pd.DataFrame, first_row: int) -> np.ndarray:
    """Rows whose id an earlier chunk had (``mapped``: contract-named, a mapping applied)."""
    rows = np.arange(first_row, first_row + len(mapped), dtype=np.int64)
    return tracker.check(as_text(mapped["participant_id"]), rows)


def score_file(model_dir: str | os.PathLike[str], input: str | os.PathLike[str],
               output: str | os.PathLike[str], *, explain: int = 0,
               rejects: str | os.PathLike[str] | None = None, on_error: str = "skip",
               chunk_size: int = 50_000, resume: bool = False, engine: str = "local",
               scheduler: str | None = None,
               on_progress: Callable[[int, int | None], None] | None = None,
               mapping: StudyMapping | None = None,
               read_options: ReadOptions | None = None,
               raw_text: bool = False,
               min_observed_share: float | None = None,
               missing_explanation: bool = True,
               digest: str | None = None) -> ScoreSummary:
    """Score a cohort file (or a directory of parts) in chunks; see the module docstring.

    ``mapping`` maps a study's own names, codes and units onto the contract; without
    one, a model trained with a mapping applies its stored mapping to a file that uses
    the study's names. ``read_options`` are the CSV separator, decimal mark and sheet.
    ``raw_text`` writes text cells of a CSV as they are (by default a cell a spreadsheet
    would run as a formula gets a leading single quote). ``min_observed_share``
    overrides the model's minimum share of observed inputs (rows below it are rejects).
    ``missing_explanation=False`` leaves ``missing_explanation_share`` and
    ``missing_dominated`` empty (see :func:`score_frame`), for throughput. ``digest``
    is the model directory's expected digest (:func:`eihpredict.model_dir.check_model_dir`).

    Raises
    ------
    ScoringError, ModelDirectoryError, CohortFileError
        Before any work: missing or altered model directory, another contract
        version, an unwritable output, an input lacking the model's columns. During
        the run with ``on_error="fail"``: the first invalid row.
    """
    from .model_dir import load_model_dir

    start = time.perf_counter()
    if on_error not in ("skip", "fail"):
        raise ScoringError(f"--on-error must be skip or fail, got {on_error!r}")
    if engine not in ("local", "dask"):
        raise ScoringError(f"--engine must be local or dask, got {engine!r}")
    if chunk_size < 1 or explain < 0:
        raise ScoringError("--chunk-size must be positive and --explain at least 0")
    loaded = load_model_dir(model_dir, digest)
    model = loaded.model
    check_explain(model, explain)
    if min_observed_share is None:
        min_observed_share = loaded.min_observed_share
    elif not 0 <= min_observed_share < 1:
        raise ScoringError(f"--min-observed must be at least 0 and below 1, got "
                           f"{min_observed_share}")
    input, output = Path(input), Path(output)
    rejects_path = Path(rejects) if rejects is not None else output.with_name(
        output.name.split(".")[0] + ".rejects.csv")
    _check_output(output, "output")
    _check_output(rejects_path, "rejects file")
    for path, what in ((output, "the output"), (rejects_path, "the rejects file")):
        if same_file(path, input):
            raise ScoringError(f"{path}: {what} would overwrite the input {input}")
    try:
        check_outputs({"the output": output, "the rejects file": rejects_path}, {},
                      sealed={"the model directory": loaded.path})
    except OutputPathError as exc:
        raise ScoringError(str(exc)) from None
    if same_file(rejects_path, output):
        raise ScoringError(f"{rejects_path}: the rejects file and the output are the same "
                           "file; give --rejects another name")
    # A study that never measured a feature group scores without it (missing in every
    # row, named in the summary and the log); the outcome's own columns, when the model
    # reads them, must be there.
    required = tuple(dict.fromkeys([*REQUIRED_COLUMNS, *(
        c for c in model.input_columns if c in OUTCOME_COLUMNS)]))
    if not input.is_dir():
        header = open_cohort(input, required=(), options=read_options).columns
        mapping = stored_mapping(loaded.mapping, header, mapping)
    sources = _sources(input, required, mapping, read_options)
    header = [c for s in sources for c in (mapping.header(s.columns) if mapping is not None
                                           else s.columns)]
    absent, absent_groups = absent_inputs(model, header)
    if absent:
        logger.warning("feature group(s) absent from %s: %s (%d of the model's input "
                       "columns); scored as missing", input, ", ".join(absent_groups) or
                       "none whole", len(absent))
    # Row totals are known for Parquet; a CSV's progress shows rows and rows/s only
    # (Arrow reads ahead, so the byte position would overstate it).
    total_rows = (sum(s.total_rows for s in sources)
                  if all(s.total_rows for s in sources) else None)
    settings = {"input": _fingerprint(sources), "model_version": loaded.version,
                "chunk_size": chunk_size, "explain": explain, "on_error": on_error,
                "output": str(output.resolve()), "rejects": str(rejects_path.resolve()),
                "mapping": None if mapping is None else mapping.to_dict(),
                "raw_text": raw_text, "min_observed_share": min_observed_share,
                "missing_explanation": missing_explanation}
    work = _WorkDir(output, rejects_path, settings)
    lock = _lock(output)  # nothing is written before: a failure above leaves no lock file
    try:
        summary = _run_chunks(work, loaded, model, sources, settings, output, rejects,
                              rejects_path, resume=resume, engine=engine,
                              scheduler=scheduler, chunk_size=chunk_size, explain=explain,
                              on_error=on_error, mapping=mapping, total_rows=total_rows,
                              on_progress=on_progress, start=start, input=input)
        summary.absent_columns, summary.absent_groups = absent, absent_groups
        summary.n_inputs = len([c for c in model.input_columns if c != "participant_id"])
        return summary
    except _ResumeRefused:
        raise  # the interrupted run's progress stays for the right --resume
    except ScoringError:
        work.remove()
        raise
    except BaseException as exc:
        if _has_progress(work.root):
            kept = (f"finished chunks are kept in {work.root}: run the same command with "
                    "--resume to continue, or delete that folder")
            logger.error("%s", kept)
            exc.add_note(kept)
        else:  # nothing finished: nothing to resume, no folder left behind
            work.remove()
        raise
    finally:
        _unlock(lock)


def _has_progress(root: Path) -> bool:
    """A work folder holding at least one finished chunk."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        return json.loads((root / "state.json").read_text())["chunks_done"] > 0
    return False


def _run_chunks(work, loaded, model, sources, settings, output, rejects, rejects_path, *,
                resume, engine, scheduler, chunk_size, explain, on_error, mapping,
                total_rows, on_progress, start, input) -> ScoreSummary:
    if resume:
        state = work.resume()
    else:
        work.fresh()
        state = json.loads((work.root / "state.json").read_text())
    resumed = state["chunks_done"]
    tracker = work.tracker()
    logger.info("scoring %s with model %s (%s engine, chunks of %d rows%s)", input,
                loaded.version, engine, chunk_size,
                f", resuming after chunk {resumed}" if resumed else "")
    runner = _DaskRunner(model, scheduler) if engine == "dask" else None
    # Units are judged over the file, as validate does (from the first
    # PLAUSIBILITY_SAMPLE rows of every chunk, also of those a resumed run skips: the
    # verdict rests on shares and a median); an implausible column stops the run before
    # the output is written.
    plausible = PlausibilityCheck(declared=mapping.declared_units if mapping else {})
    try:
        pending = []
        for i, (raw, first, rows_read) in enumerate(_chunks(sources, chunk_size)):
            mapped = raw if mapping is None else mapping.apply(raw, first_row=first)[0]
            plausible.update(mapped.iloc[:PLAUSIBILITY_SAMPLE])
            if i < state["chunks_done"]:
                continue  # finished before the interruption; its part is on disk
            earlier = _earlier(tracker, mapped, first)
            job = (raw, first, earlier, explain, loaded.version, mapping,
                   settings["min_observed_share"], settings["missing_explanation"])
            if runner is None:
                pending.append((i, rows_read, _score_chunk(model, *job)))
            else:
                pending.append((i, rows_read, runner.submit(*job)))
            while pending and (runner is None or len(pending) >= runner.max_in_flight):
                _finish_chunk(work, state, tracker, pending.pop(0), runner, on_error)
                if on_progress is not None:
                    on_progress(state["rows_done"], total_rows)
        while pending:
            _finish_chunk(work, state, tracker, pending.pop(0), runner, on_error)
            if on_progress is not None:
                on_progress(state["rows_done"], state["rows_done"])
    finally:
        if runner is not None:
            runner.close()
    implausible = plausible.finish()
    if len(implausible):
        first = implausible.iloc[0]
        raise ScoringError(f"{input}: nothing written; {first['column']}: {first['rule']}"
                           + (f" (and {len(implausible) - 1} more column(s) like it; "
                              "eihpredict validate lists them)" if len(implausible) > 1
                              else ""))
    n = state["chunks_done"]
    _join_parts([work.out_part(i) for i in range(n)], output)
    wrote_rejects = rejects is not None or state["n_rejected"] > 0
    if wrote_rejects:
        _join_parts([work.rej_part(i) for i in range(n)], rejects_path)
    work.remove()
    return ScoreSummary(n_rows=state["rows_done"], n_scored=state["n_scored"],
                        n_rejected=state["n_rejected"], output=output,
                        rejects=rejects_path if wrote_rejects else None, chunks=n,
                        seconds=time.perf_counter() - start, resumed_chunks=resumed)


def _finish_chunk(work: _WorkDir, state: dict, tracker: DuplicateTracker, item, runner,
                  on_error: str) -> None:
    i, rows_read, result = item
    scored, rejected, first_issue = result if runner is None else runner.result(result)
    if on_error == "fail" and len(rejected):
        raise ScoringError(
            f"invalid row in chunk {i + 1} ({len(rejected)} invalid row(s) in it); first: "
            f"{first_issue}. Use --on-error skip to set invalid rows aside."
        )
    state["chunks_done"] = i + 1
    state["rows_done"] = rows_read
    state["n_scored"] += len(scored)
    state["n_rejected"] += len(rejected)
    work.commit(i, scored, rejected, tracker, state)


class _DaskRunner:
    """Runs chunks on a Dask distributed cluster (a LocalCluster when no address)."""

    def __init__(self, model: FittedModel, scheduler: str | None) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler is None:
            self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            self.client = Client(scheduler)
        workers = max(len(self.client.scheduler_info()["workers"]), 1)
        self.max_in_flight = 2 * workers
        self.model = self.client.scatter(model, broadcast=True)
        logger.info("dask: %d worker(s) at %s", workers, self.client.scheduler.address)

    def submit(self, raw, first, earlier, explain, version, mapping=None,
               min_observed_share=0.0, missing_explanation=True):
        return self.client.submit(_score_chunk, self.model, raw, first, earlier, explain,
                                  version, mapping, min_observed_share, missing_explanation,
                                  pure=False)

    def result(self, future):
        return future.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
