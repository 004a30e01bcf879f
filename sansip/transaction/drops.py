"""Messages the endpoint (or a layer above it) dropped, and bounded
counters of them.

A peer decides how many malformed datagrams it sends, so nothing kept
about them may grow with their number: :class:`DropCounters` keeps one
count per :class:`DropKind` and only the last few records.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sansip.transport.types import Address

__all__ = ["RECENT_DROPS", "DropCounters", "DropKind", "DropStats", "MessageDropped"]

#: How many of the latest drop records :class:`DropCounters` keeps.
RECENT_DROPS: Final = 16


class DropKind(StrEnum):
    """Why a message was dropped; the values name :class:`DropStats` fields."""

    #: It did not parse (a request may still have been answered 400/505/513).
    MALFORMED = "malformed"
    #: A request that neither matched nor created a transaction.
    UNMATCHED = "unmatched"
    #: A response whose top Via is not this endpoint's (RFC 3261 §18.1.2).
    MISROUTED = "misrouted"
    #: Stream mode: the framing of a connection was lost.
    STREAM_BROKEN = "stream_broken"
    #: The layer above the endpoint could not process it.
    UNPROCESSABLE = "unprocessable"


@dataclass(frozen=True, slots=True)
class MessageDropped:
    """A datagram or message that was not processed: where it came from,
    why (``kind``, and ``reason`` in words), and whether it was answered."""

    source: Address
    reason: str
    answered: bool
    kind: DropKind = DropKind.MALFORMED


@dataclass(frozen=True, slots=True)
class DropStats:
    """A snapshot of :class:`DropCounters`: messages dropped per kind, how
    many of them were answered statelessly, how many drop events a full
    event queue discarded, and the last few records, oldest first."""

    malformed: int = 0
    unmatched: int = 0
    misrouted: int = 0
    stream_broken: int = 0
    unprocessable: int = 0
    answered: int = 0
    discarded_events: int = 0
    recent: tuple[MessageDropped, ...] = ()

    @property
    def total(self) -> int:
        """Messages dropped, of every kind."""
        return (
            self.malformed + self.unmatched + self.misrouted + self.stream_broken
            + self.unprocessable
        )  # fmt: skip

    def count(self, kind: DropKind) -> int:
        """Messages dropped of ``kind``."""
        count: int = getattr(self, kind.value)
        return count


class DropCounters:
    """Counts dropped messages by kind in constant memory; keeps the last
    ``keep`` records."""

    def __init__(self, keep: int = RECENT_DROPS) -> None:
        self._counts = dict.fromkeys(DropKind, 0)
        self._answered = 0
        self._recent: deque[MessageDropped] = deque(maxlen=keep)
        #: Drop events a bounded event queue discarded (its owner counts them here).
        self.discarded_events = 0

    def record(self, drop: MessageDropped) -> None:
        """Count ``drop`` and keep it among the recent records."""
        self._counts[drop.kind] += 1
        self._answered += drop.answered
        self._recent.append(drop)

    def snapshot(self) -> DropStats:
        """The counts now, frozen."""
        c = self._counts
        return DropStats(
            malformed=c[DropKind.MALFORMED],
            unmatched=c[DropKind.UNMATCHED],
            misrouted=c[DropKind.MISROUTED],
            stream_broken=c[DropKind.STREAM_BROKEN],
            unprocessable=c[DropKind.UNPROCESSABLE],
            answered=self._answered,
            discarded_events=self.discarded_events,
            recent=tuple(self._recent),
        )
