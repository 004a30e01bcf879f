"""What the jitter buffer hands out and reports: the playout results
(:class:`Frame`, :class:`Missing`, :class:`Empty`), what became of an
arriving packet (:class:`Arrival`), its statistics and the ``jittersize``
bias values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, TypeAlias

__all__ = ["EMPTY", "Arrival", "Empty", "Frame", "JitterSize", "JitterStats", "Missing", "Playout"]


class JitterSize(IntEnum):
    """The ``jittersize`` bias: how much delay the buffer trades for fewer late packets."""

    NONE = 0
    EXTRA_SMALL = 1
    SMALL = 2
    NORMAL = 3
    BIG = 4
    EXTRA_BIG = 5
    MAX = 6


@dataclass(frozen=True, slots=True)
class Frame:
    """The next payload to decode.

    ``timestamp`` and ``seq`` are unwrapped; ``duration`` is the inferred
    length of the payload in timestamp units (see the module docstring).
    """

    payload: bytes
    timestamp: int
    seq: int
    duration: int
    marker: bool = False


@dataclass(frozen=True, slots=True)
class Missing:
    """A hole: conceal ``duration`` timestamp units starting at ``timestamp``.

    ``seq`` is the (unwrapped) sequence number expected here; when
    :meth:`JitterBuffer.peek` returns a frame with ``seq + 1`` its payload may
    carry in-band FEC for this hole.
    """

    timestamp: int
    duration: int
    seq: int


@dataclass(frozen=True, slots=True)
class Empty:
    """Nothing to play this tick: play one tick of concealment or silence."""


EMPTY: Final = Empty()

Playout: TypeAlias = Frame | Missing | Empty


class Arrival(Enum):
    """What :meth:`JitterBuffer.push` did with a packet."""

    BUFFERED = "buffered"
    DUPLICATE = "duplicate"  # already buffered or already played: dropped
    LATE = "late"  # its playout time has passed: dropped
    REJECTED = "rejected"  # a lone discontinuity (stray packet): dropped
    RESYNCHRONIZED = "resynchronized"  # confirmed discontinuity: buffer restarted with it


@dataclass(frozen=True, slots=True)
class JitterStats:
    """Counters and delays of a :class:`JitterBuffer`.

    Every received packet ends up in exactly one of ``played``, ``late``,
    ``duplicates``, ``rejected``, ``overflow_drops``, ``drift_drops``,
    ``flushed`` or is still ``buffered``.  ``lost`` counts sequence numbers that
    were missing at their playout (a late packet is also counted there),
    ``concealed`` the :class:`Missing` results, ``inserted`` the ticks
    stretched on purpose, ``underruns`` the times playout found the buffer
    empty (this includes a sender that went quiet).
    """

    received: int
    played: int
    lost: int
    concealed: int
    late: int
    duplicates: int
    reordered: int
    rejected: int
    overflow_drops: int
    drift_drops: int
    inserted: int
    underruns: int
    flushed: int
    resyncs: int
    buffered: int
    buffered_ms: float
    current_delay_ms: float
    target_delay_ms: float
    jitter_ms: float
