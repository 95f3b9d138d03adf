import math
import signal
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.detection.stats import binomial_upper_tail, poisson_upper_tail


def _binomial_brute(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@given(st.integers(0, 60), st.integers(0, 60), st.floats(0.001, 0.999))
def test_binomial_tail_matches_the_definition(k: int, n: int, p: float) -> None:
    expected = _binomial_brute(k, n, p) if k <= n else 0.0
    assert binomial_upper_tail(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@given(st.integers(0, 80), st.floats(0.01, 50))
def test_poisson_tail_matches_the_definition(k: int, mean: float) -> None:
    below = sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k))
    assert poisson_upper_tail(k, mean) == pytest.approx(1 - below, rel=1e-7, abs=1e-12)


def test_small_counts_are_not_significant() -> None:
    # 2 negative of 3 against a 20% baseline: about one chance in ten, no alert material.
    assert binomial_upper_tail(2, 3, 0.2) == pytest.approx(0.104)
    assert binomial_upper_tail(16, 40, 0.1) < 1e-4


def test_degenerate_inputs() -> None:
    assert binomial_upper_tail(0, 0, 0.5) == 1.0
    assert binomial_upper_tail(3, 2, 0.5) == 0.0
    assert binomial_upper_tail(1, 5, 0.0) == 0.0
    assert poisson_upper_tail(0, 0.0) == 1.0
    assert poisson_upper_tail(1, 0.0) == 0.0
    assert 0.0 <= binomial_upper_tail(5000, 10_000, 0.3) < 1e-100


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail, rather than hang, where a tail's loop does not end (the bug these tests pin)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("tail computation did not finish within 5 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("deadline")
def test_tails_far_from_the_mean_finish_where_the_first_term_underflows() -> None:
    # A volume surge of 6,000 mentions against a baseline of 100 (the first term is 1e-3000):
    # the detector used to spin here for good and block its partition.
    assert poisson_upper_tail(6000, 100.0) == 0.0
    assert poisson_upper_tail(10, 1000.0) == 1.0
    assert binomial_upper_tail(90_000, 100_000, 0.5) == 0.0
    assert binomial_upper_tail(10, 100_000, 0.5) == 1.0


@pytest.mark.usefixtures("deadline")
def test_large_counts_near_the_mean_match_the_normal_approximation() -> None:
    # 3.18 standard deviations above the mean: about 7.4e-4 (with continuity correction).
    z = (100_000 - 0.5 - 99_000) / math.sqrt(99_000)
    normal = 0.5 * math.erfc(z / math.sqrt(2))
    assert poisson_upper_tail(100_000, 99_000.0) == pytest.approx(normal, rel=0.05)
    z = (51_000 - 0.5 - 50_000) / math.sqrt(25_000)
    assert binomial_upper_tail(51_000, 100_000, 0.5) == pytest.approx(
        0.5 * math.erfc(z / math.sqrt(2)), rel=0.1
    )
