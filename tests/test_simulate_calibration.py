"""The simulator against the published figures of docs/domain.md.

Each row of :func:`eihpredict.simulate.calibration_table` names its source (Naugle 2012,
Tomschi 2024, Vaegter 2021, Lewis 2012, Chesterton 2003, Rice 2019) and a tolerance;
docs/simulator.md shows the same table (``eihpredict calibration``).
"""

from __future__ import annotations

import pytest

from eihpredict.simulate import calibration_table


@pytest.fixture(scope="module")
def table():
    return calibration_table(100_000, seed=0)


def test_calibration_covers_ppt_eih_cpm_and_signal(table):
    text = " ".join(table["quantity"])
    for topic in ("PPT local", "PPT remote", "effect size d", "no PPT rise", "CPM effect size",
                  "variance explained", "oracle AUROC", "remote site", "rest-controlled",
                  "measurement error"):
        assert topic in text


def test_calibration_meets_every_published_figure(table):
    failing = table.loc[~table["ok"], ["quantity", "published", "simulated", "tolerance"]]
    assert failing.empty, failing.to_string()


def test_calibration_holds_for_another_seed():
    assert calibration_table(100_000, seed=123)["ok"].all()


def test_calibration_says_which_figures_were_fitted_and_which_checked(table):
    """A fitted figure proves little (a parameter was set to it); a checked one emerges."""
    assert set(table["basis"]) == {"fitted", "checked"}
    basis = dict(zip(table["quantity"], table["basis"], strict=True))
    assert basis["EIH effect size d (pre/post), healthy, aerobic"] == "fitted"
    assert basis["oracle AUROC of impaired EIH"] == "checked"
    assert basis["EIH mean change, healthy, aerobic, remote site (kPa)"] == "fitted"


def test_calibration_table_in_the_docs_is_the_generated_one(table):
    from pathlib import Path

    from eihpredict.simulate import markdown_table

    page = (Path(__file__).resolve().parents[1] / "docs" / "simulator.md").read_text()
    assert markdown_table(table) in page, "paste `eihpredict calibration` into docs/simulator.md"
