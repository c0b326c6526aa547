"""How a continuous model's per-stratum interval rules hold coverage in every stratum.

    python -m benchmarks.stratum_pooling [--reps 1000] [--sizes 400 200 120 100 100 80]

A simulation of the last step of the location-scale predictive distribution
(:class:`eihpredict.modeling.LocationScaleDistribution`): standardised out-of-fold
residuals of a 1,000-row cohort split into six pain populations of the simulator's
mix (``--sizes``), Gaussian with a true spread factor per population. Each rule is
fitted on them and its 80 % interval's exact coverage in each population is computed
from the true distribution. Reported per truth and rule, over ``--reps`` cohorts:

* ``miss``: share of cohorts in which some population's coverage is outside
  0.75-0.85 (the project's goal), with a 95 % Wilson interval;
* ``worst``: mean over cohorts of the largest distance of a population's coverage
  from 0.80.

Rules: ``pooled`` (one distribution for every row), ``mondrian`` (each population its
own conformal interval), ``mixture200`` (the previous release's rule: own and
pooled mixed with weight ``n / (n + 200)``), ``eb_scale`` (the default:
empirical-Bayes stratum spread factors). Truths: ``same`` (the scale model explained
every difference), ``fibromyalgia_x1.15`` (one group left 15 % wider), ``chronic_pain_wider`` (x0.8
healthy, x1.15 chronic pain, x1.3 fibromyalgia: the ``heteroscedastic`` scenario
before any scale model) and ``mixed`` (+-10-15 % either way).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import ndtr

RULES = {"pooled": ("pooled", None), "mondrian": ("strata", 0.0),
         "mixture200": ("strata", 200.0), "eb_scale": ("strata", None)}
TRUTHS = {
    "same": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "fibromyalgia_x1.15": (1.0, 1.0, 1.0, 1.0, 1.15, 1.0),
    "chronic_pain_wider": (0.8, 1.15, 1.15, 1.15, 1.3, 1.15),
    "mixed": (1.0, 0.9, 1.1, 1.0, 0.85, 1.1),
}


def run(truth: tuple[float, ...], rule: str, sizes: list[int], reps: int
        ) -> tuple[float, float]:
    from eihpredict.modeling import LocationScaleDistribution

    factors = np.asarray(truth, dtype="float64")
    keys = np.array([f"p{j}" for j in range(len(sizes))], dtype=object)
    rows = np.repeat(np.arange(len(sizes)), sizes)
    mode, prior = RULES[rule]
    missed, worst = 0, []
    for rep in range(reps):
        e = np.random.default_rng(rep).normal(0.0, 1.0, len(rows)) * factors[rows]
        dist = LocationScaleDistribution(0.8, None if mode == "pooled" else "population",
                                         prior_rows=prior)
        dist.fit(e, None if mode == "pooled" else keys[rows])
        low, high = dist.bounds(keys, len(keys))
        coverage = ndtr(high / factors) - ndtr(low / factors)
        missed += bool(((coverage < 0.75) | (coverage > 0.85)).any())
        worst.append(float(np.abs(coverage - 0.8).max()))
    return missed / reps, float(np.mean(worst))


def main() -> None:
    from eihpredict.modeling._stats import wilson_interval

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 200, 120, 100, 100, 80])
    args = parser.parse_args()
    if len(args.sizes) != 6:
        parser.error("--sizes takes six numbers (one per population)")
    print(f"{args.reps} cohorts, strata of {args.sizes} rows; share of cohorts with some "
          "stratum's 80 % coverage outside 0.75-0.85 (95 % CI), mean worst |coverage - 0.8|")
    for name, truth in TRUTHS.items():
        print(f"  truth {name} {truth}:")
        for rule in RULES:
            miss, worst = run(truth, rule, args.sizes, args.reps)
            low, high = wilson_interval(round(miss * args.reps), args.reps)
            print(f"    {rule:<11} miss {miss:.3f} ({low:.3f}-{high:.3f})  worst {worst:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
