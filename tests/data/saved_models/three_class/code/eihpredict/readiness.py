"""Would this file train with this pipeline? Every problem, in one run.

:func:`check_training_file` is ``eihpredict validate FILE --for CONFIG.yaml``: the
contract check of :func:`eihpredict.validation.validate_file` (through the study
mapping, if any) plus what the pipeline itself needs, all reported together instead
of one refusal per training attempt:

* feature groups of the config that the file cannot feed (the group and its columns);
* the outcome the config's label rule needs: missing outcome columns, rows with a blank
  outcome, a single class, classes too small for the outer folds;
* a ``site`` in every row for leave-site-out cross-validation;
* unknown columns (a warning: kept, never used as features).

Examples
--------
>>> from eihpredict.config import PipelineConfig
>>> config = PipelineConfig.model_validate({
...     "name": "demo", "features": {"groups": ["cpm", "pcs"]},
...     "models": [{"name": "lr", "kind": "logistic"}]})
>>> [g.group for g in unfed_groups(["participant_id", "sex", "pcs_total"], config)]
['cpm']
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .cohort_io import ReadOptions
from .config import PipelineConfig
from .features import build_feature_pipeline
from .labels import LABEL, LabelRule, make_labels, outcome_inputs
from .mapping import StudyMapping
from .schema import COLUMN_BY_NAME, COLUMNS
from .validation import (
    ISSUE_COLUMNS,
    ChunkValidation,
    ValidationSummary,
    validate_file,
)

__all__ = ["GroupProblem", "TrainingReadiness", "check_training_file", "unfed_groups"]


@dataclass(frozen=True)
class GroupProblem:
    """A feature group of the pipeline that the file cannot feed."""

    group: str
    message: str


@dataclass
class TrainingReadiness:
    """Outcome of :func:`check_training_file`.

    Attributes
    ----------
    pipeline : str
        Name of the pipeline config.
    summary : ValidationSummary
        The contract check, with the outcome issues of the label rule added (row-level
        issues and file-level lines alike are in ``summary.shown`` and the report).
    groups : list of GroupProblem
        Feature groups the file cannot feed.
    problems : list of str
        Other file-level problems that would stop the training.
    warnings : list of str
        What would not stop it (unknown columns, unmapped study columns).
    """

    pipeline: str
    summary: ValidationSummary
    groups: list[GroupProblem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing found would stop the training."""
        return self.summary.ok and not self.groups and not self.problems

    @property
    def n_problems(self) -> int:
        return self.summary.n_issues + len(self.groups) + len(self.problems)


def _needed_groups(config: PipelineConfig) -> list[str]:
    groups = list(config.features.groups)
    for candidate in config.models:
        for group in config.groups_for(candidate):
            if group not in groups:
                groups.append(group)
    return groups


def unfed_groups(columns: Sequence[str], config: PipelineConfig) -> list[GroupProblem]:
    """Feature groups of ``config`` (its ``features.groups`` and every candidate's) that a
    table with these (contract) columns cannot feed.

    Each group's own transformer decides, fitted alone on a table with these columns and
    no rows, so this answers exactly as training would.
    """
    empty = pd.DataFrame({c: pd.Series(dtype="float64" if c in COLUMN_BY_NAME and
                                       COLUMN_BY_NAME[c].is_numeric else "str")
                          for c in columns})
    problems = []
    for group in _needed_groups(config):
        try:
            build_feature_pipeline([group], options=config.features.options).fit(empty)
        except ValueError as exc:
            message = _compact(str(exc))
            unread = [c for c in columns if c in COLUMN_BY_NAME
                      and COLUMN_BY_NAME[c].group == group and c not in message]
            if unread:
                message += (f" (the file has {', '.join(unread)}, which this group's "
                            "features do not read)")
            problems.append(GroupProblem(group, message))
    return problems


