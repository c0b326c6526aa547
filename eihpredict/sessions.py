"""Repeated-session cohorts (contract v3): one row per participant and session.

With the optional ``session_id`` column a participant has one row per exercise session
(a crossover study: aerobic, isometric, resistance, or several intensities, in random
order). The pair (``participant_id``, ``session_id``) is then unique, each row has its
own exercise columns and outcome (:data:`eihpredict.schema.SESSION_COLUMNS`), and the
baseline predictors (:data:`eihpredict.schema.BASELINE_COLUMNS`: demographics,
questionnaires, baseline PPT, CPM, TS) must agree across the participant's rows.

:class:`SessionCheck` streams over the chunks of a file: it reports a baseline
disagreement naming both rows, the participant and the column, and counts sessions per
participant for the design (:func:`describe_design`): ``crossover`` (participants with
several sessions), ``parallel groups`` (one session each, several exercises across
participants) or ``single session``.

Every split, calibration fold and bootstrap of a repeated-session cohort groups by
participant (:func:`participant_groups`); a cohort whose ``participant_id`` repeats
without ``session_id`` is refused (:func:`check_repeated_ids`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import BASELINE_COLUMNS

__all__ = ["EXERCISE_OPTION_COLUMNS", "ISSUE", "SessionCheck", "SessionDesign",
           "check_repeated_ids",
           "describe_design", "has_sessions", "option_labels", "participant_groups",
           "session_key"]

#: The columns that define one exercise option (a candidate of a prescription).
EXERCISE_OPTION_COLUMNS = ("exercise_modality", "exercise_intensity_pct",
                           "exercise_duration_min")
#: The issue that introduced repeated sessions (named in refusals).
ISSUE = "issue 23, repeated-session cohorts"


def session_key(ids, sessions) -> pd.Series:
    """One text key per row for the pair (participant_id, session_id).

    Examples
    --------
    >>> session_key(pd.Series(["a", "a"]), pd.Series(["1", "2"])).tolist()
    ['a\\x1f1', 'a\\x1f2']
    """
    ids = pd.Series(ids, dtype=object).reset_index(drop=True)
    sessions = pd.Series(sessions, dtype=object).reset_index(drop=True)
    key = ids.astype(str) + "\x1f" + sessions.fillna("").astype(str)
    return key.where(ids.notna().to_numpy(), None)


def has_sessions(frame) -> bool:
    """Whether a typed cohort has repeated sessions (a ``session_id`` column and some
    participant with more than one row)."""
    return ("session_id" in frame and "participant_id" in frame
            and bool(pd.Series(np.asarray(frame["participant_id"], dtype=object))
                     .duplicated().any()))


def participant_groups(frame) -> np.ndarray | None:
    """Participant ids to group splits by, when sessions repeat (else ``None``).

    Raises
    ------
    ValueError
        When ``participant_id`` repeats without ``session_id`` (see
        :func:`check_repeated_ids`).
    """
    check_repeated_ids(frame)
    if has_sessions(frame):
        return np.asarray(frame["participant_id"], dtype=object).astype(str)
    return None


def check_repeated_ids(frame) -> None:
    """Refuse a cohort whose participant ids repeat without ``session_id``.

    Rows of one participant are not independent: training on them as if they were puts
    the same person on both sides of a split and reports optimistic metrics.

    Examples
    --------
    >>> check_repeated_ids(pd.DataFrame({"participant_id": ["a", "a"]}))
    Traceback (most recent call last):
    ...
    ValueError: participant_id 'a' has 2 rows but the cohort has no session_id column ...
    """
    if "participant_id" not in frame or "session_id" in frame:
        return
    ids = pd.Series(np.asarray(frame["participant_id"], dtype=object))
    counts = ids.value_counts()
    if len(counts) and counts.iloc[0] > 1:
        raise ValueError(
            f"participant_id {counts.index[0]!r} has {int(counts.iloc[0])} rows but the "
            f"cohort has no session_id column ({ISSUE}): repeated rows of one participant "
            "are not independent, and treating them as independent gives optimistic "
            "metrics; add session_id so every split groups by participant")


@dataclass
class SessionDesign:
    """What :func:`describe_design` finds.

    Attributes
    ----------
    design : {"crossover", "parallel groups", "single session"}
    n_participants, n_rows : int
    sessions_per_participant : dict of int to int
        Number of sessions -> number of participants with that many.
    n_options : int
        Distinct exercise options (modality, intensity, duration) in the file.
    """

    design: str
    n_participants: int
    n_rows: int
    sessions_per_participant: dict[int, int] = field(default_factory=dict)
    n_options: int = 0

    def describe(self) -> str:
        """One line for ``eihpredict validate``."""
        counts = ", ".join(f"{n} participant(s) with {k} session(s)"
                           for k, n in sorted(self.sessions_per_participant.items()))
        return (f"design: {self.design} ({self.n_participants} participant(s), "
                f"{self.n_rows} row(s); {counts or 'no rows'}; {self.n_options} exercise "
                "option(s))")

    def to_dict(self) -> dict:
        return {"design": self.design, "n_participants": self.n_participants,
                "n_rows": self.n_rows, "n_options": self.n_options,
                "sessions_per_participant": {str(k): v for k, v in
                                             sorted(self.sessions_per_participant.items())}}


def _design(per_participant: Mapping[str, int], n_rows: int, n_options: int) -> SessionDesign:
    counts = pd.Series(list(per_participant.values()), dtype="int64").value_counts()
    spread = {int(k): int(v) for k, v in counts.items()}
    if any(k > 1 for k in spread):
        design = "crossover"
    elif n_options > 1:
        design = "parallel groups"
    else:
        design = "single session"
    return SessionDesign(design, len(per_participant), n_rows, spread, n_options)


def option_labels(frame) -> pd.Series:
    """``modality/intensity%/duration min`` per row (missing parts as ``?``).

    Examples
    --------
    >>> option_labels(pd.DataFrame({"exercise_modality": ["aerobic"],
    ...     "exercise_intensity_pct": [70.0], "exercise_duration_min": [20.0]})).tolist()
    ['aerobic 70% 20min']
    """
    n = len(frame)

    def part(column: str, fmt) -> pd.Series:
        if column not in frame:
            return pd.Series(["?"] * n)
        values = pd.Series(np.asarray(frame[column], dtype=object))
        return values.map(lambda v: "?" if v is None or (isinstance(v, float) and np.isnan(v))
                          else fmt(v))

    return (part("exercise_modality", str) + " "
            + part("exercise_intensity_pct", lambda v: f"{float(v):g}%") + " "
            + part("exercise_duration_min", lambda v: f"{float(v):g}min"))


def describe_design(frame) -> SessionDesign:
    """The design of a typed cohort (one table in memory).

    Examples
    --------
    >>> frame = pd.DataFrame({"participant_id": ["a", "a", "b", "b"],
    ...                       "session_id": ["1", "2", "1", "2"],
    ...                       "exercise_modality": ["aerobic", "isometric"] * 2})
    >>> design = describe_design(frame)
    >>> design.design, design.sessions_per_participant, design.n_options
    ('crossover', {2: 2}, 2)
    """
    ids = pd.Series(np.asarray(frame["participant_id"], dtype=object)).astype(str)
    options = option_labels(frame)
    return _design(ids.value_counts().to_dict(), len(frame),
                   int(options[~options.eq("? ? ?")].nunique()))


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and np.isnan(a)) or (
            isinstance(b, float) and np.isnan(b)):
        return (a is None or (isinstance(a, float) and np.isnan(a))) and (
            b is None or (isinstance(b, float) and np.isnan(b)))
    return a == b


def _shown(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


class SessionCheck:
    """Baseline agreement across a participant's sessions, streamed over a file's chunks.

    A participant's first row fixes its baseline predictors; a later row of the same
    participant whose value of a baseline column differs (a missing cell against a
    value counts) is an issue on that later row naming the column, both rows and the
    participant. Without a ``session_id`` column the check does nothing. It also counts
    rows per participant for :meth:`design`.

    Examples
    --------
    >>> check = SessionCheck()
    >>> chunk = pd.DataFrame({"participant_id": ["a", "a"], "session_id": ["1", "2"],
    ...                       "age_years": [40.0, 41.0]})
    >>> issue = check.update(chunk, None, 1).iloc[0]
    >>> int(issue["row"]), issue["column"], issue["rule"].split(": ")[1]
    (2, 'age_years', "row 1 has '40', row 2 has '41'")
    >>> check.design().design
    'crossover'
    """

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, tuple]] = {}
        self._counts: dict[str, int] = {}
        self._options: set[str] = set()
        self._rows = 0
        self._columns: tuple[str, ...] | None = None

    def update(self, mapped: pd.DataFrame, result=None, first_row: int = 1
               ) -> pd.DataFrame | None:
        """Issues of one chunk (typed frame of ``result`` when given, else ``mapped``)."""
        frame = result.frame if result is not None else mapped
        if "participant_id" not in frame:
            return None
        frame = frame.reset_index(drop=True)
        self._rows += len(frame)
        self._options.update(option_labels(frame).loc[lambda s: s != "? ? ?"].tolist())
        ids = np.asarray(frame["participant_id"], dtype=object)
        for pid in ids:
            if pid is not None and not (isinstance(pid, float) and np.isnan(pid)):
                self._counts[str(pid)] = self._counts.get(str(pid), 0) + 1
        if "session_id" not in frame:
            return None
        if self._columns is None:
            self._columns = tuple(c for c in BASELINE_COLUMNS if c in frame)
        columns = [c for c in self._columns if c in frame]
        values = [np.asarray(frame[c].astype(object).where(frame[c].notna(), None))
                  for c in columns]
        valid = (np.asarray(result.valid, dtype=bool) if result is not None
                 else np.ones(len(frame), dtype=bool))
        issues = []
        for i, pid in enumerate(ids):
            if pid is None or not valid[i]:
                continue
            row = first_row + i
            mine = tuple(v[i] for v in values)
            seen = self._first.get(str(pid))
            if seen is None:
                self._first[str(pid)] = (row, mine)
                continue
            first, theirs = seen
            for column, a, b in zip(columns, theirs, mine, strict=True):
                if not _same(a, b):
                    issues.append({
                        "row": row, "participant_id": str(pid), "column": column,
                        "value": _shown(b),
                        "rule": (f"baseline predictor must agree across participant "
                                 f"{str(pid)!r}'s sessions: row {first} has "
                                 f"{_shown(a) or 'empty'!r}, row {row} has "
                                 f"{_shown(b) or 'empty'!r}")})
        if not issues:
            return None
        return pd.DataFrame(issues, columns=["row", "participant_id", "column", "value",
                                             "rule"])

    def finish(self) -> None:
        """No file-level issues (the design is read with :meth:`design`)."""
        return None

    def design(self) -> SessionDesign:
        return _design(self._counts, self._rows, len(self._options))
