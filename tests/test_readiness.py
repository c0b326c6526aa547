"""`validate --for`: what the training itself would refuse, found before training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eihpredict.config import CVConfig, PipelineConfig
from eihpredict.features import FEATURE_GROUPS, build_feature_pipeline
from eihpredict.labels import LabelRule, make_labels
from eihpredict.readiness import check_training_file, unfed_groups


def config_of(**data) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": "t", "models": [
        {"name": "lr", "kind": "logistic"}], **data})


def test_unfed_groups_answer_as_the_feature_pipeline_does(small_cohort):
    """Every single-column drop: the groups named are exactly those whose transformer
    refuses the data when fitted on it (with rows)."""
    frame = small_cohort.frame.head(30)
    config = config_of(features={"groups": list(FEATURE_GROUPS)})
    for dropped in (["cpm_test_after_kpa"], ["ts_first_nrs", "ts_single_nrs"],
                    [c for c in frame if c.startswith("tsk_")],
                    ["pain_duration_months", "pain_intensity_nrs"], ["population"]):
        data = frame.drop(columns=dropped)
        named = {g.group for g in unfed_groups(list(data.columns), config)}
        refused = set()
        for group in FEATURE_GROUPS:
            try:
                build_feature_pipeline([group]).fit(data)
            except ValueError:
                refused.add(group)
        assert named == refused and named, dropped


def test_candidate_groups_count_too(small_cohort):
    config = config_of(features={"groups": ["pcs"]},
                       models=[{"name": "lr", "kind": "logistic"},
                               {"name": "base", "kind": "logistic", "groups": ["cpm"],
                                "baseline": True}])
    columns = [c for c in small_cohort.frame if not c.startswith("cpm_")]
    assert [g.group for g in unfed_groups(columns, config)] == ["cpm"]


def test_a_tsk11_total_alone_feeds_the_tsk_group_and_a_stray_column_does_not():
    # The TSK-11 total feeds its own feature (tsk_11_total), never the TSK-17 total.
    assert unfed_groups(["participant_id", "sex", "tsk11_total"],
                        config_of(features={"groups": ["tsk"]})) == []
    problems = unfed_groups(["participant_id", "sex", "pcs_total"],
                            config_of(features={"groups": ["tsk"]}))
    (problem,) = problems
    assert "needs one of the columns tsk_01" in problem.message
    assert "tsk11_total" in problem.message


@pytest.mark.parametrize("rule", [LabelRule(), LabelRule(use_label_column=False),
                                  LabelRule(rule="three_class", binary=False)])
def test_rows_flagged_unlabelled_are_exactly_those_make_labels_refuses(tmp_path, small_cohort,
                                                                       rule):
    frame = small_cohort.frame.head(60).copy()
    frame["eih_impaired"] = np.nan
    frame.loc[[2, 3], "eih_ppt_post_kpa"] = np.nan
    frame.loc[[3, 8], "eih_ppt_pre_kpa"] = np.nan
    frame.loc[[8], "eih_impaired"] = 1  # labelled by the column (where the rule uses it)
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    readiness = check_training_file(path, config_of(label=rule.model_dump()),
                                    report=tmp_path / "r.csv")
    flagged = sorted(pd.read_csv(tmp_path / "r.csv")["row"] - 1)
    refused = []
    for i in range(len(frame)):
        try:
            make_labels(frame.iloc[[i]], rule)
        except ValueError:
            refused.append(i)
    assert flagged == refused
    assert not readiness.ok


def test_a_single_class_and_tiny_classes_are_named(tmp_path, small_cohort):
    frame = small_cohort.frame.head(40).copy()
    frame["eih_ppt_post_kpa"] = frame["eih_ppt_pre_kpa"] + 50  # nobody impaired
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    readiness = check_training_file(path, config_of())
    assert readiness.problems == ["every labelled row has the same label (0); nothing to "
                                  "learn"]
    frame.loc[:2, "eih_ppt_post_kpa"] = frame.loc[:2, "eih_ppt_pre_kpa"] - 50  # 3 impaired
    frame.to_csv(path, index=False)
    readiness = check_training_file(path, config_of())
    assert readiness.problems == ["the smallest class has 3 row(s); cv.outer_folds = 5 and "
                                  "tuning.inner_folds = 3 need at least 5"]


def test_leave_site_out_needs_a_site_in_every_row(tmp_path, small_cohort):
    frame = small_cohort.frame.head(40).copy()
    frame.loc[[4], "site"] = None
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    config = config_of(cv=CVConfig(scheme="leave_site_out").model_dump())
    readiness = check_training_file(path, config, report=tmp_path / "r.csv")
    report = pd.read_csv(tmp_path / "r.csv")
    assert report[["row", "column"]].values.tolist() == [[5, "site"]]
    assert "leave_site_out needs a site in every row" in report["rule"].iloc[0]
    readiness = check_training_file(path.parent / "c.csv", config)
    assert not readiness.ok
    no_site = frame.drop(columns="site")
    no_site.to_csv(path, index=False)
    assert check_training_file(path, config).problems == [
        "cv.scheme leave_site_out needs a site column; the file has none"]


def test_a_ready_file_is_ready(cohort_csv, quick_config):
    readiness = check_training_file(cohort_csv, quick_config)
    assert readiness.ok, (readiness.groups, readiness.problems, readiness.summary.shown)
    tsk = ", ".join(f"tsk_{i:02d}" for i in range(1, 18))
    assert readiness.warnings == [
        "22 contract column(s) of groups the pipeline does not use: age_years, bmi_kg_m2, "
        "pain_duration_months, pain_intensity_nrs, physical_activity_met_min_week, " + tsk]
