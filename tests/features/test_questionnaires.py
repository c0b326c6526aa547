"""Questionnaire scoring against hand-scored forms and the published rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from eihpredict.features import QuestionnaireScorer


def score(frame: pd.DataFrame, **kwargs) -> dict[str, float]:
    scorer = QuestionnaireScorer(**kwargs).fit(frame)
    return dict(zip(scorer.get_feature_names_out(), scorer.transform(frame)[0], strict=True))


# A hand-scored PCS form: answers to items 1..13.
PCS = [3, 2, 4, 1, 0, 2, 3, 4, 4, 3, 2, 1, 0]


def test_pcs_hand_scored_total_and_subscales():
    frame = pd.DataFrame([{f"pcs_{i:02d}": v for i, v in enumerate(PCS, start=1)}])
    out = score(frame, questionnaires=("pcs",))
    # rumination 8-11: 4+4+3+2; magnification 6,7,13: 2+3+0; helplessness 1-5,12: 3+2+4+1+0+1
    assert out == {"pcs_total": 29.0, "pcs_rumination": 13.0, "pcs_magnification": 5.0,
                   "pcs_helplessness": 11.0}


# A hand-scored TSK-17 form, answers as ticked (1 strongly disagree .. 4 strongly agree).
TSK = [3, 2, 4, 1, 3, 2, 2, 4, 3, 1, 2, 1, 3, 2, 4, 2, 3]
# Items 4, 8, 12, 16 are reverse-keyed: 1 -> 4, 4 -> 1, 1 -> 4, 2 -> 3.
TSK_17_BY_HAND = (3 + 2 + 4 + 4 + 3 + 2 + 2 + 1 + 3 + 1 + 2 + 4 + 3 + 2 + 4 + 3 + 3)  # 46
# TSK-11 drops items 4, 8, 9, 12, 14, 16 (Woby 2005): items 1,2,3,5,6,7,10,11,13,15,17.
TSK_11_BY_HAND = 3 + 2 + 4 + 3 + 2 + 2 + 1 + 2 + 3 + 4 + 3  # 29


def test_tsk_hand_scored_with_reverse_items():
    frame = pd.DataFrame([{f"tsk_{i:02d}": v for i, v in enumerate(TSK, start=1)}])
    out = score(frame, questionnaires=("tsk",))
    assert out == {"tsk_total": TSK_17_BY_HAND, "tsk_11_total": TSK_11_BY_HAND}


# HADS: odd items anxiety, even items depression.
HADS = [2, 1, 3, 0, 1, 2, 2, 1, 0, 3, 1, 0, 2, 1]


def test_hads_hand_scored_subscales():
    frame = pd.DataFrame([{f"hads_{i:02d}": v for i, v in enumerate(HADS, start=1)}])
    out = score(frame, questionnaires=("hads",))
    assert out == {"hads_anxiety": 2 + 3 + 1 + 2 + 0 + 1 + 2, "hads_depression":
                   1 + 0 + 2 + 1 + 3 + 0 + 1}


def test_missing_items_are_prorated_within_the_rule_and_missing_beyond():
    one_missing = {f"hads_{i:02d}": 2.0 for i in range(1, 15)}
    one_missing["hads_01"] = np.nan  # 1 of 7 anxiety items: pro-rated 2 * 7
    two_missing = dict(one_missing, hads_03=np.nan)  # 2 of 7: missing
    frame = pd.DataFrame([one_missing, two_missing])
    scorer = QuestionnaireScorer(questionnaires=("hads",)).fit(frame)
    out = scorer.transform(frame)
    assert_allclose(out[0], [14.0, 14.0])
    assert np.isnan(out[1, 0]) and out[1, 1] == 14.0


def test_totals_are_used_when_items_are_absent():
    frame = pd.DataFrame({"pcs_total": [20.0, np.nan], "tsk_total": [40.0, 35.0]})
    scorer = QuestionnaireScorer(questionnaires=("pcs", "tsk")).fit(frame)
    assert list(scorer.get_feature_names_out()) == ["pcs_total", "tsk_total"]
    assert_allclose(scorer.transform(frame), [[20.0, 40.0], [np.nan, 35.0]])


def test_a_tsk11_total_feeds_the_tsk11_feature_not_the_tsk17_total():
    frame = pd.DataFrame({"tsk11_total": [30.0, np.nan, 22.0]})
    scorer = QuestionnaireScorer(questionnaires=("tsk",)).fit(frame)
    assert list(scorer.get_feature_names_out()) == ["tsk_11_total"]
    assert_allclose(scorer.transform(frame)[:, 0], [30.0, np.nan, 22.0])
    # with the items answered, the TSK-11 total is the items' (reverse-scoring aside)
    items = {f"tsk_{i:02d}": 3.0 for i in range(1, 18)}
    both = pd.DataFrame([{**items, "tsk11_total": 33.0}])
    out = score(both, questionnaires=("tsk",))
    assert out["tsk_11_total"] == 33.0 and out["tsk_total"] == 3.0 * 13 + 2.0 * 4
    with pytest.raises(ValueError, match="tsk11_total disagrees with its items"):
        score(pd.DataFrame([{**items, "tsk11_total": 20.0}]), questionnaires=("tsk",))


def test_totals_fill_rows_without_items_next_to_rows_with_items():
    frame = pd.DataFrame([{**{f"pcs_{i:02d}": 1.0 for i in range(1, 14)}, "pcs_total": 13.0},
                          {**{f"pcs_{i:02d}": np.nan for i in range(1, 14)}, "pcs_total": 30.0}])
    scorer = QuestionnaireScorer(questionnaires=("pcs",)).fit(frame)
    out = scorer.transform(frame)
    assert out[0, 0] == 13.0 and out[1, 0] == 30.0
    assert out[0, 1] == 4.0 and np.isnan(out[1, 1])  # no subscale from a total alone


def test_items_and_total_that_disagree_are_refused():
    frame = pd.DataFrame([{**{f"pcs_{i:02d}": 1.0 for i in range(1, 14)}, "pcs_total": 20.0}])
    scorer = QuestionnaireScorer(questionnaires=("pcs",)).fit(frame)
    with pytest.raises(ValueError, match=r"pcs_total disagrees with its items .* row 1"):
        scorer.transform(frame)


@pytest.mark.parametrize(("params", "match"), [
    ({"questionnaires": ("pcs", "bdi")}, "questionnaires=.*expected a non-empty subset"),
    ({"questionnaires": ()}, "expected a non-empty subset"),
    ({"max_missing_fraction": 1.5}, "max_missing_fraction=1.5"),
])
def test_scorer_rejects_bad_parameters(params, match):
    frame = pd.DataFrame({"pcs_01": [1.0]})
    with pytest.raises(ValueError, match=match):
        QuestionnaireScorer(**params).fit(frame)


def test_scorer_names_the_group_when_no_column_exists():
    with pytest.raises(ValueError, match="Feature group 'tsk' needs columns"):
        QuestionnaireScorer(questionnaires=("tsk",)).fit(pd.DataFrame({"age_years": [30.0]}))


tsk_answers = st.lists(st.integers(1, 4), min_size=17, max_size=17)


@settings(max_examples=150, deadline=None)
@given(tsk_answers)
def test_tsk_total_in_range_and_reverse_scoring_applied_exactly_once(answers):
    frame = pd.DataFrame([{f"tsk_{i:02d}": float(v) for i, v in enumerate(answers, start=1)}])
    total = score(frame, questionnaires=("tsk",))["tsk_total"]
    assert 17 <= total <= 68
    expected = sum(5 - v if i in (4, 8, 12, 16) else v for i, v in enumerate(answers, start=1))
    assert total == expected
    # Flipping the answer of a reverse-keyed item moves the total the opposite way.
    flipped = dict(frame.iloc[0])
    flipped["tsk_04"] = 5.0 - flipped["tsk_04"]
    moved = score(pd.DataFrame([flipped]), questionnaires=("tsk",))["tsk_total"]
    assert moved - total == 2 * answers[3] - 5


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=13, max_size=13))
def test_pcs_prorated_total_stays_in_range(answers):
    frame = pd.DataFrame([{f"pcs_{i:02d}": np.nan if v is None else float(v)
                           for i, v in enumerate(answers, start=1)}])
    total = score(frame, questionnaires=("pcs",))["pcs_total"]
    n_missing = sum(v is None for v in answers)
    if n_missing > 2:
        assert np.isnan(total)
    else:
        assert 0 <= total <= 52
        answered = [v for v in answers if v is not None]
        assert total == pytest.approx(np.mean(answered) * 13)
