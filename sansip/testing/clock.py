"""A virtual clock: simulated monotonic seconds that only move when told to."""

from __future__ import annotations

import math

from sansip.errors import LocalProtocolError

__all__ = ["VirtualClock"]


class VirtualClock:
    """Monotonic simulated time in seconds.

    Nothing reads the wall clock: time moves only through :meth:`advance` and
    :meth:`advance_to`, and never backwards (either raises
    :class:`~sansip.errors.LocalProtocolError` when asked to).
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise LocalProtocolError(f"clock start must be a finite number, not {start!r}")
        self._now = float(start)

    @property
    def now(self) -> float:
        """The current simulated time, in seconds."""
        return self._now

    def advance(self, dt: float) -> float:
        """Move forward by ``dt`` seconds (``dt >= 0``) and return the new time."""
        if not math.isfinite(dt) or dt < 0:
            raise LocalProtocolError(f"the clock cannot advance by {dt!r} seconds")
        self._now += dt
        return self._now

    def advance_to(self, t: float) -> float:
        """Move forward to the absolute time ``t`` (``t >= now``) and return it."""
        if not math.isfinite(t) or t < self._now:
            raise LocalProtocolError(
                f"the clock cannot go from {self._now!r} back to {t!r}; time never goes backwards"
            )
        self._now = float(t)
        return self._now

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"
