"""TimerConfig: the RFC 3261 Table 4 defaults and derived values."""

from __future__ import annotations

import dataclasses

import pytest

from sansip.errors import LocalProtocolError
from sansip.transaction import TimerConfig


def test_defaults_match_rfc_3261_table_4() -> None:
    t = TimerConfig()
    assert (t.t1, t.t2, t.t4, t.trying_after) == (0.5, 4.0, 5.0, 0.2)
    assert t.a == t.e == t.g == 0.5
    assert t.b == t.f == t.h == t.l == t.m == 32.0
    assert (t.d(False), t.d(True)) == (32.0, 0.0)
    assert (t.i(False), t.i(True)) == (5.0, 0.0)
    assert (t.j(False), t.j(True)) == (32.0, 0.0)
    assert (t.k(False), t.k(True)) == (5.0, 0.0)


def test_derived_values_follow_t1() -> None:
    t = TimerConfig(t1=0.1, t2=1.0, t4=2.0)
    assert t.b == pytest.approx(6.4)
    assert t.k(False) == 2.0


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TimerConfig().t1 = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [{"t1": 0.0}, {"t1": 1.0, "t2": 0.5}, {"t4": -1.0}, {"timer_d": -1}, {"trying_after": -1}],
)
def test_invalid_values_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(LocalProtocolError):
        TimerConfig(**kwargs)
