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


def binomial_upper_tail(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    # Sum the terms k = successes … trials; each is the previous times (n-k)/(k+1)·p/q, so
    # only the first needs the log-gamma function.
    log_term = (
        math.lgamma(trials + 1)
        - math.lgamma(successes + 1)
        - math.lgamma(trials - successes + 1)
        + successes * log_p
        + (trials - successes) * log_q
    )
    term = math.exp(log_term)
    total = term
    ratio_pq = p / (1.0 - p)
    for k in range(successes, trials):
        term *= (trials - k) / (k + 1) * ratio_pq
        total += term
        if term < total * _RELATIVE_EPSILON and k > trials * p:
            break
    return min(1.0, total)


def poisson_upper_tail(count: int, mean: float) -> float:
    """P(X ≥ count) for X ~ Poisson(mean)."""
    if count <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    log_term = count * math.log(mean) - mean - math.lgamma(count + 1)
    term = math.exp(log_term)
    total = term
    k = count
    while True:
        k += 1
        term *= mean / k
        total += term
        if term < total * _RELATIVE_EPSILON and k > mean:
            break
    return min(1.0, total)
