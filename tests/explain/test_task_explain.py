"""The biomarker report for continuous and three-class models (SHAP per class)."""

from __future__ import annotations

import pandas as pd
import pytest

from eihpredict.explain import explain_model
from eihpredict.model_dir import load_model_dir
from eihpredict.validation import read_valid_cohort


@pytest.mark.parametrize("fixture", ["trained_continuous", "trained_three_class"])
def test_report_for_other_tasks_keeps_the_contract_and_the_simulated_truth(
        fixture, request, cohort_csv, tmp_path):
    trained = request.getfixturevalue(fixture)
    result = explain_model(load_model_dir(trained.model_dir), read_valid_cohort(cohort_csv),
                           tmp_path / "report", resamples=10, n_jobs=1, log_to_mlflow=False)
    table = pd.read_csv(result.files["biomarkers.csv"])
    assert list(table.columns[:7]) == ["feature", "group", "importance", "ci_low", "ci_high",
                                       "selection_frequency", "is_biomarker"]
    # The simulator's CPM effect: more inhibition, more EIH, so less risk (of impaired EIH
    # for the continuous model read at its threshold, of hyperalgesia for three classes).
    directions = table.set_index("feature")["direction"]
    assert directions["cpm_pct"] == "lowers risk"
    assert "cpm" in result.biomarkers.declared_groups
    if fixture == "trained_three_class":
        assert {"beeswarm_hypoalgesia.png", "beeswarm_no_change.png"} <= set(result.files)
    html = result.files["report.html"].read_text()
    assert ("kPa of predicted PPT change" in html) or ("hyperalgesia" in html)
