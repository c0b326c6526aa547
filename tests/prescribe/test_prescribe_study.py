"""Small versions of the simulation study in benchmarks/prescribe.py (issue 23)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from eihpredict.modeling import heterogeneity_test
from eihpredict.prescribe import prescribe
from eihpredict.simulate import simulate_crossover


def _event(frame: pd.DataFrame) -> np.ndarray:
    return (frame["eih_ppt_post_kpa"] <= frame["eih_ppt_pre_kpa"]).to_numpy(int)


def test_heterogeneity_test_holds_its_level_without_heterogeneity():
    """(c) 60 cohorts without heterogeneity: at most 8 positives at 5 % (a test at the
    nominal level exceeds 8 with probability 0.003)."""
    p = [heterogeneity_test(c.frame, _event(c.frame)).p_value for c in (
        simulate_crossover(100, seed=s, sessions=3, heterogeneity=False)
        for s in range(300, 360))]
    positives = int(np.sum(np.array(p) < 0.05))
    assert binom.sf(8, 60, 0.05) < 0.005
    assert positives <= 8, positives
    assert 0.2 < np.mean(p) < 0.8  # p-values spread over (0, 1), not piled at 1


def test_heterogeneity_test_finds_heterogeneity():
    p = [heterogeneity_test(c.frame, _event(c.frame)).p_value for c in (
        simulate_crossover(300, seed=s, sessions=3) for s in range(400, 404))]
    assert np.sum(np.array(p) < 0.05) >= 3, p


def test_heterogeneity_statistic_against_an_independent_model_based_wald():
    """One session per participant: the clustered statistic is close to the classical
    Wald statistic of a probit fit by scipy's optimiser and its Fisher information."""
    from scipy.optimize import minimize
    from scipy.stats import chi2, norm

    from eihpredict.features import baseline_moderators
    from eihpredict.sessions import option_labels

    cohort = simulate_crossover(3000, seed=5, sessions=2)
    frame = cohort.frame.drop_duplicates("participant_id").reset_index(drop=True)
    y = _event(frame)
    result = heterogeneity_test(frame, y)
    labels = option_labels(frame)
    options = list(labels.value_counts().index)
    z = {k: np.nan_to_num(v) for k, v in baseline_moderators(
        {c: frame[c].to_numpy(float) for c in frame.columns
         if c.startswith(("cpm_test_", "ts_first", "ts_last", "pcs_"))}).items()}
    d = [(labels == o).to_numpy(float) for o in options[1:]]
    X = np.column_stack([np.ones(len(y)), *d, *z.values(),
                         *(a * b for a in d for b in z.values())])

    def loss(beta):
        return -np.sum(norm.logcdf(np.where(y == 1, 1, -1) * (X @ beta)))

    beta = minimize(loss, np.zeros(X.shape[1]), method="BFGS").x
    eta = X @ beta
    w = norm.pdf(eta) ** 2 / (norm.cdf(eta) * norm.sf(eta))
    cov = np.linalg.inv((X * w[:, None]).T @ X)
    idx = np.arange(X.shape[1] - 9, X.shape[1])
    wald = float(beta[idx] @ np.linalg.solve(cov[np.ix_(idx, idx)], beta[idx]))
    assert result.n_participants == result.n_rows == 3000 and result.df == 9
    assert abs(result.statistic - wald) < 0.25 * wald, (result.statistic, wald)
    assert chi2.sf(wald, 9) < 0.05 and result.p_value < 0.05


@pytest.fixture(scope="module")
def new_patients():
    new = simulate_crossover(150, seed=10031, sessions=2)
    patients = new.frame.drop_duplicates("participant_id").drop(
        columns=["session_id", "exercise_modality", "exercise_intensity_pct",
                 "exercise_duration_min", "eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
    return patients, new.truth["p_impaired_by_option"]


def test_prescription_against_the_truth(crossover_model, new_patients):
    """(a) and (b) on a small cohort (150 x 3, 30 refits): the chosen option is the true
    best for most participants with a clear difference, and the intervals hold most true
    probabilities. The goals (>= 80 %, 93-97 %) are measured at 300 x 3 in
    benchmarks/prescribe.py; these bounds only catch a broken prescription."""
    patients, truth = new_patients
    table = prescribe(crossover_model, patients).table
    true = pd.DataFrame(truth).T
    ordered = np.sort(true.to_numpy(), axis=1)
    clear = true.index[ordered[:, 1] - ordered[:, 0] > 0.10]
    chosen = table[table["rank"] == 1].set_index("participant_id")["option"]
    assert len(clear) >= 15
    assert (chosen.loc[clear] == true.loc[clear].idxmin(axis=1)).mean() >= 0.6
    t = [truth[p][o] for p, o in zip(table["participant_id"], table["option"], strict=True)]
    covered = ((table["p_low"] <= t) & (np.asarray(t) <= table["p_high"])).mean()
    assert covered >= 0.6, covered
