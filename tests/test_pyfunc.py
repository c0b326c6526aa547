"""The MLflow-native path on ordinary files: ``mlflow.pyfunc.load_model(DIR).predict(
pd.read_csv(FILE))`` works on what read_csv gives and never fails a batch for one row."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from eihpredict.model_dir import load_model_dir
from eihpredict.scoring import score_frame


@pytest.fixture(scope="module")
def pyfunc(trained):
    return mlflow.pyfunc.load_model(str(trained.model_dir))


@pytest.fixture
def integer_file(tmp_path, small_cohort):
    """Integer ids and an item column with no missing cell: read_csv makes both int64."""
    frame = small_cohort.frame.head(40).copy()
    frame["participant_id"] = np.arange(1000, 1040)
    frame["pcs_01"] = frame["pcs_01"].fillna(2).astype(int)
    path = tmp_path / "ints.csv"
    frame.to_csv(path, index=False)
    return path


def test_predict_accepts_int64_columns_and_integer_ids(pyfunc, trained, integer_file):
    rows = pd.read_csv(integer_file)
    assert rows["participant_id"].dtype == "int64" and rows["pcs_01"].dtype == "int64"
    out = pyfunc.predict(rows)
    assert len(out) == len(rows)
    assert out["participant_id"].tolist() == [str(i) for i in rows["participant_id"]]
    assert out["reject_reason"].isna().all()
    ours = score_frame(load_model_dir(trained.model_dir).model, rows).scored
    np.testing.assert_array_equal(out["p_impaired_eih"].to_numpy(),
                                  ours["p_impaired_eih"].to_numpy())  # same bits as the CLI
    assert out["eih_prediction"].tolist() == ours["eih_prediction"].tolist()


def test_one_invalid_row_gets_a_reason_and_the_rest_are_scored(pyfunc, integer_file):
    rows = pd.read_csv(integer_file)
    rows.loc[5, "pcs_01"] = 9
    out = pyfunc.predict(rows)
    assert len(out) == len(rows)
    assert pd.isna(out.loc[5, "p_impaired_eih"]) and pd.isna(out.loc[5, "eih_prediction"])
    assert "pcs_01" in out.loc[5, "reject_reason"]
    others = out.drop(index=5)
    assert others["p_impaired_eih"].between(0, 1).all() and others["reject_reason"].isna().all()


def test_signature_does_not_refuse_what_read_csv_gives(trained):
    from mlflow.models import Model

    inputs = Model.load(str(trained.model_dir / "MLmodel")).get_input_schema()
    assert {str(spec.type) for spec in inputs.inputs} == {"Any"}
