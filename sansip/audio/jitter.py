"""An adaptive jitter buffer for RTP audio payloads (sans-IO).

The buffer holds *encoded* payloads keyed by their RTP sequence number and
timestamp; it never decodes.  The media clock calls :meth:`JitterBuffer.pop`
whenever the decoder needs more audio (once per tick with uniform frames) and
gets one of:

- :class:`Frame`: the next payload, in order;
- :class:`Missing`: a hole left by a lost packet; the decoder conceals
  ``duration`` timestamp units (with Opus in-band FEC from :meth:`peek` when
  the next packet directly follows);
- :class:`Empty`: nothing to play this tick (not started yet, waiting for the
  start of a talkspurt, an underrun, or a deliberate one-tick stretch); the
  caller plays one tick of concealment or silence.

Time is always passed in (``now``, monotonic seconds); nothing reads a clock.

How playout is timed
--------------------
Every arriving packet gets a *nominal arrival*: the time it would have arrived
with the smallest transit delay seen in the last couple of seconds
(``transit = arrival - timestamp / clock_rate``).  The spread of transit above
that floor is the jitter; a percentile of the spread over a window, weighted
by ``jittersize``, plus a base of packet durations gives the *target delay*,
clamped to ``[min_delay, max_delay]``.  Playout starts (and restarts at each
talkspurt: marker bit, or a timestamp jump with contiguous sequence numbers)
when ``now >= nominal + target``.

While playing, the position advances by timestamps, never by wall time: an
underrun (nothing buffered) freezes the position, so a packet that is merely
late is still played and the delay grows by the frozen ticks.  If the packet
turns out lost, the frozen time counts towards its hole, so elapsed time is not
concealed twice.  The actual delay of each played packet (``now - nominal``)
is smoothed; when it drifts more than one packet above the target (a sender
clock faster than ours, or after a delay spike) one frame is dropped,
preferably one pushed with ``silent=True`` or a hole, and when it falls more
than one packet below (a slower sender) one :class:`Empty` is inserted.
Corrections are rate limited, so they stay gradual.

Variable frame sizes
--------------------
The duration of a packet is the timestamp difference to the packet with the
next sequence number when that one is buffered, otherwise the last duration
learned from such a pair (initially one tick).  ``Frame.duration`` and
``Missing.duration`` carry it, so a stream with 60 ms packets decodes 60 ms and
simply pops less often; ptime changes mid-call are learned from the next pair.

Sequence numbers and timestamps in the results are *unwrapped* (extended past
16 and 32 bits, monotonic within one synchronisation); ``& 0xFFFF`` and
``& 0xFFFFFFFF`` give the values on the wire.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Final

from sansip.audio.playout import (
    EMPTY,
    Arrival,
    Empty,
    Frame,
    JitterSize,
    JitterStats,
    Missing,
    Playout,
)
from sansip.audio.playout_delay import PlayoutDelay
from sansip.errors import LocalProtocolError

__all__ = [
    "Arrival",
    "Empty",
    "Frame",
    "JitterBuffer",
    "JitterSize",
    "JitterStats",
    "Missing",
    "Playout",
]

SEQ_MODULUS: Final = 1 << 16
TIMESTAMP_MODULUS: Final = 1 << 32
#: A forward sequence jump this large (or a backward one past MAX_MISORDER) is a
#: discontinuity: two such packets in a row restart the buffer (RFC 3550 A.1).
MAX_DROPOUT: Final = 3000
MAX_MISORDER: Final = 100

_DELAY_SMOOTHING: Final = 0.05  # weight of one played packet in the smoothed delay
_CORRECTION_COOLDOWN: Final = 0.2  # seconds between two drift corrections
_CORRECTION_PATIENCE: Final = 1.0  # seconds to wait for a silent frame before any frame
_MAX_PACKET_SECONDS: Final = 0.12  # the longest packet duration believed (Opus: 120 ms)
_RECENT_SEQS: Final = 1024  # played sequence numbers remembered to spot duplicates


@dataclass(slots=True)
class _Counters:
    lost: int = 0
    concealed: int = 0
    late: int = 0
    duplicates: int = 0
    reordered: int = 0
    rejected: int = 0
    overflow_drops: int = 0
    drift_drops: int = 0
    inserted: int = 0
    underruns: int = 0
    flushed: int = 0
    resyncs: int = 0


@dataclass(slots=True)
class _Packet:
    seq: int  # unwrapped
    ts: int  # unwrapped
    payload: bytes
    marker: bool
    silent: bool
    nominal: float  # arrival time had it seen the floor transit


_NO_PACKET: Final = _Packet(0, 0, b"", False, False, 0.0)
_BUFFERED: Final = Arrival.BUFFERED


class JitterBuffer(PlayoutDelay):
    """Adaptive jitter buffer for one RTP source (see the module docstring).

    ``clock_rate`` is the RTP clock rate of the payload; one tick is
    ``frame_duration`` seconds or ``frame_samples`` timestamp units (which
    wins).  ``packet_duration`` (seconds, e.g. from ``a=ptime``) is only the
    first guess of the packet length; the stream's timestamps override it.
    ``jittersize`` is the 0..6 bias of the SPEC parameter.  Delays are
    seconds; ``capacity`` bounds the buffered media (oldest dropped first).
    """

    # Slots: each packet reads and writes dozens of these (no instance dict).
    __slots__ = (
        "_capacity", "_capacity_units", "_counts", "_covered", "_delay", "_half_step",
        "_highest_seq", "_highest_ts", "_hole_chunks", "_last_correction", "_last_out_ts",
        "_last_played", "_last_seq", "_max_buffered", "_max_packet", "_next_ts", "_order",
        "_packet", "_packets", "_pending", "_played", "_playing", "_probation", "_received",
        "_recent", "_step", "_tick"
    )  # fmt: skip

    def __init__(
        self,
        clock_rate: int,
        frame_duration: float = 0.020,
        *,
        frame_samples: int | None = None,
        packet_duration: float | None = None,
        jittersize: int = JitterSize.NORMAL,
        min_delay: float = 0.0,
        max_delay: float = 0.5,
        capacity: float = 1.0,
    ) -> None:
        if clock_rate <= 0:
            raise LocalProtocolError(f"clock rate must be positive, not {clock_rate!r}")
        tick = frame_samples if frame_samples is not None else round(clock_rate * frame_duration)
        if tick <= 0:
            raise LocalProtocolError("a tick must last at least one timestamp unit")
        if not (0.0 <= min_delay <= max_delay) or not math.isfinite(max_delay):
            raise LocalProtocolError(f"need 0 <= min_delay <= max_delay: {min_delay}, {max_delay}")
        super().__init__(clock_rate, jittersize, min_delay, max_delay)
        self._tick = tick
        self._capacity = max(capacity, max_delay + 2 * tick / clock_rate)
        self._capacity_units = self._capacity * clock_rate  # in timestamp units
        self._max_packet = max(tick, round(_MAX_PACKET_SECONDS * clock_rate))
        # The packet duration in timestamp units, learned from the stream.
        self._packet = tick
        if packet_duration is not None and packet_duration > 0:
            self._packet = min(self._max_packet, max(1, round(packet_duration * clock_rate)))
        self._counts = _Counters()
        self._received = self._played = 0  # counted apart: every packet adds to these
        self._clear()
        self._packet_changed()

    # -- configuration -------------------------------------------------------------------

    @property
    def frame_samples(self) -> int:
        """Timestamp units in one tick (one :class:`Empty`)."""
        return self._tick

    @property
    def packet_samples(self) -> int:
        """The packet duration learned from the stream, in timestamp units."""
        return self._packet

    @property
    def current_delay(self) -> float | None:
        """The smoothed actual delay of played packets, None before the first one."""
        return self._delay

    @property
    def buffered(self) -> float:
        """Buffered media in seconds (packet count times the learned duration)."""
        return len(self._order) * self._packet / self._rate

    def stats(self) -> JitterStats:
        """A snapshot of the counters and delays."""
        return JitterStats(
            received=self._received,
            played=self._played,
            **asdict(self._counts),
            buffered=len(self._order),
            buffered_ms=self.buffered * 1000.0,
            current_delay_ms=(self._delay or 0.0) * 1000.0,
            target_delay_ms=self._target * 1000.0,
            jitter_ms=self._jitter * 1000.0,
        )

    def reset(self) -> None:
        """Flush everything and wait for a new stream (e.g. the SSRC changed).

        The jitter estimate survives (same network path); counters add up.
        """
        self._counts.resyncs += 1
        self._counts.flushed += len(self._order)
        self._clear()

    def _clear(self) -> None:
        self._packets: dict[int, _Packet] = {}
        self._order: list[int] = []  # buffered unwrapped sequence numbers, sorted
        self._highest_seq: int | None = None
        self._highest_ts = 0
        self._probation: int | None = None
        self._playing = False
        self._next_ts = 0
        self._last_seq: int | None = None
        self._last_out_ts: int | None = None
        self._covered = 0  # timestamp units of underrun ticks not yet matched by a hole
        self._last_played = _NO_PACKET  # the last packet played
        self._hole_chunks = 0
        # The last sequence numbers passed, rising (packets leave in order).
        self._recent: deque[int] = deque(maxlen=_RECENT_SEQS)
        self._reset_transit()
        self._delay: float | None = None
        self._pending: tuple[int, float] | None = None  # (direction, since) of a correction
        self._last_correction = -math.inf

    # -- input -----------------------------------------------------------------------------

    def push(
        self,
        seq: int,
        timestamp: int,
        payload: bytes,
        now: float,
        *,
        marker: bool = False,
        silent: bool = False,
    ) -> Arrival:
        """Add a packet that arrived at ``now``.

        ``silent`` marks a payload known to be silence or comfort noise: drift
        corrections prefer dropping those.  Bad packets are dropped and counted,
        never raised; only out-of-range numbers (caller misuse) raise.
        """
        if seq & -0x10000 or timestamp & -0x100000000:  # not 16 and 32 bits
            raise LocalProtocolError(f"sequence {seq} or timestamp {timestamp} out of range")
        self._received += 1
        highest_seq = self._highest_seq
        if highest_seq is not None and seq == (highest_seq + 1) & 0xFFFF:
            # The usual case, the next sequence number: not buffered, not played,
            # not late, not reordered unless its timestamp goes back in time.
            highest_ts = self._highest_ts
            ts_delta = (timestamp - highest_ts) & 0xFFFFFFFF
            if ts_delta >= 0x80000000:  # modulo 2**32, the nearest way
                ts_delta -= 0x100000000
            ext_ts = highest_ts + ts_delta
            last_out = self._last_out_ts
            if last_out is None or ext_ts > last_out:
                self._probation = None
                ext_seq = highest_seq + 1
                nominal = self._observe_transit(ext_ts, now, marker)
                if not marker and 0 < ts_delta <= self._max_packet and ts_delta != self._packet:
                    self._packet = ts_delta
                    self._packet_changed()
                self._highest_seq, self._highest_ts = ext_seq, ext_ts
                self._packets[ext_seq] = _Packet(ext_seq, ext_ts, payload, marker, silent, nominal)
                order = self._order
                order.append(ext_seq)
                if len(order) > self._max_buffered:
                    self._enforce_capacity()
                return _BUFFERED
        return self._push_other(seq, timestamp, payload, now, marker=marker, silent=silent)

    def _push_other(
        self, seq: int, timestamp: int, payload: bytes, now: float, *, marker: bool, silent: bool
    ) -> Arrival:
        """:meth:`push` for every packet but the next in sequence."""
        result = Arrival.BUFFERED
        highest_seq = self._highest_seq
        if highest_seq is None:
            ext_seq, ext_ts = seq, timestamp
        else:
            # Extended past 16 and 32 bits: the values nearest the highest seen.
            delta = (seq - highest_seq) % SEQ_MODULUS
            if delta >= SEQ_MODULUS // 2:
                delta -= SEQ_MODULUS
            ext_seq = highest_seq + delta
            ts_delta = (timestamp - self._highest_ts) % TIMESTAMP_MODULUS
            if ts_delta >= TIMESTAMP_MODULUS // 2:
                ts_delta -= TIMESTAMP_MODULUS
            ext_ts = self._highest_ts + ts_delta
            backwards_in_time = (
                delta > 0 and self._last_out_ts is not None and ext_ts <= self._last_out_ts
            )
            if delta > MAX_DROPOUT or delta < -MAX_MISORDER or backwards_in_time:
                if self._probation != seq:
                    self._probation = (seq + 1) % SEQ_MODULUS
                    self._counts.rejected += 1
                    return Arrival.REJECTED
                self.reset()
                ext_seq, ext_ts = seq, timestamp
                result = Arrival.RESYNCHRONIZED
            else:
                self._probation = None
        if ext_seq in self._packets or self._recently_passed(ext_seq):
            self._counts.duplicates += 1
            return Arrival.DUPLICATE
        if self._highest_seq is not None and ext_seq < self._highest_seq:
            self._counts.reordered += 1
        nominal = self._observe_transit(ext_ts, now, marker)
        if self._is_late(ext_seq, ext_ts):
            self._counts.late += 1
            return Arrival.LATE
        highest_seq = self._highest_seq
        if highest_seq is None or ext_seq > highest_seq:
            if highest_seq is not None and ext_seq == highest_seq + 1 and not marker:
                self._learn_duration(ext_ts - self._highest_ts)
            self._highest_seq, self._highest_ts = ext_seq, ext_ts
        self._packets[ext_seq] = _Packet(ext_seq, ext_ts, payload, marker, silent, nominal)
        order = self._order
        if not order or ext_seq > order[-1]:
            order.append(ext_seq)  # in order: the usual case
        else:
            bisect.insort(order, ext_seq)
        if len(order) > self._max_buffered:
            self._enforce_capacity()
        return result

    def _is_late(self, ext_seq: int, ext_ts: int) -> bool:
        """Whether the playout position has passed this packet."""
        if self._last_seq is not None and ext_seq <= self._last_seq:
            return True
        return self._last_out_ts is not None and ext_ts <= self._last_out_ts

    def _learn_duration(self, duration: int) -> None:
        if 0 < duration <= self._max_packet and duration != self._packet:
            self._packet = duration
            self._packet_changed()

    def _packet_changed(self) -> None:
        """Recompute what depends on the packet duration."""
        step = max(self._tick, self._packet) / self._rate
        # The drift band of _correction: [-step / 2, step] of excess delay.
        self._step, self._half_step = step, -step / 2
        # Beyond this many packets the buffer holds more than its capacity.
        count, packet, limit = (
            int(self._capacity_units // self._packet),
            self._packet,
            self._capacity_units,
        )
        while count * packet > limit:
            count -= 1
        while (count + 1) * packet <= limit:
            count += 1
        self._max_buffered = max(1, count)
        self._update_target()

    def _enforce_capacity(self) -> None:
        limit = self._capacity_units
        while len(self._order) > 1 and len(self._order) * self._packet > limit:
            oldest = self._remove_head()
            self._counts.overflow_drops += 1
            if self._playing:
                self._pass(oldest, self._duration_of(oldest))

    # -- output ----------------------------------------------------------------------------

    def peek(self) -> Frame | None:
        """The next buffered packet, without taking it (for FEC after a :class:`Missing`)."""
        if not self._order:
            return None
        head = self._packets[self._order[0]]
        return Frame(head.payload, head.ts, head.seq, self._duration_of(head), head.marker)

    def pop(self, now: float) -> Playout:
        """What to play at this tick (see the module docstring)."""
        item = self.pop_payload(now)
        if type(item) is bytes:
            head = self._last_played  # its successor is still buffered: same duration
            return Frame(item, head.ts, head.seq, self._duration_of(head), head.marker)
        return item  # type: ignore[return-value]

    def pop_payload(self, now: float) -> bytes | Missing | Empty:
        """:meth:`pop` for a caller that only decodes: a packet played is
        given as its payload alone (no :class:`Frame` is built)."""
        order = self._order
        if self._playing:
            if order and self._packets[order[0]].ts == self._next_ts:
                # The usual case: the packet at the position is buffered; play
                # it unless the delay has drifted out of its band.
                delay = self._delay
                if delay is None:
                    return self._play(now)
                excess = delay - self._target
                if self._half_step <= excess <= self._step:
                    self._pending = None
                    return self._play(now)
            return self._pop_playing(now, correct=True)
        if order and now >= self._packets[order[0]].nominal + self._target:
            self._playing = True
            self._next_ts = self._packets[order[0]].ts
            return self._play(now, True)
        return EMPTY

    def _pop_playing(self, now: float, *, correct: bool) -> bytes | Missing | Empty:
        while self._order:
            head = self._packets[self._order[0]]
            if head.ts >= self._next_ts:
                break
            if self._last_out_ts is None or head.ts > self._last_out_ts:
                self._next_ts = head.ts  # the previous duration was guessed too long
                break
            self._remove_head()  # its timestamp contradicts its sequence number
            self._counts.late += 1
        if not self._order:
            if self._covered == 0:
                self._counts.underruns += 1
            self._covered += self._tick
            self._adjust_delay(self._tick)  # what the frozen position adds, if not lost
            return EMPTY
        head = self._packets[self._order[0]]
        gap = head.ts - self._next_ts
        contiguous = self._last_seq is not None and head.seq == self._last_seq + 1
        if gap and (head.marker or contiguous or gap > self._capacity * self._rate):
            # A new talkspurt (or a discontinuity): restart at the target delay.
            if now < head.nominal + self._target:
                return EMPTY
            self._next_ts = head.ts
            return self._play(now, True)
        if gap:  # a hole left by lost packets
            if self._covered:
                skipped = min(gap, self._covered)
                self._next_ts += skipped
                self._hole_chunks += skipped // self._packet
                self._adjust_delay(-skipped)
                self._covered = 0
            elif correct and self._correction(now, head, free=True) > 0:
                self._next_ts = head.ts  # shrink for free: skip the hole
                self._adjust_delay(-gap)
            if self._next_ts < head.ts:
                return self._conceal(head)
            return self._play(now)
        if correct:
            direction = self._correction(now, head)
            if direction > 0 and len(self._order) > 1:
                dropped = self._remove_head()
                duration = self._duration_of(dropped)
                self._pass(dropped, duration)
                self._counts.drift_drops += 1
                self._adjust_delay(-duration)
                return self._pop_playing(now, correct=False)
            if direction < 0:
                self._counts.inserted += 1
                self._adjust_delay(self._tick)
                return EMPTY
        return self._play(now)

    def _correction(self, now: float, head: _Packet, *, free: bool = False) -> int:
        """+1 to shrink now, -1 to stretch now, 0 to leave the delay alone.

        ``free``: the correction costs no audio (skipping a hole), so it need not
        wait for a silent frame.
        """
        if self._delay is None:
            return 0
        step = self._step
        excess = self._delay - self._target
        # The band is asymmetric ([-step/2, +step], wider than one correction) so
        # the delay never oscillates, and it errs on the side of fewer underruns.
        direction = 1 if excess > step else -1 if excess < -step / 2 else 0
        if direction == 0 or (self._pending is not None and self._pending[0] != direction):
            self._pending = None
        if direction == 0 or now - self._last_correction < _CORRECTION_COOLDOWN:
            return 0
        if self._pending is None:
            self._pending = (direction, now)
        # Shrinking can wait for silence; stretching cannot: an underrun is worse.
        urgent = (
            direction < 0 or excess > 3 * step or now - self._pending[1] >= _CORRECTION_PATIENCE
        )
        if not (free or head.silent or urgent):
            return 0
        self._pending = None
        self._last_correction = now
        return direction

    def _adjust_delay(self, units: int) -> None:
        if self._delay is not None:
            self._delay += units / self._rate

    def _conceal(self, head: _Packet) -> Missing:
        duration = min(self._packet, head.ts - self._next_ts)
        base = self._last_seq + 1 if self._last_seq is not None else head.seq
        seq = min(base + self._hole_chunks, head.seq - 1)
        missing = Missing(self._next_ts, duration, seq)
        self._last_out_ts = self._next_ts
        self._next_ts += duration
        self._hole_chunks += 1
        self._counts.concealed += 1
        return missing

    def _play(self, now: float, anchor: bool = False) -> bytes:
        """Play the head packet: its payload (see :meth:`pop` for the rest)."""
        packets = self._packets
        head = packets.pop(self._order.pop(0))
        seq, ts = head.seq, head.ts
        # Its duration: up to its buffered successor, else the learned one.
        duration = self._packet
        following = packets.get(seq + 1)
        if following is not None and not following.marker:
            span = following.ts - ts
            if 0 < span <= self._max_packet:
                duration = span
        # self._pass(head, duration), inline:
        last = self._last_seq
        if last is None or seq > last:
            if last is not None and seq > last + 1:
                self._counts.lost += seq - last - 1
            self._last_seq = seq
        if ts + duration > self._next_ts:  # noqa: PLR1730 - no max() call per packet
            self._next_ts = ts + duration
        self._covered = self._hole_chunks = 0
        self._recent.append(seq)
        self._played += 1
        self._last_out_ts = ts
        self._last_played = head
        delay = now - head.nominal
        previous = self._delay
        if previous is None or anchor:
            self._delay = delay
        else:
            self._delay = previous + _DELAY_SMOOTHING * (delay - previous)
        return head.payload

    def _pass(self, packet: _Packet, duration: int) -> None:
        """Move the playout position past ``packet`` (played or dropped)."""
        seq = packet.seq
        last = self._last_seq
        if last is None or seq > last:
            if last is not None and seq > last + 1:
                self._counts.lost += seq - last - 1
            self._last_seq = seq
        end = packet.ts + duration
        if end > self._next_ts:  # noqa: PLR1730 - no max() call per packet
            self._next_ts = end
        self._covered = 0
        self._hole_chunks = 0
        self._recent.append(seq)

    def _recently_passed(self, seq: int) -> bool:
        """Whether ``seq`` is one of the last sequence numbers passed."""
        recent = self._recent
        if not recent or not recent[0] <= seq <= recent[-1]:
            return False
        return recent[bisect.bisect_left(recent, seq)] == seq

    def _remove_head(self) -> _Packet:
        return self._packets.pop(self._order.pop(0))

    def _duration_of(self, packet: _Packet) -> int:
        """Timestamp units ``packet`` lasts: up to its buffered successor, else learned."""
        following = self._packets.get(packet.seq + 1)
        if following is not None and not following.marker:
            duration = following.ts - packet.ts
            if 0 < duration <= self._max_packet:
                return duration
        return self._packet
