"""The shared rules: what following a limit and a running compressor mean."""

from __future__ import annotations

import pytest

from dacs.protocol.rules import compressor_running, follow_tolerance_w, follows_limit


@pytest.mark.parametrize(
    ("limit_w", "tolerance_w"), [(0.0, 100.0), (999.0, 100.0), (2000.0, 200.0)]
)
def test_the_tolerance_is_100_w_or_a_tenth_of_the_limit(
    limit_w: float, tolerance_w: float
) -> None:
    assert follow_tolerance_w(limit_w) == pytest.approx(tolerance_w)


def test_a_limit_is_followed_up_to_the_tolerance_and_not_beyond() -> None:
    assert follows_limit(100.0, 0.0)
    assert not follows_limit(100.1, 0.0)
    assert follows_limit(2200.0, 2000.0)
    assert not follows_limit(2201.0, 2000.0)


def test_the_compressor_runs_from_50_w() -> None:
    assert not compressor_running(49.9)
    assert compressor_running(50.0)
