"""Issue 27: no input sets unbounded work in batch scoring (pass-through columns joined in
one step, --explain at most the model's feature count), and ids keep their bytes."""

from __future__ import annotations

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


def _insertions(monkeypatch) -> dict:
    """Counts columns set one at a time on any DataFrame (``df[name] = ...``, ``insert``),
    the real methods still doing the work."""
    counts = {"n": 0}
    for method in ("__setitem__", "insert"):
        original = getattr(pd.DataFrame, method)

        def counted(self, *args, _original=original, **kwargs):
            counts["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(pd.DataFrame, method, counted)
    return counts


def _wide(rows, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    extra = pd.DataFrame(np.arange(20 * n).reshape(20, n).astype(str),
                         columns=[f"x{i}" for i in range(n)])
    return pd.concat([rows, extra], axis=1).assign(p_impaired_eih="old"), extra


def test_pass_through_columns_are_joined_in_one_step(loaded, rows, tmp_path, monkeypatch):
    """Scoring and writing 3,000 extra columns sets no more columns one at a time than
    10 do (added one by one, the work grew with the square of their number: 20,000
    columns took 478 s). Values and order are kept; a name clashing with an output is
    kept as ``input_<name>``."""
    from eihpredict.cohort_io import write_table

    counts = _insertions(monkeypatch)
    per_size = {}
    for n in (10, 3000):
        wide, extra = _wide(rows, n)
        counts["n"] = 0
        scored = score_frame(loaded.model, wide).scored
        write_table(scored, tmp_path / f"s{n}.csv")
        per_size[n] = counts["n"]
    assert per_size[3000] == per_size[10], per_size
    assert list(scored.columns[-3001:]) == [*extra.columns, "input_p_impaired_eih"]
    assert (scored[extra.columns].to_numpy() == extra.to_numpy()).all()
    assert (scored["input_p_impaired_eih"] == "old").all()
    assert scored["p_impaired_eih"].between(0, 1).all()
    back = pd.read_csv(tmp_path / "s3000.csv", dtype=str)
    assert (back[extra.columns].to_numpy() == extra.to_numpy()).all()


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


def test_ids_with_line_breaks_are_refused_and_every_cell_keeps_its_bytes(trained, rows,
                                                                          tmp_path):
    """A quoted CSV id "a\\r\\nb" is refused (a reason naming the rule), never altered;
    the rejects file and pass-through cells give back exactly what was read, a lone CR
    included (Python's csv does not quote it by itself)."""
    import csv

    frame = rows.head(5).copy()
    odd = ["a\r\nb", "c\rd", "e\nf", "g\th"]
    frame.loc[:3, "participant_id"] = odd
    frame["note"] = ["x\ry", "plain", "=1+1", "p\r\nq", ""]
    given = tmp_path / "in.csv"
    frame.to_csv(given, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    out = tmp_path / "out.csv"
    summary = score_file(trained.model_dir, given, out)
    assert (summary.n_scored, summary.n_rejected) == (1, 4)
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert scored["participant_id"].tolist() == [frame.loc[4, "participant_id"]]
    rejects = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str, keep_default_na=False)
    assert rejects["participant_id"].tolist() == odd
    assert rejects["note"].tolist() == ["x\ry", "plain", "'=1+1", "p\r\nq"]
    assert rejects["reasons"].str.contains("no line break, tab or other control").all()
