"""One-sided tail probabilities for the anomaly tests. Pure, exact, no SciPy at runtime.

Exact tails rather than normal approximations, because the counts in a minute window are
small: 2 negative of 3 against a 20% baseline is P = 0.104, nothing to alert on, where a
z-score would call it 2.9 σ.
"""

from __future__ import annotations

import math

__all__ = ["binomial_upper_tail", "poisson_upper_tail"]

# Terms below this share of the running sum no longer change the tail.
_RELATIVE_EPSILON = 1e-12

# Each tail is summed from its first term outward, in units of that first term, while the
# terms shrink: upward from the count where it lies above the mean, else the complement
# (the lower tail) downward from the count. The first term's own size is applied in log
# space at the end. Summing absolute terms instead stalled where the first term underflowed
# to 0.0 (6,000 mentions against a baseline of 100): 0.0 is never below 1e-12 of 0.0, and the
# detector spun in the loop for good, its partition blocked (`voc bench`, 1M run, issue #15).


def binomial_upper_tail(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p). Terminates for any counts."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    odds = p / (1.0 - p)

    def log_pmf(k: int) -> float:
        return (
            math.lgamma(trials + 1)
            - math.lgamma(k + 1)
            - math.lgamma(trials - k + 1)
            + k * log_p
            + (trials - k) * log_q
        )

    term = relative = 1.0
    if successes > trials * p:
        for k in range(successes, trials):  # pmf(k+1) / pmf(k) < 1 above the mean
            term *= (trials - k) / (k + 1) * odds
            relative += term
            if term < relative * _RELATIVE_EPSILON:
                break
        return min(1.0, math.exp(log_pmf(successes) + math.log(relative)))
    for k in range(successes - 1, 0, -1):  # pmf(k-1) / pmf(k) < 1 below the mean
        term *= k / (trials - k + 1) / odds
        relative += term
        if term < relative * _RELATIVE_EPSILON:
            break
    lower = math.exp(log_pmf(successes - 1) + math.log(relative))
    return min(1.0, max(0.0, 1.0 - lower))


def poisson_upper_tail(count: int, mean: float) -> float:
    """P(X ≥ count) for X ~ Poisson(mean). Terminates for any counts."""
    if count <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0

    def log_pmf(k: int) -> float:
        return k * math.log(mean) - mean - math.lgamma(k + 1)

    term = relative = 1.0
    if count > mean:
        k = count
        while term >= relative * _RELATIVE_EPSILON:  # pmf(k+1) / pmf(k) = mean / (k+1) < 1
            k += 1
            term *= mean / k
            relative += term
        return min(1.0, math.exp(log_pmf(count) + math.log(relative)))
    k = count - 1
    while k > 0 and term >= relative * _RELATIVE_EPSILON:  # pmf(k-1) / pmf(k) = k / mean ≤ 1
        term *= k / mean
        k -= 1
        relative += term
    lower = math.exp(log_pmf(count - 1) + math.log(relative))
    return min(1.0, max(0.0, 1.0 - lower))
