"""The playout delay a jitter buffer aims for, from the transit times of the
packets it is given (the estimation half of
:class:`~sansip.audio.jitter.JitterBuffer`, which builds on
:class:`PlayoutDelay`).

Every arriving packet gets a *nominal arrival*: the time it would have
arrived with the smallest transit delay seen in the last couple of seconds
(``transit = arrival - timestamp / clock_rate``).  The spread of transit
above that floor is the jitter; a percentile of the spread over a window,
weighted by ``jittersize``, plus a base of packet durations gives the
*target delay*, clamped to ``[min_delay, max_delay]``.  A transit beyond
``max_delay`` above the floor is an outlier (a delay spike): a few in a row,
or one with the marker bit, re-anchor the floor.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Final

from sansip.audio.playout import JitterSize
from sansip.errors import LocalProtocolError

__all__ = ["PlayoutDelay"]

_FLOOR_WINDOW: Final = 2.0  # seconds of arrivals the transit floor looks back on
_SPREAD_WINDOW: Final = 5.0  # seconds of transit spread samples for the percentile
_MAX_SPREAD_SAMPLES: Final = 1000
_OUTLIERS_TO_REANCHOR: Final = 3  # consecutive unabsorbable transits re-anchor the floor
_insort = bisect.insort
_bisect_left = bisect.bisect_left


@dataclass(frozen=True, slots=True)
class _Bias:
    base_packets: float  # packet durations always added to the target
    quantile: float  # the transit-spread percentile covered
    factor: float  # weight of that percentile


# Every field is non-decreasing with the size, so the target is monotonic in it.
_BIASES: Final[dict[JitterSize, _Bias]] = {
    JitterSize.NONE: _Bias(0.0, 0.50, 1.0),
    JitterSize.EXTRA_SMALL: _Bias(0.5, 0.80, 1.0),
    JitterSize.SMALL: _Bias(1.0, 0.90, 1.0),
    JitterSize.NORMAL: _Bias(1.0, 0.95, 1.0),
    JitterSize.BIG: _Bias(2.0, 0.98, 1.2),
    JitterSize.EXTRA_BIG: _Bias(3.0, 0.995, 1.5),
    # MAX: always the largest allowed delay (max_delay).
}


#: Percentile indexes by quantile (see PlayoutDelay._percentile_ranks), shared.
_RANKS: Final[dict[float, list[int]]] = {}


class PlayoutDelay:
    """The transit floor, the window of transit spreads and the target delay
    (see the module docstring) for a clock of ``clock_rate`` Hz; the
    subclass keeps ``_packet``, the packet duration in timestamp units."""

    __slots__ = (
        "_bias", "_floor_times", "_floor_transits", "_jitter", "_max_delay", "_min_delay",
        "_outliers", "_percentile", "_previous_transit", "_ranks", "_rate", "_size",
        "_sorted_spreads", "_spread_times", "_spread_values", "_target"
    )  # fmt: skip
    _packet: int

    def __init__(
        self, clock_rate: int, jittersize: int, min_delay: float, max_delay: float
    ) -> None:
        self._rate = clock_rate
        self._size = self._check_size(jittersize)
        self._bias = _BIASES.get(self._size)  # None for MAX
        self._min_delay = min_delay
        self._max_delay = max_delay
        self._target = 0.0
        self._jitter = 0.0
        self._percentile = 0.0  # the transit-spread percentile the target was made from
        self._ranks = self._percentile_ranks()
        # Transit spreads of the window: when they arrived, and their values
        # (also kept sorted, for the percentile).
        self._spread_times: deque[float] = deque()
        self._spread_values: deque[float] = deque()
        self._sorted_spreads: list[float] = []
        self._reset_transit()

    def _reset_transit(self) -> None:
        """Forget the floor (a new stream); the spreads and the jitter stay."""
        self._floor_times: deque[float] = deque()  # arrivals of the floor candidates
        self._floor_transits: deque[float] = deque()  # their transits, increasing
        self._outliers = 0
        self._previous_transit: float | None = None

    @staticmethod
    def _check_size(value: int) -> JitterSize:
        try:
            return JitterSize(value)
        except ValueError:
            raise LocalProtocolError(f"jittersize must be 0..6, not {value!r}") from None

    @property
    def jittersize(self) -> JitterSize:
        """The delay bias; may be changed at any time."""
        return self._size

    @jittersize.setter
    def jittersize(self, value: int) -> None:
        self._size = self._check_size(value)
        self._bias = _BIASES.get(self._size)
        self._ranks = self._percentile_ranks()
        self._update_target()

    @property
    def target_delay(self) -> float:
        """The delay (seconds after nominal arrival) playout aims for."""
        return self._target

    def _observe_transit(self, ext_ts: int, now: float, marker: bool) -> float:
        """Update the jitter estimates with one arrival; return its nominal arrival."""
        transit = now - ext_ts / self._rate
        previous = self._previous_transit
        self._previous_transit = transit
        if previous is not None:
            step = transit - previous
            if step < 0.0:
                step = -step
            if step <= self._max_delay:  # a timestamp jump is no jitter (RFC 3550 A.8)
                jitter = self._jitter
                self._jitter = jitter + (step - jitter) / 16.0
        times, transits = self._floor_times, self._floor_transits
        if len(times) > 1 and times[0] < now - _FLOOR_WINDOW:
            horizon = now - _FLOOR_WINDOW
            while len(times) > 1 and times[0] < horizon:
                times.popleft()
                transits.popleft()
        if transits and transit - transits[0] > self._max_delay:
            # Beyond absorbing: a delay spike, or the sender's timeline moved.
            self._outliers += 1
            if not marker and self._outliers < _OUTLIERS_TO_REANCHOR:
                return now
            times.clear()
            transits.clear()
        self._outliers = 0
        while transits and transits[-1] >= transit:
            transits.pop()
            times.pop()
        times.append(now)
        transits.append(transit)
        spread = transit - transits[0]
        # The spread joins the window of spreads (kept sorted for the percentile).
        times, values, ordered = self._spread_times, self._spread_values, self._sorted_spreads
        times.append(now)
        values.append(spread)
        _insort(ordered, spread)
        oldest = now - _SPREAD_WINDOW
        if times[0] < oldest or len(times) > _MAX_SPREAD_SAMPLES:
            while True:  # the spreads that left the window
                times.popleft()
                del ordered[_bisect_left(ordered, values.popleft())]
                if not times or not (times[0] < oldest or len(times) > _MAX_SPREAD_SAMPLES):
                    break
        # (JitterSize.MAX has no bias: its target ignores the spreads.)
        if self._bias is not None and ordered[self._ranks[len(ordered)]] != self._percentile:
            self._update_target()
        return now - spread

    def _percentile_ranks(self) -> list[int]:
        """The index of the covered percentile in a sorted window, by window size."""
        bias = self._bias
        if bias is None:
            return []
        ranks = _RANKS.get(bias.quantile)
        if ranks is None:
            quantile = bias.quantile
            ranks = _RANKS[quantile] = [
                min(count - 1, max(0, math.ceil(quantile * count) - 1))
                for count in range(_MAX_SPREAD_SAMPLES + 1)
            ]
        return ranks

    def _update_target(self) -> None:
        bias = self._bias
        if bias is None:  # JitterSize.MAX
            target = self._max_delay
        else:
            percentile = 0.0
            ordered = self._sorted_spreads
            if bias.factor and ordered:
                percentile = ordered[self._ranks[len(ordered)]]
            self._percentile = percentile
            target = bias.base_packets * self._packet / self._rate + bias.factor * percentile
        self._target = min(max(target, self._min_delay), self._max_delay)
