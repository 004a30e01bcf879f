"""RFC 4733 telephone events: the payload codec, the packet plan of one event
and the paced sender of queued digits, and the de-duplicating receiver.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from typing import Final, NamedTuple

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp.events import DtmfReceived

__all__ = [
    "DTMF_EVENTS",
    "FLASH",
    "DtmfPayload",
    "DtmfReceiver",
    "DtmfSender",
    "dtmf_event_code",
    "dtmf_packets",
    "parse_dtmf",
]

#: The digit reported (and accepted) for event 16, hook flash.
FLASH: Final = "!"
#: Event codes 0-16 in order (RFC 4733 §3.2).
DTMF_EVENTS: Final = "0123456789*#ABCD" + FLASH
_PAYLOAD: Final = struct.Struct("!BBH")


class DtmfPayload(NamedTuple):
    """One event block: code, end bit, volume (-dBm0, 0-63), duration (timestamp units)."""

    event: int
    end: bool
    volume: int
    duration: int

    def encode(self) -> bytes:
        """The 4-byte payload."""
        if not 0 <= self.event <= 255 or not 0 <= self.volume <= 63:
            raise LocalProtocolError("telephone-event code or volume out of range")
        if not 0 <= self.duration <= 0xFFFF:
            raise LocalProtocolError("telephone-event duration out of range")
        flags = (0x80 if self.end else 0) | self.volume
        return _PAYLOAD.pack(self.event, flags, self.duration)


def parse_dtmf(payload: bytes) -> DtmfPayload:
    """Decode the first event block of a telephone-event payload (later redundant
    blocks are ignored); raises :class:`RemoteProtocolError` if shorter than 4 bytes."""
    if len(payload) < 4:
        raise RemoteProtocolError("telephone-event payload shorter than 4 bytes")
    event, flags, duration = _PAYLOAD.unpack_from(payload)
    return DtmfPayload(event, bool(flags & 0x80), flags & 0x3F, duration)


def dtmf_event_code(digit: str) -> int:
    """The event code of ``digit`` (``0-9 * # A-D``, lower case accepted, ``!`` or
    ``flash`` for hook flash); raises :class:`LocalProtocolError` otherwise."""
    if digit.lower() == "flash":
        return 16
    code = DTMF_EVENTS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise LocalProtocolError(f"{digit!r} is not a DTMF digit")
    return code


def dtmf_packets(event: int, duration: int, step: int, volume: int) -> list[DtmfPayload]:
    """The payloads that send one event lasting ``duration`` timestamp units with
    an update every ``step`` units (one per packet interval, RFC 4733 §2.5.1).

    Update ``i`` carries duration ``min((i + 1) * step, duration)``; the last
    update has the E bit and is sent three times in all (§2.5.1.4).  The caller
    puts the marker on the first packet and the same timestamp on all of them.
    """
    if duration <= 0 or step <= 0:
        raise LocalProtocolError("telephone-event duration and step must be positive")
    duration = min(duration, 0xFFFF)
    updates = -(-duration // step)
    plan = [
        DtmfPayload(event, False, volume, min((i + 1) * step, duration)) for i in range(updates - 1)
    ]
    final = DtmfPayload(event, True, volume, duration)
    return [*plan, final, final, final]


@dataclass(slots=True)
class _Ongoing:
    key: tuple[int, int]
    event: int
    volume: int
    duration: int
    last_update: float


class DtmfSender:
    """Queued events sent one after another: each as the packets of
    :func:`dtmf_packets` with ``step`` timestamp units per update, one packet
    per ``ptime`` seconds, ``gap`` seconds of pause between two events.  The
    RTP session sends what :meth:`pump` returns."""

    def __init__(self, step: int, ptime: float, gap: float) -> None:
        self._step, self._ptime, self._gap = step, ptime, gap
        self._queue: deque[tuple[int, int, int]] = deque()
        self._plan: deque[DtmfPayload] = deque()
        self._ts = 0
        self._first = False
        #: When the next packet is due; None while nothing is queued.
        self.due: float | None = None

    def queue(self, codes: list[int], duration: int, volume: int, now: float) -> None:
        """Queue events ``codes`` of ``duration`` timestamp units (1-65535) at
        ``volume`` (0-63); the first packet is due now if nothing was queued."""
        self._queue.extend((code, duration, volume) for code in codes)
        if self.due is None and self._queue:
            self.due = now

    def clear(self) -> None:
        """Forget every queued event (the session closed)."""
        self._queue.clear()
        self._plan.clear()
        self.due = None

    def pump(self, now: float, next_ts: int) -> tuple[list[tuple[int, bytes, bool]], int]:
        """The packets due at ``now``, as ``(timestamp, payload, marker)``, and
        the session's running timestamp ``next_ts`` moved past the events
        that ended (an event starts at the running timestamp)."""
        out: list[tuple[int, bytes, bool]] = []
        while self.due is not None and now >= self.due - 1e-9:
            if not self._plan:
                code, duration, volume = self._queue.popleft()
                self._plan.extend(dtmf_packets(code, duration, self._step, volume))
                self._ts, self._first = next_ts, True
            block = self._plan.popleft()
            out.append((self._ts, block.encode(), self._first))
            self._first = False
            if self._plan:
                self.due += self._ptime
                continue
            end = (self._ts + block.duration) & 0xFFFFFFFF
            if 0 < (end - next_ts) & 0xFFFFFFFF < 0x80000000:  # later, modulo 2**32
                next_ts = end
            self.due = self.due + self._ptime + self._gap if self._queue else None
        return out, next_ts


class DtmfReceiver:
    """Turns telephone-event packets into one :class:`DtmfReceived` per event.

    An event is identified by ``(ssrc, timestamp)``.  It is reported when its
    end packet arrives, when a newer event starts (its end packets were lost),
    or ``end_timeout`` seconds after its last update (:meth:`expire`).  Repeated
    end packets and late retransmissions of reported events are ignored.
    Codes above 16 are ignored.
    """

    def __init__(self, clock_rate: int, end_timeout: float = 0.5) -> None:
        self.clock_rate = clock_rate
        self.end_timeout = end_timeout
        self._ongoing: _Ongoing | None = None
        self._done: deque[tuple[int, int]] = deque(maxlen=16)

    def receive(self, ssrc: int, timestamp: int, payload: bytes, now: float) -> list[DtmfReceived]:
        """Account one packet; returns the events it completes (zero, one or two).

        Raises :class:`RemoteProtocolError` for a malformed payload.
        """
        block = parse_dtmf(payload)
        key = (ssrc, timestamp)
        if block.event > 16 or key in self._done:
            return []
        out: list[DtmfReceived] = []
        ongoing = self._ongoing
        if ongoing is not None and ongoing.key != key:
            out.append(self._finish(ongoing))
            ongoing = None
        if ongoing is None:
            ongoing = _Ongoing(key, block.event, block.volume, block.duration, now)
            self._ongoing = ongoing
        else:
            ongoing.duration = max(ongoing.duration, block.duration)
            ongoing.volume = block.volume
            ongoing.last_update = now
        if block.end:
            out.append(self._finish(ongoing))
        return out

    def deadline(self) -> float | None:
        """When an event without end packets will be reported, if one is ongoing."""
        ongoing = self._ongoing
        return None if ongoing is None else ongoing.last_update + self.end_timeout

    def expire(self, now: float) -> list[DtmfReceived]:
        """Report the ongoing event if its updates stopped ``end_timeout`` ago."""
        ongoing = self._ongoing
        if ongoing is None or now < ongoing.last_update + self.end_timeout:
            return []
        return [self._finish(ongoing)]

    def _finish(self, ongoing: _Ongoing) -> DtmfReceived:
        self._ongoing = None
        self._done.append(ongoing.key)
        digit = DTMF_EVENTS[ongoing.event]
        return DtmfReceived(digit, ongoing.duration / self.clock_rate, ongoing.volume)
