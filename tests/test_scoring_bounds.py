"""Issue 27: no input sets unbounded work in batch scoring (pass-through columns joined in
one step, --explain at most the model's feature count), and ids keep their bytes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.model_dir import load_model_dir
from eihpredict.scoring import ScoringError, score_file, score_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(trained):
    return load_model_dir(trained.model_dir)


@pytest.fixture(scope="module")
def rows(cohort_csv):
    return pd.read_csv(cohort_csv, dtype=str, keep_default_na=False, na_values=[""]).head(20)


def test_pass_through_columns_are_joined_in_one_step(loaded, rows):
    """3,000 extra columns: adding them one by one fragments the frame (pandas warns past
    100 inserts, and the time grows with the square of their number); one join does
    not. Values and order are kept, a name clashing with an output gets ``input_``."""
    extra = pd.DataFrame(np.arange(20 * 3000).reshape(20, 3000).astype(str),
                         columns=[f"x{i}" for i in range(3000)])
    wide = pd.concat([rows, extra], axis=1).assign(p_impaired_eih="old")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        scored = score_frame(loaded.model, wide).scored
    assert list(scored.columns[-3001:]) == [*extra.columns, "input_p_impaired_eih"]
    assert (scored[extra.columns].to_numpy() == extra.to_numpy()).all()
    assert (scored["input_p_impaired_eih"] == "old").all()
    assert scored["p_impaired_eih"].between(0, 1).all()


def test_explain_is_capped_at_the_models_feature_count(loaded, trained, cohort_csv,
                                                       tmp_path):
    n = len(loaded.model.feature_names)
    full = score_frame(loaded.model, pd.read_csv(cohort_csv).head(5), explain=n).scored
    assert full[f"feature_{n}"].notna().all()
    for asked in (n + 1, 5000, 1_000_000_000):
        out = tmp_path / "s.csv"
        result = runner.invoke(app, ["score", "--model", str(trained.model_dir), "--input",
                                     cohort_csv, "--output", str(out), "--explain",
                                     str(asked)])
        assert result.exit_code == 1, result.output
        assert f"--explain {asked}: the model has {n} features" in result.output
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
    with pytest.raises(ScoringError, match=f"at most {n} contributions"):
        score_frame(loaded.model, pd.read_csv(cohort_csv).head(5), explain=n + 1)
    with pytest.raises(ScoringError, match="the model has"):
        score_file(trained.model_dir, cohort_csv, tmp_path / "t.csv", explain=n + 1)
