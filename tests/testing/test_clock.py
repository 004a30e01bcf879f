"""The virtual clock only moves forward, and only when told to."""

from __future__ import annotations

import math

import pytest

from sansip.errors import LocalProtocolError
from sansip.testing import VirtualClock


def test_starts_where_told_and_advances() -> None:
    clock = VirtualClock()
    assert clock.now == 0.0
    assert clock.advance(1.5) == 1.5
    assert clock.advance(0.0) == 1.5
    assert clock.advance_to(4.0) == 4.0
    assert clock.advance_to(4.0) == 4.0
    assert VirtualClock(10.0).now == 10.0
    assert "4.0" in repr(clock)


@pytest.mark.parametrize("dt", [-0.001, -1.0, math.nan, math.inf])
def test_advance_rejects_going_backwards_or_nowhere(dt: float) -> None:
    clock = VirtualClock(2.0)
    with pytest.raises(LocalProtocolError):
        clock.advance(dt)
    assert clock.now == 2.0


@pytest.mark.parametrize("t", [1.999, 0.0, -5.0, math.nan, math.inf])
def test_advance_to_never_goes_backwards(t: float) -> None:
    clock = VirtualClock(2.0)
    with pytest.raises(LocalProtocolError):
        clock.advance_to(t)
    assert clock.now == 2.0


def test_start_must_be_finite() -> None:
    with pytest.raises(LocalProtocolError):
        VirtualClock(math.nan)
