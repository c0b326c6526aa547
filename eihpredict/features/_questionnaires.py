"""Questionnaire scoring by the published rules declared in the instrument registry.

Every rule (items, ranges, reverse keys, scales, pro-rating, lookups) is declared once in
:mod:`eihpredict.instruments`; ``docs/instruments.md`` lists them. The v1 instruments
(``docs/domain.md``):

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

from ..instruments import INSTRUMENTS, check_agreement
from ._base import ContractTransformer

__all__ = ["QuestionnaireScorer", "SCALES", "scales"]


def scales() -> dict[str, tuple[str, tuple[int, ...], str | None]]:
    """Every declared scale: feature -> (instrument, items, given total column or None)."""
    return {s.feature: (inst.name, s.items, s.total)
            for inst in INSTRUMENTS.values() for s in inst.scales}


#: The scales of the v1 instruments (PCS, TSK, HADS), as in earlier releases; every
#: instrument's scales: :func:`scales`.
SCALES: dict[str, tuple[str, tuple[int, ...], str | None]] = {
    k: v for k, v in scales().items() if INSTRUMENTS[v[0]].since <= 2}


class QuestionnaireScorer(ContractTransformer):
    """Score questionnaire items into totals, subscales and lookups (T-scores).

    Every rule comes from the instrument's declaration
    (:data:`eihpredict.instruments.INSTRUMENTS`).

    Parameters
    ----------
    questionnaires : tuple of str, default=("pcs", "tsk", "hads")
        Which instruments to score.
    max_missing_fraction : float, default=0.2
        Largest share of unanswered items that is still pro-rated (see module docs).
        None: each instrument's declared rule.

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
        unknown = set(self.questionnaires) - set(INSTRUMENTS)
        if unknown or not len(self.questionnaires):
            raise ValueError(
                f"Got questionnaires={self.questionnaires!r}; expected a non-empty subset of "
                f"{tuple(INSTRUMENTS)}."
            )
        if self.max_missing_fraction is not None and not 0 <= self.max_missing_fraction < 1:
            raise ValueError(
                f"Got max_missing_fraction={self.max_missing_fraction!r}; expected a number "
                "in [0, 1)."
            )

    def _inputs(self) -> tuple[str, ...]:
        names: list[str] = []
        for q in self.questionnaires:
            names.extend(INSTRUMENTS[q].items)
        for q in INSTRUMENTS:  # totals in declaration order (the v1 input order)
            if q in self.questionnaires:
                names.extend(INSTRUMENTS[q].total_columns)
        return tuple(names)

    def _required(self):
        return tuple((c,) for c in self._inputs())

    def _outputs(self, present: set[str]) -> list[str]:
        out = []
        for inst in INSTRUMENTS.values():
            if inst.name not in self.questionnaires:
                continue
            for s in inst.scales:
                has_items = any(inst.item(i) in present for i in s.items)
                if has_items or (s.total is not None and s.total in present):
                    out.append(s.feature)
            for lk in inst.lookups:
                if lk.scale in out or lk.feature in present:
                    out.append(lk.feature)
        return out

    def _compute(self, cols, n):
        out = {}
        names = tuple(self.feature_names_out_)
        for q in self.questionnaires:
            inst = INSTRUMENTS[q]
            fraction = (inst.max_missing_fraction if self.max_missing_fraction is None
                        else self.max_missing_fraction)
            wanted = tuple(f for f in inst.features if f in names)
            if wanted:
                out.update(inst.score(cols, n, wanted, fraction))
        return out


# Kept for callers of earlier releases.
_check_agreement = check_agreement
