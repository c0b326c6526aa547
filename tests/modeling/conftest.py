"""Fixtures for the checks against R: the stored cases and R's reference values.

The values come from ``tests/data/r/reference.R`` (rms, pROC, metafor, pmsampsize,
pmvalsampsize); the tests read the stored JSON and never need R.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

R_DIR = Path(__file__).resolve().parents[1] / "data" / "r"


@pytest.fixture(scope="session")
def r_reference() -> dict:
    return json.loads((R_DIR / "reference_values.json").read_text())


@pytest.fixture(scope="session")
def r_case():
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(R_DIR / f"{name}.csv")

    return read