def _compact(message: str) -> str:
    """'needs columns (a) or (b) or (c)' -> 'needs one of the columns a, b, c'."""
    match = re.search(r"needs columns ((?:\([\w, ]+\)(?: or )?)+);", message)
    if not match:
        return message
    sets = re.findall(r"\(([\w, ]+)\)", match.group(1))
    if all("," not in s for s in sets) and len(sets) > 1:
        text = "needs one of the columns " + ", ".join(sets)
    else:
        text = "needs the columns " + " or ".join(f"({s})" for s in sets)
    return message[:match.start()] + text + ";" + message[match.end():]


class _OutcomeCheck:
    """Rows the label rule cannot label, the classes, and sites for leave-site-out CV."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.rule: LabelRule = config.label
        self.counts: dict[int, int] = {}
        self.n_site_blank = 0
        self.sites: set[str] = set()

    def update(self, mapped: pd.DataFrame, result: ChunkValidation, first_row: int
               ) -> pd.DataFrame | None:
        frame = result.frame
        n = len(frame)
        rule = self.rule
        inputs = outcome_inputs(rule)
        has_pair = all(i.present(frame) for i in inputs)
        use_label = (LABEL in frame and rule.use_label_column is not False
                     and rule.n_classes == 2)
        if not has_pair and not use_label:
            return None  # a file-level problem, named once by check_training_file
        values = [(i, i.values(frame, rule.trials) if has_pair else np.full(n, np.nan))
                  for i in inputs]
        label = _values(frame, LABEL) if use_label else np.full(n, np.nan)
        labelled = np.logical_and.reduce([~np.isnan(v) for _, v in values]) | ~np.isnan(label)
        rows = np.arange(first_row, first_row + n)
        issues = result.issues
        outcome_columns = [c for i in inputs for c in i.columns] + [LABEL]
        invalid_outcome = np.isin(rows, issues["row"][issues["column"].isin(
            outcome_columns)].to_numpy())  # already reported by the validator
        parts = []
        needs = (" and ".join(i.display() for i in inputs) if has_pair else "") + (
            (" or " if has_pair else "") + LABEL if use_label else "")
        message = (f"an outcome is needed to train pipeline {self.config.name!r} "
                   f"(label rule {rule.rule}): {needs}")
        blank_column = np.full(n, None, dtype=object)
        named = ([(LABEL, label)] if use_label else []) + [
            (next(c for c in i.columns if c in frame), v) for i, v in reversed(values)
            if has_pair]
        for column, v in named:  # name each row's first blank input
            blank_column[np.isnan(v)] = column
        flag = ~labelled & ~invalid_outcome
        if flag.any():
            parts.append(pd.DataFrame({
                "row": rows[flag], "participant_id": _ids(frame)[flag],
                "column": blank_column[flag], "value": None, "rule": message}))
        if labelled.any():
            ok = labelled & ~np.isin(rows, result.issues["row"].to_numpy())
            if ok.any():
                y = make_labels(frame.loc[ok], rule)
                for value, count in y.value_counts().items():
                    self.counts[int(value)] = self.counts.get(int(value), 0) + int(count)
        if self.config.cv.scheme == "leave_site_out" and "site" in frame:
            site = frame["site"]
            blank = site.isna().to_numpy()
            self.n_site_blank += int(blank.sum())
            self.sites.update(str(v) for v in site.dropna().unique())
            if blank.any():
                parts.append(pd.DataFrame({
                    "row": rows[blank], "participant_id": _ids(frame)[blank],
                    "column": "site", "value": None,
                    "rule": "cv.scheme leave_site_out needs a site in every row"}))
        if not parts:
            return None
        return pd.concat(parts, ignore_index=True)[ISSUE_COLUMNS]

    def finish(self) -> pd.DataFrame | None:
        return None

    def problems(self, columns: Sequence[str]) -> list[str]:
        rule, cv = self.rule, self.config.cv
        out = []
        use_label = (LABEL in columns and rule.use_label_column is not False
                     and rule.n_classes == 2)
        inputs = outcome_inputs(rule)
        if not all(i.present(columns) for i in inputs) and not use_label:
            missing = [i.display() for i in inputs if not i.present(columns)]
            alternative = (f", or {LABEL}" if rule.use_label_column is not False
                           and rule.n_classes == 2
                           else "")
            outcome = "" if rule.is_v1_outcome else (
                f" for its outcome ({rule.outcome_definition()})")
            out.append(f"no EIH outcome: the label rule {rule.rule!r}{outcome} needs "
                       f"{' and '.join(i.display() for i in inputs)}"
                       f"{alternative}; the file lacks {', '.join(missing)}"
                       + (f" and {LABEL}" if alternative else ""))
            return out
        if self.counts and len(self.counts) < rule.n_classes:
            (value,) = self.counts
            out.append(f"every labelled row has the same label ({value}); nothing to learn")
        elif self.counts:
            smallest = min(self.counts.values())
            needed = max(cv.outer_folds, self.config.tuning.inner_folds)
            if cv.scheme == "stratified_kfold" and smallest < needed:
                out.append(f"the smallest class has {smallest} row(s); cv.outer_folds = "
                           f"{cv.outer_folds} and tuning.inner_folds = "
                           f"{self.config.tuning.inner_folds} need at least {needed}")
        if cv.scheme == "leave_site_out":
            if "site" not in columns:
                out.append("cv.scheme leave_site_out needs a site column; the file has none")
            elif len(self.sites) < 2 and not self.n_site_blank:
                out.append(f"cv.scheme leave_site_out needs at least 2 sites; the file has "
                           f"{len(self.sites)}")
        return out


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return frame[column].to_numpy(dtype="float64", na_value=np.nan)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    if "participant_id" not in frame:
        return np.full(len(frame), None, dtype=object)
    ids = frame["participant_id"].astype("object").to_numpy()
    return np.array([v if isinstance(v, str) and v else None for v in ids], dtype=object)


def check_training_file(
    path: str | os.PathLike[str],
    config: PipelineConfig,
    *,
    mapping: StudyMapping | None = None,
    read_options: ReadOptions | None = None,
    report: str | os.PathLike[str] | None = None,
    chunk_size: int = 100_000,
    keep: int = 20,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> TrainingReadiness:
    """Find every problem that would stop training ``config`` on this file, in one pass.

    Parameters
    ----------
    path : path-like
        Cohort file (``.csv``, ``.parquet``, ``.xlsx``, ``.sav``).
    config : PipelineConfig
        The pipeline to train (:func:`eihpredict.config.load_config`).
    mapping, read_options, report, chunk_size, keep, on_progress
        As for :func:`eihpredict.validation.validate_file`; the report also holds the
        rows without an outcome.

    Returns
    -------
    TrainingReadiness

    Raises
    ------
    CohortFileError
        When the file cannot be read as a table at all.
    """
    outcome = _OutcomeCheck(config)
    summary = validate_file(path, report=report, chunk_size=chunk_size, keep=keep,
                            on_progress=on_progress, read_options=read_options,
                            mapping=mapping, checks=[outcome])
    columns = (mapping.header(summary.columns) if mapping is not None
               else list(summary.columns))
    readiness = TrainingReadiness(config.name, summary)
    readiness.groups = unfed_groups(columns, config)
    readiness.problems = outcome.problems(columns)
    if summary.unknown_columns:
        readiness.warnings.append(
            f"{len(summary.unknown_columns)} unknown column(s), kept but never used as "
            f"features: {', '.join(summary.unknown_columns)}")
    if summary.mapping is not None:
        readiness.warnings += summary.mapping.warning_lines(unmapped_columns=False)
    needed = _needed_groups(config)
    unused = [c.name for c in COLUMNS if c.name in columns and not c.training_only
              and c.group not in needed and c.group not in ("id", "site")
              and not (c.name == "exercise_muscle" and "ppt" in needed)]  # local PPT norms
    if unused:
        readiness.warnings.append(f"{len(unused)} contract column(s) of groups the pipeline "
                                  f"does not use: {', '.join(unused)}")
    return readiness
