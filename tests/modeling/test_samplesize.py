"""Riley et al. minimum sample size against the published worked example."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.modeling import cox_snell_r2_from_c, minimum_sample_size


def test_worked_example_c075_prevalence020_30_parameters_gives_about_1990():
    # Riley et al. (Stat Med 2021, BMJ 2020): about 1,990 rows; pmsampsize simulates the
    # R2 from a random sample of a million, this quadrature is deterministic (0.4 % off).
    result = minimum_sample_size(0.20, 0.75, 30)
    assert abs(result.minimum_n - 1990) <= 15
    assert result.n_shrinkage == result.minimum_n  # shrinkage is the binding criterion
    assert result.n_risk == 246  # (1.96 / 0.05)^2 * 0.2 * 0.8 = 245.9


def test_cox_snell_r2_rises_with_c_statistic_and_stays_below_its_maximum():
    values = [cox_snell_r2_from_c(c, 0.3) for c in (0.6, 0.7, 0.8, 0.9)]
    assert values == sorted(values)
    maximum = 1 - (0.3**0.3 * 0.7**0.7) ** 2
    assert all(0 < v < maximum for v in values)


def test_more_parameters_need_more_rows():
    sizes = [minimum_sample_size(0.4, 0.7, k).minimum_n for k in (5, 10, 20, 40)]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


@pytest.mark.parametrize(("args", "match"), [
    ((0.2, 0.45, 10), "c_statistic=0.45"),
    ((1.2, 0.7, 10), "prevalence=1.2"),
    ((0.2, 0.7, 0), "parameters=0"),
])
def test_sample_size_rejects_impossible_input(args, match):
    with pytest.raises(ValueError, match=match):
        minimum_sample_size(*args)


def test_samplesize_cli_prints_the_three_criteria():
    result = CliRunner().invoke(app, ["samplesize", "--prevalence", "0.2", "--c-statistic",
                                      "0.75", "--parameters", "30"])
    assert result.exit_code == 0
    assert "criterion 1" in result.stdout and "criterion 3 (overall risk within 0.05): 246" \
        in result.stdout
