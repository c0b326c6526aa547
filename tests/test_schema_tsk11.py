"""TSK-11 totals have their own column, checked against the TSK-11 items."""

from __future__ import annotations

import pandas as pd

from eihpredict.schema import COLUMN_BY_NAME, TOTAL_RULES, TSK11_ITEMS
from eihpredict.validation import validate_frame

# Woby et al. 2005 (Pain 117:137-144): the TSK-11 keeps TSK-17 items 1, 2, 3, 5, 6, 7,
# 10, 11, 13, 15 and 17, written out literally here.
PUBLISHED_TSK11 = (1, 2, 3, 5, 6, 7, 10, 11, 13, 15, 17)


def test_tsk11_items_are_the_published_ones():
    assert TSK11_ITEMS == PUBLISHED_TSK11


def test_tsk11_total_column_is_in_group_tsk_with_range_11_44():
    spec = COLUMN_BY_NAME["tsk11_total"]
    assert (spec.group, spec.min, spec.max, spec.kind) == ("tsk", 11, 44, "number")
    assert any(r.total == "tsk11_total" and r.items == PUBLISHED_TSK11 for r in TOTAL_RULES)


def _row(**cells):
    return pd.DataFrame({"participant_id": ["p1"], "sex": ["female"],
                         **{k: [v] for k, v in cells.items()}})


def test_tsk11_total_below_17_is_valid_but_not_as_tsk_total():
    assert validate_frame(_row(tsk11_total=12)).valid[0]
    result = validate_frame(_row(tsk_total=12))
    assert not result.valid[0]
    assert result.issues["column"].tolist() == ["tsk_total"]


def test_tsk11_total_must_equal_the_sum_of_its_eleven_items():
    # Every TSK-17 item answered 2; reverse-keyed items (4, 8, 12, 16) are not in the
    # TSK-11, so the TSK-11 total is 11 x 2 = 22 whatever they hold.
    items = {f"tsk_{i:02d}": 2 for i in range(1, 18)}
    items.update({"tsk_04": 4, "tsk_09": 4})
    assert validate_frame(_row(tsk11_total=22, **items)).valid[0]
    wrong = validate_frame(_row(tsk11_total=24, **items))
    assert not wrong.valid[0]
    assert wrong.issues.loc[0, "column"] == "tsk11_total"
    assert "(= 22)" in wrong.issues.loc[0, "rule"]
