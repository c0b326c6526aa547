"""Questionnaire scoring: PCS, TSK-17 / TSK-11, HADS, by the published rules.

Rules (``docs/domain.md``):

* PCS (Sullivan 1995): 13 items 0-4, total 0-52; rumination = items 8-11,
  magnification = 6, 7, 13, helplessness = 1-5, 12; no reverse-keyed items.
* TSK-17 (Miller, Kori & Todd 1991): items 1-4, items 4, 8, 12, 16 reverse-scored as
  5 - answer, total 17-68. TSK-11 (Woby 2005) drops items 4, 8, 9, 12, 14, 16: total 11-44.
* HADS (Zigmond & Snaith 1983): 14 items 0-3; anxiety = odd items, depression = even
  items, each 0-21.

Missing items (pro-rating): a (sub)scale with at most ``floor(max_missing_fraction *
n_items)`` unanswered items is pro-rated as ``mean(answered) * n_items``; with more
missing it is missing. With the default 0.2 that allows 2 of 13 PCS items, 3 of 17 TSK
items, 2 of 11 TSK-11 items, 1 of 7 items of a HADS subscale, and no missing item in
the short PCS subscales (3-4 items).

When a row has no item of a scale answered, a given total column (``pcs_total``,
``tsk_total``, ``tsk11_total`` for the TSK-11, ``hads_anxiety``, ``hads_depression``) is
used instead; a TSK-11 total feeds ``tsk_11_total``, never the TSK-17 ``tsk_total``
(the two versions are different scales). A row whose
total disagrees with its items (outside what the answered items allow) is refused with
a ``ValueError`` naming the row and column.
"""

from __future__ import annotations

import numpy as np

from ..schema import QUESTIONNAIRES
from ._base import ContractTransformer

__all__ = ["QuestionnaireScorer", "SCALES"]

# name -> (questionnaire, items, given total column or None)
SCALES: dict[str, tuple[str, tuple[int, ...], str | None]] = {
    "pcs_total": ("pcs", tuple(range(1, 14)), "pcs_total"),
    "pcs_rumination": ("pcs", (8, 9, 10, 11), None),
    "pcs_magnification": ("pcs", (6, 7, 13), None),
    "pcs_helplessness": ("pcs", (1, 2, 3, 4, 5, 12), None),
    "tsk_total": ("tsk", tuple(range(1, 18)), "tsk_total"),
    "tsk_11_total": ("tsk", (1, 2, 3, 5, 6, 7, 10, 11, 13, 15, 17), "tsk11_total"),
    "hads_anxiety": ("hads", tuple(range(1, 15, 2)), "hads_anxiety"),
    "hads_depression": ("hads", tuple(range(2, 15, 2)), "hads_depression"),
}


class QuestionnaireScorer(ContractTransformer):
    """Score PCS, TSK and HADS items into totals and subscales.

    Parameters
    ----------
    questionnaires : tuple of str, default=("pcs", "tsk", "hads")
        Which questionnaires to score.
    max_missing_fraction : float, default=0.2
        Largest share of unanswered items that is still pro-rated (see module docs).

    Attributes
    ----------
    inputs_ : list of str
        Item and total columns found at fit.
    feature_names_out_ : ndarray of str
        ``pcs_total``, ``pcs_rumination``, ``pcs_magnification``, ``pcs_helplessness``,
        ``tsk_total``, ``tsk_11_total``, ``hads_anxiety``, ``hads_depression`` (those of
        the chosen questionnaires; subscales only when items exist).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({f"pcs_{i:02d}": [2] for i in range(1, 14)})
    >>> scorer = QuestionnaireScorer(questionnaires=("pcs",)).fit(X)
    >>> dict(zip(scorer.get_feature_names_out(), scorer.transform(X)[0]))
    {'pcs_total': np.float64(26.0), 'pcs_rumination': np.float64(8.0), \
'pcs_magnification': np.float64(6.0), 'pcs_helplessness': np.float64(12.0)}
    """

    @property
    def group(self) -> str:
        return "/".join(self.questionnaires)

    def __init__(self, questionnaires=("pcs", "tsk", "hads"), max_missing_fraction=0.2):
        self.questionnaires = questionnaires
        self.max_missing_fraction = max_missing_fraction

    def _validate_params(self) -> None:
        unknown = set(self.questionnaires) - set(QUESTIONNAIRES)
        if unknown or not len(self.questionnaires):
            raise ValueError(
                f"Got questionnaires={self.questionnaires!r}; expected a non-empty subset of "
                f"{tuple(QUESTIONNAIRES)}."
            )
        if not 0 <= self.max_missing_fraction < 1:
            raise ValueError(
                f"Got max_missing_fraction={self.max_missing_fraction!r}; expected a number "
                "in [0, 1)."
            )

    def _inputs(self) -> tuple[str, ...]:
        names: list[str] = []
        for q in self.questionnaires:
            names.extend(QUESTIONNAIRES[q].items)
        names.extend(total for q, _, total in SCALES.values()
                     if total and q in self.questionnaires)
        return tuple(names)

    def _required(self):
        return tuple((c,) for c in self._inputs())

    def _outputs(self, present: set[str]) -> list[str]:
        out = []
        for name, (q, items, total) in SCALES.items():
            if q not in self.questionnaires:
                continue
            has_items = any(QUESTIONNAIRES[q].item(i) in present for i in items)
            if has_items or (total is not None and total in present):
                out.append(name)
        return out

    def _compute(self, cols, n):
        out = {}
        for name in self.feature_names_out_:
            q_name, numbers, total_col = SCALES[name]
            q = QUESTIONNAIRES[q_name]
            missing = np.full(n, np.nan)
            scores = q.scored([cols.get(q.item(i), missing) for i in numbers], numbers)
            partial, n_answered, low, high = q.sum_bounds(scores)
            allowed = int(np.floor(self.max_missing_fraction * len(numbers)))
            with np.errstate(invalid="ignore", divide="ignore"):
                value = partial * (len(numbers) / n_answered)
            value[len(numbers) - n_answered > allowed] = np.nan
            if total_col is not None and total_col in cols:
                given = cols[total_col]
                _check_agreement(given, n_answered, low, high, total_col)
                value = np.where(n_answered == 0, given, value)
            out[name] = value
        return out


def _check_agreement(given, n_answered, low, high, column: str) -> None:
    checkable = ~np.isnan(given) & (n_answered > 0)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(checkable & ((given < low - 1e-9) | (given > high + 1e-9)))
    if len(bad):
        i = bad[0]
        raise ValueError(
            f"{column} disagrees with its items in {len(bad)} row(s); first at row {i + 1}: "
            f"{column}={given[i]:g}, items allow {low[i]:g}-{high[i]:g}."
        )
