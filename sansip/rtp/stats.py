"""Receive statistics of one remote source (RFC 3550 §A.1, §A.3, §A.8) and an
E-model MOS estimate (ITU-T G.107, simplified).

:class:`SourceStatistics` is fed every RTP packet of one SSRC with its
arrival time; it validates sequence numbers with probation, counts loss,
duplicates, reordering and late packets, keeps the interarrival jitter and
builds the report block for our next RTCP report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sansip.rtp.rtcp import ReportBlock

__all__ = [
    "CODEC_IMPAIRMENTS",
    "MAX_DROPOUT",
    "MAX_MISORDER",
    "MIN_SEQUENTIAL",
    "CodecImpairment",
    "SourceStatistics",
    "mos_from_r",
    "r_factor",
]

#: Packets in sequence before a new source is declared valid (§A.1).
MIN_SEQUENTIAL: Final = 2
#: Largest forward jump treated as loss rather than a restart (§A.1).
MAX_DROPOUT: Final = 3000
#: Largest backward jump treated as reordering (§A.1).
MAX_MISORDER: Final = 100
_SEQ_MOD: Final = 1 << 16
#: How many recent sequence numbers the duplicate detector remembers.
_WINDOW: Final = 128
_WINDOW_MASK: Final = (1 << _WINDOW) - 1


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """E-model equipment impairment ``ie`` and packet-loss robustness ``bpl``."""

    ie: float
    bpl: float


#: Values in the spirit of ITU-T G.113 Appendix I (codecs with packet loss
#: concealment, random loss); G.722 and Opus are placed on the narrowband
#: scale as commonly done by monitoring tools.  Estimates, not measurements.
CODEC_IMPAIRMENTS: Final[dict[str, CodecImpairment]] = {
    "PCMU": CodecImpairment(0.0, 25.1),
    "PCMA": CodecImpairment(0.0, 25.1),
    "G722": CodecImpairment(0.0, 23.0),
    "OPUS": CodecImpairment(0.0, 30.0),
}


def r_factor(one_way_delay: float, loss: float, codec: str = "PCMU") -> float:
    """The E-model rating R for a one-way mouth-to-ear ``one_way_delay`` (seconds)
    and packet ``loss`` (0..1, random), defaults for everything else.

    R = 93.2 - Id - Ie,eff with Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)
    (d in ms) and Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl) (Ppl in percent).
    An unknown codec name uses the PCMU values.
    """
    impairment = CODEC_IMPAIRMENTS.get(codec.upper(), CODEC_IMPAIRMENTS["PCMU"])
    d = max(one_way_delay, 0.0) * 1000.0
    delay_impairment = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = min(max(loss, 0.0), 1.0) * 100.0
    ie_eff = impairment.ie + (95.0 - impairment.ie) * ppl / (ppl + impairment.bpl)
    return 93.2 - delay_impairment - ie_eff


def mos_from_r(r: float) -> float:
    """Mean opinion score (1.0-4.5) for an E-model rating (G.107 Annex B)."""
    if r <= 0.0:
        return 1.0
    if r >= 100.0:
        return 4.5
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6


class SourceStatistics:
    """Reception state of one SSRC.

    ``clock_rate`` converts arrival times (seconds) into timestamp units for
    the jitter; a packet is *late* when its transit exceeds the smallest
    transit seen so far by more than ``late_after`` seconds (the packet would
    miss a playout buffer that deep).
    """

    # Slots: every packet updates a dozen of these (no instance dict).
    __slots__ = (
        "_min_transit", "_received_since_report", "_seen", "_transit", "bad_seq", "base_seq",
        "clock_rate", "cycles", "duplicates", "expected_prior", "jitter", "last_sr",
        "last_sr_arrival", "late", "late_after", "max_seq", "octets", "out_of_order", "packets",
        "probation", "received", "received_prior", "ssrc"
    )  # fmt: skip

    def __init__(self, ssrc: int, seq: int, clock_rate: int, late_after: float = 0.1) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.late_after = late_after
        self.probation = MIN_SEQUENTIAL
        self.max_seq = (seq - 1) & 0xFFFF
        self.cycles = 0
        self.base_seq = seq
        self.bad_seq = _SEQ_MOD + 1
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        #: Packets accepted (probation included) and their payload bytes.
        self.packets = 0
        self.octets = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.late = 0
        #: Interarrival jitter in timestamp units (§A.8), as a float.
        self.jitter = 0.0
        self._transit: float | None = None
        self._min_transit: float | None = None
        self._seen = 0
        self._received_since_report = False
        #: Middle 32 bits of the NTP time of the last SR from this source, and when.
        self.last_sr = 0
        self.last_sr_arrival: float | None = None

    @property
    def valid(self) -> bool:
        """Whether the source has passed probation."""
        return self.probation == 0

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = _SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self._seen = 1

    def _update_seq(self, seq: int) -> bool:
        """§A.1 ``update_seq``; False when the packet does not count as valid."""
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta == 0:
            self.duplicates += 1
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += _SEQ_MOD
            self.max_seq = seq
            self._seen = ((self._seen << udelta) | 1) & _WINDOW_MASK
        elif udelta <= _SEQ_MOD - MAX_MISORDER:
            if seq != self.bad_seq:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
            self._init_seq(seq)  # two sequential packets: the sender restarted
        else:
            back = _SEQ_MOD - udelta
            if back < _WINDOW:
                if self._seen >> back & 1:
                    self.duplicates += 1
                    return False
                self._seen |= 1 << back
            self.out_of_order += 1
        self.received += 1
        return True

    def on_packet(self, seq: int, timestamp: int, arrival: float | None, size: int) -> bool:
        """Account one packet of ``size`` payload bytes that arrived at ``arrival``
        (seconds; None leaves the jitter alone, e.g. for telephone events whose
        timestamps do not advance); returns False for a duplicate or a packet
        rejected by §A.1."""
        max_seq = self.max_seq
        udelta = (seq - max_seq) & 0xFFFF
        if not self.probation and 0 < udelta < MAX_DROPOUT:
            # In order (maybe after a gap): §A.1's usual case, inlined.
            if seq < max_seq:
                self.cycles += _SEQ_MOD
            self.max_seq = seq
            self._seen = ((self._seen << udelta) | 1) & _WINDOW_MASK
            self.received += 1
        else:
            duplicates = self.duplicates
            counted = self._update_seq(seq)
            if self.duplicates != duplicates:
                return False
            if not counted and self.probation == 0:
                return False
        self.packets += 1
        self.octets += size
        self._received_since_report = True
        if arrival is None:
            return True
        transit = arrival * self.clock_rate - timestamp
        previous = self._transit
        if previous is not None:
            # Timestamps wrap at 2**32: fold the difference into a signed range.
            d = (transit - previous + 2147483648.0) % 4294967296.0 - 2147483648.0
            transit = previous + d
            jitter = self.jitter
            self.jitter = jitter + ((d if d >= 0 else -d) - jitter) / 16.0
            low = self._min_transit
            if low is not None:
                if transit < low:
                    self._min_transit = transit
                elif transit - low > self.late_after * self.clock_rate:
                    self.late += 1
        else:
            self._min_transit = transit
        self._transit = transit
        return True

    @property
    def extended_max(self) -> int:
        """The extended highest sequence number received (§A.3)."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected since the source became valid (§A.3)."""
        return self.extended_max - self.base_seq + 1 if self.valid else 0

    @property
    def lost(self) -> int:
        """Cumulative packets lost (§A.3); never negative here as duplicates are not counted."""
        return self.expected - self.received if self.valid else 0

    @property
    def counts(self) -> tuple[int, int, int, int, int, int, int]:
        """``(packets, octets, lost, expected, duplicates, out_of_order, late)``."""
        return (self.packets, self.octets, self.lost, self.expected, self.duplicates,
                self.out_of_order, self.late)  # fmt: skip

    @property
    def jitter_seconds(self) -> float:
        """The interarrival jitter in seconds."""
        return self.jitter / self.clock_rate

    @property
    def heard_since_report(self) -> bool:
        """Whether the source sent since the last :meth:`take_report_heard`."""
        return self._received_since_report

    def take_report_heard(self) -> bool:
        """Whether the source sent since the last call (and reset the flag)."""
        heard, self._received_since_report = self._received_since_report, False
        return heard

    def report_block(self, now: float) -> ReportBlock:
        """The reception report for this source at ``now``; starts a new interval (§A.3)."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        lost = max(-0x800000, min(0x7FFFFF, expected - self.received))
        dlsr = 0
        if self.last_sr_arrival is not None:
            dlsr = min(int((now - self.last_sr_arrival) * 65536.0), 0xFFFFFFFF)
        return ReportBlock(
            self.ssrc, min(fraction, 255), lost, self.extended_max & 0xFFFFFFFF,
            int(self.jitter) & 0xFFFFFFFF, self.last_sr, max(dlsr, 0),
        )  # fmt: skip
