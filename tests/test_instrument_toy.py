"""Adding an instrument is one declaration: a toy questionnaire declared here only is
validated, simulated, trained on, scored and mapped with no other change to the package."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eihpredict.instruments import (
    INSTRUMENTS,
    Instrument,
    Scale,
    likert,
    register_instrument,
    unregister_instrument,
)

TOY = "toyq"


def _simulate_toy(rng, latent):
    inst = INSTRUMENTS[TOY]
    scored = likert(rng, inst.items, 1.2 + 0.9 * latent["catastrophizing"], 0, 3)
    return {c: (3 - v if i in inst.reverse else v)
            for i, (c, v) in enumerate(scored.items(), start=1)}


@pytest.fixture
def toy():
    """The one declaration; removed afterwards so no other test sees it."""
    register_instrument(Instrument(
        TOY, 5, 0, 3, reverse=(3,), reverse_constant=3, label="Toy Questionnaire",
        scales=(Scale("toyq_total", (1, 2, 3, 4, 5), "toyq_total", "Toy total"),
                Scale("toyq_first", (1, 2))),
        versions={"toyq": (1, 2, 3, 4, 5)}, item_stems=("toyq", "toy_q"),
        total_synonyms={"toyq_total": ("toyq_sum", "toy_score")},
        simulate=_simulate_toy))
    yield INSTRUMENTS[TOY]
    unregister_instrument(TOY)


def test_toy_instrument_is_in_the_contract_and_validated(toy):
    from eihpredict.schema import COLUMN_BY_NAME, COLUMNS, contract_markdown
    from eihpredict.validation import validate_frame

    assert [c.name for c in COLUMNS if c.group == TOY] == [*toy.items, "toyq_total"]
    assert COLUMN_BY_NAME["toyq_total"].rule == "number between 0 and 15"
    assert "| toyq_03 | integer | toyq |" in contract_markdown()
    frame = pd.DataFrame({"participant_id": ["a", "b"], "sex": ["male", "female"],
                          **{c: [1, 1] for c in toy.items}, "toyq_total": [7, 9]})
    issues = validate_frame(frame).issues  # item 3 reversed: 1+1+2+1+1 = 6
    assert issues["column"].tolist() == ["toyq_total", "toyq_total"]
    assert "(= 6)" in issues["rule"].iloc[0]


def test_toy_instrument_gone_after_unregister():
    from eihpredict.features import FEATURE_GROUPS
    from eihpredict.schema import COLUMN_BY_NAME

    assert TOY not in INSTRUMENTS and TOY not in FEATURE_GROUPS
    assert "toyq_total" not in COLUMN_BY_NAME


def test_toy_instrument_trains_scores_and_maps(toy, tmp_path):
    from eihpredict.config import PipelineConfig
    from eihpredict.mapping import StudyMapping
    from eihpredict.scoring import score_file
    from eihpredict.simulate import simulate_cohort
    from eihpredict.training import train

    cohort = simulate_cohort(240, seed=11, scenario="default", extras=[TOY]).frame
    assert cohort[list(toy.items)].notna().mean().min() > 0.9
    data = tmp_path / "cohort.csv"
    cohort.to_csv(data, index=False)
    config = PipelineConfig.model_validate({
        "name": "toy", "seed": 3, "features": {"groups": ["cpm", TOY]},
        "models": [{"name": "logistic", "kind": "logistic", "params": {"C": 1.0}}],
        "tuning": {"n_trials": 1, "inner_folds": 2},
        "cv": {"outer_folds": 2, "repeats": 1, "bootstrap": 50},
        "calibration": {"method": "sigmoid", "folds": 2}})
    result = train(config, data, out=tmp_path / "model", track=False)
    features = result.metadata["features"]
    assert "toyq_total" in features and "toyq_first" in features
    card = (tmp_path / "model" / "model_card.md").read_text()
    assert "Feature groups: cpm, toyq." in card
    assert "- CPM form: pressure pain thresholds (cpm: " in card

    # Scoring: the toy items feed the model; a study's own names through a mapping.
    study = cohort.drop(columns=[c for c in cohort.columns if c.startswith("eih_")])
    study = study.rename(columns={c: f"toy_q{i}" for i, c in enumerate(toy.items, start=1)})
    mapping = StudyMapping.from_dict({
        "instruments": ["toyq"], "columns": {},
        "items": {"toyq": [f"toy_q{i}" for i in range(1, 6)]}})
    mapped, report = mapping.apply(study)
    assert report.ok and set(toy.items) <= set(mapped.columns)
    assert_frame = pd.testing.assert_series_equal
    assert_frame(mapped["toyq_03"], cohort["toyq_03"], check_dtype=False)
    src = tmp_path / "study.csv"
    study.to_csv(src, index=False)
    out = tmp_path / "scores.csv"
    score_file(tmp_path / "model", src, out, mapping=mapping)
    scored = pd.read_csv(out)
    direct = tmp_path / "direct.csv"
    score_file(tmp_path / "model", data, direct)
    assert len(scored) == len(cohort)
    np.testing.assert_allclose(scored["p_impaired_eih"], pd.read_csv(direct)["p_impaired_eih"])
    # The draft suggests the toy's items and total from typical names.
    from eihpredict._draft import draft_mapping

    study.assign(toyq_sum=1.0).to_csv(src, index=False)
    text = draft_mapping(src).text
    assert "toyq_01: toy_q1" in text and "toyq_total: toyq_sum" in text
