"""The instrument registry: v1 numbers unchanged, each instrument's published scoring rule,
its bounds, the mapping's instrument rules, the draft and the simulator's extras."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from eihpredict.features import QuestionnaireScorer, build_feature_pipeline
from eihpredict.instruments import (
    INSTRUMENTS,
    PROMIS_ANXIETY_4A_T,
    PROMIS_DEPRESSION_4A_T,
    Instrument,
    Scale,
    register_instrument,
)
from eihpredict.mapping import MappingError, StudyMapping
from eihpredict.schema import COLUMN_BY_NAME, TOTAL_RULES
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame

BASELINE = Path(__file__).parent / "data" / "instrument_baseline.npz"


# -- no change in behaviour -------------------------------------------------------------
@pytest.mark.parametrize(("scenario", "seed"), [("default", 7), ("multisite", 3)])
def test_v1_features_and_model_numbers_are_bit_identical_to_before_the_registry(scenario, seed):
    """Frozen from main's code before the move (tests/data/make_instrument_baseline.py):
    the simulated frame, every feature of both pipeline flavours and a logistic model's
    probabilities are the same bits."""
    from sklearn.linear_model import LogisticRegression

    ref = np.load(BASELINE)
    frame = simulate_cohort(160, seed=seed, scenario=scenario).frame
    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    assert digest == str(ref[f"{scenario}_frame_sha256"])
    for kind in ("tree", "linear"):
        features = build_feature_pipeline(model_kind=kind).fit_transform(frame)
        assert list(features.columns) == list(ref[f"{scenario}_{kind}_names"])
        assert_array_equal(features.to_numpy(dtype="float64"), ref[f"{scenario}_{kind}_values"])
    y = (frame["eih_ppt_post_kpa"] <= frame["eih_ppt_pre_kpa"]).to_numpy()
    X = build_feature_pipeline(model_kind="linear").fit_transform(frame)
    p = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)[:, 1]
    assert_array_equal(p, ref[f"{scenario}_logistic_p"])


def test_v1_contract_rows_and_total_rules_are_unchanged():
    assert [r.total for r in TOTAL_RULES][:5] == [
        "pcs_total", "tsk_total", "tsk11_total", "hads_anxiety", "hads_depression"]
    assert COLUMN_BY_NAME["tsk_04"].description == (
        "Tampa Scale of Kinesiophobia item 4 (reverse-keyed, as answered)")
    assert (COLUMN_BY_NAME["tsk11_total"].min, COLUMN_BY_NAME["tsk11_total"].max) == (11, 44)


# -- published scoring rules --------------------------------------------------------------
def _score(name: str, answers, **columns) -> dict[str, float]:
    inst = INSTRUMENTS[name]
    frame = pd.DataFrame({inst.item(i): [float(a)] for i, a in enumerate(answers, start=1)}
                         | {k: [float(v)] for k, v in columns.items()})
    scorer = QuestionnaireScorer((name,), max_missing_fraction=None).fit(frame)
    return dict(zip(scorer.get_feature_names_out(), scorer.transform(frame)[0], strict=True))


@pytest.mark.parametrize(("name", "answers", "feature", "expected"), [
    # PHQ-9 (Kroenke 2001): sum of 9 items 0-3; 1 each = 9 ("mild" starts at 5).
    ("phq9", [1] * 9, "phq9_total", 9), ("phq9", [3] * 9, "phq9_total", 27),
    ("phq9", [0, 1, 2, 3, 0, 1, 2, 3, 0], "phq9_total", 12),
    # GAD-7 (Spitzer 2006): sum of 7 items 0-3.
    ("gad7", [3] * 7, "gad7_total", 21), ("gad7", [0, 1, 2, 3, 0, 1, 2], "gad7_total", 9),
    # PSEQ-10 (Nicholas 2007): sum of 10 items 0-6, no reverse items.
    ("pseq", [6] * 10, "pseq_total", 60), ("pseq", [6, 5, 4, 3, 2, 1, 0, 6, 5, 4], "pseq_total",
                                          36),
    # CSI-25 part A (Mayer 2012): sum of 25 items 0-4.
    ("csi", [4] * 25, "csi_total", 100), ("csi", [2] * 25, "csi_total", 50),
    # STAI-Y2 (Spielberger 1983): form items 21, 23, 26, 27, 30, 33, 34, 36, 39 reversed.
    # "Almost never" (1) to every anxiety-present item and "almost always" (4) to every
    # anxiety-absent item is the least anxious answer: 20; the opposite 80; all 1s 47.
    ("stai_trait", [4 if i in (1, 3, 6, 7, 10, 13, 14, 16, 19) else 1 for i in range(1, 21)],
     "stai_trait_total", 20),
    ("stai_trait", [1 if i in (1, 3, 6, 7, 10, 13, 14, 16, 19) else 4 for i in range(1, 21)],
     "stai_trait_total", 80),
    ("stai_trait", [1] * 20, "stai_trait_total", 11 * 1 + 9 * 4),
    # PROMIS short forms 4a (scoring manuals' tables): raw sum -> T-score.
    ("promis_anx", [1, 1, 1, 1], "promis_anx_t", 40.3),
    ("promis_anx", [2, 3, 3, 3], "promis_anx_t", 61.4),
    ("promis_anx", [5, 5, 5, 5], "promis_anx_t", 81.6),
    ("promis_dep", [1, 1, 1, 1], "promis_dep_t", 41.0),
    ("promis_dep", [2, 2, 2, 2], "promis_dep_t", 55.7),
    ("promis_dep", [3, 3, 3, 2], "promis_dep_t", 60.5),
    ("promis_dep", [5, 5, 5, 5], "promis_dep_t", 79.4),
    ("promis_dep", [3, 3, 3, 2], "promis_dep_raw", 11),
])
def test_published_examples(name, answers, feature, expected):
    assert _score(name, answers)[feature] == pytest.approx(expected)


def test_promis_tables_are_monotone_and_cover_every_sum():
    for table in (PROMIS_ANXIETY_4A_T, PROMIS_DEPRESSION_4A_T):
        assert list(table) == list(range(4, 21))
        assert all(np.diff(list(table.values())) > 0)


def test_pro_rating_follows_each_declared_rule():
    # PROMIS: at least 2 of 4 answered; 2, 3, 3 -> 8 * 4 / 3 = 10.67 -> 11 -> T 61.4.
    assert _score("promis_anx", [2, 3, 3, np.nan])["promis_anx_t"] == 61.4
    assert np.isnan(_score("promis_anx", [2, np.nan, np.nan, np.nan])["promis_anx_t"])
    # STAI: at most 2 of 20 missing (fraction 0.1); PHQ-9: 1 of 9.
    assert _score("stai_trait", [1] * 18 + [np.nan] * 2)["stai_trait_total"] == \
        pytest.approx((10 * 1 + 8 * 4) * 20 / 18)  # items 19 (reversed), 20 missing
    assert np.isnan(_score("stai_trait", [1] * 17 + [np.nan] * 3)["stai_trait_total"])
    assert _score("phq9", [2] * 8 + [np.nan])["phq9_total"] == 18
    assert np.isnan(_score("phq9", [2] * 7 + [np.nan] * 2)["phq9_total"])


def test_totals_are_used_alone_and_checked_against_items():
    inst = INSTRUMENTS["pseq"]
    frame = pd.DataFrame({"pseq_total": [40.0]})
    scorer = QuestionnaireScorer(("pseq",)).fit(frame)
    assert scorer.transform(frame).tolist() == [[40.0]]
    with pytest.raises(ValueError, match=r"pseq_total disagrees with its items .* row 1"):
        _score("pseq", [6] * 10, pseq_total=59)
    # T-score given with the raw sum: must be the table's value.
    assert _score("promis_anx", [], promis_anx_raw=11, promis_anx_t=61.4)["promis_anx_t"] == 61.4
    with pytest.raises(ValueError, match="promis_anx_t disagrees"):
        _score("promis_anx", [], promis_anx_raw=11, promis_anx_t=55.0)
    assert inst.total_columns == ("pseq_total",)


@pytest.mark.parametrize(("column", "low", "high"), [
    ("pseq_total", 0, 60), ("csi_total", 0, 100), ("stai_trait_total", 20, 80),
    ("phq9_total", 0, 27), ("gad7_total", 0, 21), ("promis_anx_raw", 4, 20),
    ("promis_dep_raw", 4, 20), ("promis_anx_t", 40.3, 81.6), ("promis_dep_t", 41.0, 79.4),
    ("pseq_01", 0, 6), ("csi_25", 0, 4), ("stai_trait_20", 1, 4), ("phq9_09", 0, 3),
    ("gad7_07", 0, 3), ("promis_anx_04", 1, 5)])
def test_bounds_are_the_published_ranges_and_the_validator_refuses_beyond(column, low, high):
    spec = COLUMN_BY_NAME[column]
    assert (spec.min, spec.max) == (low, high)
    frame = pd.DataFrame({"participant_id": ["a", "b", "c"], "sex": ["female"] * 3,
                          column: [low, high, high + 1]})
    issues = validate_frame(frame).issues
    bad = issues[issues["column"] == column]
    assert bad["row"].tolist() == [3], bad


def test_validator_checks_new_totals_against_items():
    frame = pd.DataFrame({"participant_id": ["a"], "sex": ["male"],
                          **{f"gad7_{i:02d}": [1] for i in range(1, 8)}, "gad7_total": [9]})
    issues = validate_frame(frame).issues
    assert issues["column"].tolist() == ["gad7_total"]
    assert "must equal the sum of gad7_01..gad7_07 (= 7)" in issues["rule"].iloc[0]


# -- registry rules ------------------------------------------------------------------------
def test_registering_a_clash_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_instrument(Instrument("pcs", 3, 0, 2))
    with pytest.raises(ValueError, match="already belong"):
        register_instrument(Instrument("pcsx", 2, 0, 2, scales=(
            Scale("pcsx_total", (1, 2), "pcs_total"),)))
    assert "pcsx" not in INSTRUMENTS
    with pytest.raises(ValueError, match="names another feature group"):
        register_instrument(Instrument("ppt", 2, 0, 2))


# -- mapping and draft -----------------------------------------------------------------------
def test_promis_sums_mapped_onto_hads_are_refused_by_name():
    with pytest.raises(MappingError, match=r"columns\.hads_anxiety: study column "
                       r"'promis_anx_sum' is named like the PROMIS Anxiety"):
        StudyMapping.from_dict({"columns": {"participant_id": "record_id",
                                            "hads_anxiety": "promis_anx_sum"}})
    with pytest.raises(MappingError, match=r"columns\.hads_depression: study column "
                       "'PROMIS_Dep_Raw'"):
        StudyMapping.from_dict({"columns": {"hads_depression": "PROMIS_Dep_Raw"}})
    ok = StudyMapping.from_dict({"columns": {"promis_anx_raw": "promis_anx_sum",
                                             "hads_anxiety": "hads_a"}})
    assert set(ok.contract_columns) == {"promis_anx_raw", "hads_anxiety"}


def test_mapping_declares_the_instruments_a_study_used():
    mapping = StudyMapping.from_dict({
        "instruments": ["promis_anx_4a", "pseq"],
        "items": {"promis_anx_4a": ["a1", "a2", "a3", "a4"],
                  "pseq": [f"se{i}" for i in range(1, 11)]}})
    assert "promis_anx_04" in mapping.contract_columns and "pseq_10" in mapping.contract_columns
    with pytest.raises(MappingError, match="belongs to the Hospital Anxiety and Depression "
                       "Scale, which the mapping's instruments: list does not declare"):
        StudyMapping.from_dict({"instruments": ["pseq"], "columns": {"hads_anxiety": "anx"}})
    with pytest.raises(MappingError, match="items: unknown questionnaire 'promis_anx_8a'"):
        StudyMapping.from_dict({"items": {"promis_anx_8a": ["a"] * 8}})
    with pytest.raises(MappingError, match="instruments: unknown questionnaire 'stai_state'"):
        StudyMapping.from_dict({"instruments": ["stai_state"]})


def test_map_init_suggests_the_new_instruments_from_redcap_names(tmp_path):
    from eihpredict._draft import draft_mapping

    names = (["record_id", "gender"] + [f"pseq_{i}" for i in range(1, 11)]
             + [f"promis_anx_{i}" for i in range(1, 5)] + ["promis_dep_sum", "phq9_1",
                                                              "gad7_1", "csi_1", "stai_21",
                                                              "stai_22", "cpm_rating_before",
                                                              "cpm_rating_during"])
    values = [["1", "1"] + ["3"] * 10 + ["2"] * 4 + ["10", "1", "2", "3", "2", "3", "60",
                                                     "45"]]
    path = tmp_path / "lab.csv"
    pd.DataFrame(values, columns=names).to_csv(path, index=False)
    text = draft_mapping(path).text
    for line in ("pseq_01: pseq_1", "promis_anx_04: promis_anx_4", "promis_dep_raw: "
                 "promis_dep_sum", "phq9_01: phq9_1", "gad7_01: gad7_1", "csi_01: csi_1",
                 "stai_trait_01: stai_21", "stai_trait_02: stai_22",
                 "cpm_test_before_rating: cpm_rating_before",
                 "cpm_test_after_rating: cpm_rating_during"):
        assert line in text, line
    assert "instruments: [pseq, promis_anx, promis_dep, phq9, gad7, csi, stai_trait]" in text
    assert "cpm_test_before_kpa" not in text


# -- simulator --------------------------------------------------------------------------------
def test_extras_are_off_by_default_and_change_no_other_column():
    plain = simulate_cohort(120, seed=5, scenario="multisite").frame
    extra = simulate_cohort(120, seed=5, scenario="multisite", extras="all").frame
    assert not any(c.startswith(("pseq", "phq9", "promis", "cpm_test_before_rating"))
                   for c in plain.columns)
    pd.testing.assert_frame_equal(extra[plain.columns], plain)
    assert {"pseq_total", "stai_trait_total"} <= set(extra.columns)  # totals-only site
    with pytest.raises(ValueError, match="extras"):
        simulate_cohort(10, extras=["pseq", "stai_state"])


def test_simulated_instruments_correlate_with_their_latent_traits():
    frame = simulate_cohort(3000, seed=2, scenario="realistic", extras="all").frame
    groups = ["hads", "pcs", "tsk", "ppt", "ts", "promis_anx", "promis_dep", "pseq", "csi",
              "stai_trait", "phq9", "gad7"]
    f = build_feature_pipeline(groups).fit_transform(frame)
    corr = f.corr()
    for a, b in (("promis_anx_t", "hads_anxiety"), ("stai_trait_total", "hads_anxiety"),
                 ("gad7_total", "hads_anxiety"), ("promis_dep_t", "hads_depression"),
                 ("phq9_total", "hads_depression")):
        assert corr.loc[a, b] > 0.6, (a, b, corr.loc[a, b])
    assert corr.loc["pseq_total", "tsk_total"] < -0.3
    assert corr.loc["pseq_total", "pcs_total"] < -0.3
    assert corr.loc["csi_total", "ts_diff"] > 0.1
    for column in ("pseq_total", "csi_total", "stai_trait_total", "phq9_total", "gad7_total",
                   "promis_anx_t", "promis_dep_t"):
        spec = COLUMN_BY_NAME[column]
        assert spec.min <= f[column].min() and f[column].max() <= spec.max
    assert_allclose(f["promis_anx_t"].dropna().isin(list(PROMIS_ANXIETY_4A_T.values())).mean(),
                    1.0)


def test_docs_list_every_registered_instrument():
    from eihpredict.instruments import instruments_markdown

    doc = (Path(__file__).resolve().parents[1] / "docs" / "instruments.md").read_text()
    assert instruments_markdown() in doc, "regenerate the table: eihpredict instruments"
    for inst in INSTRUMENTS.values():
        assert f"`{inst.name}_`" in doc


def test_validator_checks_t_scores_and_the_cpm_rating_scale():
    frame = pd.DataFrame({
        "participant_id": ["a", "b", "c", "d"], "sex": ["male"] * 4,
        "promis_anx_raw": [11, 11, np.nan, np.nan], "promis_anx_t": [61.4, 59.5, 70.0, np.nan],
        "cpm_test_before_rating": [6, 60, 60, 6], "cpm_test_after_rating": [4, 40, 40, 40],
        "cpm_rating_scale": ["0-10", "0-100", "0-10", "0-10"]})
    issues = validate_frame(frame).issues
    found = sorted(zip(issues["row"], issues["column"], strict=True))
    assert found == [(2, "promis_anx_t"), (3, "cpm_test_after_rating"),
                     (3, "cpm_test_before_rating"), (4, "cpm_test_after_rating")], issues
    assert "table at the raw sum promis_anx_raw" in issues["rule"].iloc[0]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    from eihpredict.validation import validate_records

    assert validate_records(records).valid.tolist() == [True, False, False, False]


def test_map_init_reads_totals_and_t_scores_named_after_their_instrument(tmp_path):
    from eihpredict._draft import draft_mapping

    path = tmp_path / "lab.csv"
    pd.DataFrame({"record_id": [1, 2], "promis_anx_rawscore": [10, 12],
                  "PROMIS Dep": [55.7, 62.2], "pseq total": [40, 35],
                  "cpm_vas_warm": [60, 70], "cpm_vas_cold": [40, 65]}).to_csv(path, index=False)
    text = draft_mapping(path).text
    for line in ("promis_anx_raw: promis_anx_rawscore", "pseq_total: pseq total",
                 "cpm_test_before_rating: cpm_vas_warm", "cpm_test_after_rating: cpm_vas_cold"):
        assert line in text, line
    assert "constants: cpm_rating_scale: 0-100 unless the file says" in text
    assert "promis_dep_t: PROMIS Dep  # named after the PROMIS Depression short form 4a; " \
        "values up to 62.2, above its raw sums: T-scores" in text
    mapping = StudyMapping.from_dict({"columns": {
        "participant_id": "record_id", "promis_anx_raw": "promis_anx_rawscore"}})
    assert mapping.contract_columns == ["participant_id", "promis_anx_raw"]
