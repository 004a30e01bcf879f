"""One RTP session: a local source talking to one remote party (sans-IO).

Inputs: :meth:`RtpSession.receive_datagram` (RTP, or RTCP with ``rtcp=True``
or rtcp-mux), commands (:meth:`~RtpSession.send_payload`,
:meth:`~RtpSession.send_dtmf`, :meth:`~RtpSession.send_comfort_noise`,
:meth:`~RtpSession.bye`) and :meth:`~RtpSession.handle_timer`.  Outputs:
:meth:`~RtpSession.datagrams_to_send`, :meth:`~RtpSession.next_event` and
:meth:`~RtpSession.get_timer`.  Bytes in and out are plain packets passed
through an optional :class:`~sansip.rtp.types.PacketTransform` (SRTP).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp.comfort_noise import ComfortNoise
from sansip.rtp.config import RtpConfig, RtpStatistics
from sansip.rtp.dtmf import DtmfReceiver, DtmfSender, dtmf_event_code
from sansip.rtp.events import (
    ByeReceived,
    Latched,
    MediaTimedOut,
    RemoteSourceChanged,
    RtcpReceived,
    RtpEvent,
    RtpReceived,
    SsrcCollided,
)
from sansip.rtp.interval import random_unit, rtcp_interval
from sansip.rtp.packet import RtpPacket, encode_rtp, parse_rtp
from sansip.rtp.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    is_rtcp,
    ntp_from_unix,
    ntp_middle,
    parse_rtcp,
    report_compound,
)
from sansip.rtp.stats import SourceStatistics, mos_from_r, r_factor
from sansip.rtp.types import Address, Datagram, PacketTransform, RandomSource

__all__ = ["NAT_OPEN_PACKET", "MediaHandler", "RtpSession"]

#: The datagram sent ``natopenpackets`` times at start (not RTP: peers drop it).
NAT_OPEN_PACKET = b"\r\n"
#: IPv4 + UDP header octets counted in the average RTCP size (§6.2).
_LOWER_HEADERS = 28
#: Remote sources tracked at most (the oldest is forgotten first).
_MAX_SOURCES = 8
_TS_MASK = 0xFFFFFFFF


#: Where accepted media packets can go instead of :class:`RtpReceived` events:
#: ``(payload_type, sequence_number, timestamp, payload, marker, arrival)``.
MediaHandler = Callable[[int, int, int, bytes, bool, float], None]
#: A plain RTP header (no CSRC, extension or padding), and its fields after the first octet.
_pack_plain = struct.Struct("!BBHII").pack
_unpack_plain = struct.Struct("!xBHII").unpack_from


class RtpSession:
    """The RTP/RTCP machine of one media stream.

    ``remote_rtp`` comes from the SDP; RTCP goes to ``remote_rtcp`` (default:
    the same address with rtcp-mux, else the next port) until RTCP from the
    peer shows where it really comes from.  ``now`` is monotonic seconds.

    ``media_handler``, when set, receives the fields of each accepted media
    packet (see :data:`MediaHandler`) as it is accepted instead of an
    :class:`RtpReceived` event (a media stream feeding its jitter buffer
    without an object per packet); every other event is queued as usual.
    """

    __slots__ = (
        "_accepted", "_anchor_time", "_anchor_ts", "_avg_rtcp_size", "_bytes_sent", "_candidate",
        "_collision_sources", "_departed", "_departed_jitter", "_dtmf", "_dtmf_out", "_dtmf_pt",
        "_events", "_initial", "_latched", "_latched_heard", "_media_seen", "_next_ts", "_outbox",
        "_packets_sent", "_receiving", "_remote_report", "_remote_rtcp", "_remote_rtp", "_rng",
        "_rtcp_bandwidth", "_rtcp_due", "_rtcp_mux", "_rtcp_prev", "_rtcp_received", "_rtcp_sent",
        "_rtt", "_samples_per_packet", "_sent_before", "_sent_now", "_seq", "_silence_from",
        "_sources", "_sr_octets", "_sr_packets", "_symmetric", "_timed_out", "_transform", "closed",
        "config", "keepalives_received", "last_rejection", "media_handler", "rejected",
        "remote_ssrc", "ssrc"
    )  # fmt: skip

    def __init__(
        self,
        config: RtpConfig,
        rng: RandomSource,
        now: float,
        remote_rtp: Address,
        *,
        remote_rtcp: Address | None = None,
        transform: PacketTransform | None = None,
    ) -> None:
        self.config = config
        self._rng = rng
        self._transform = transform
        self._accepted = set(config.payload_types)
        for extra in (config.dtmf_payload_type, config.cn_payload_type):
            if extra is not None:
                self._accepted.add(extra)
        self.ssrc = rng.getrandbits(32)
        self._seq = rng.getrandbits(16)
        self._next_ts = rng.getrandbits(32)
        self._outbox: list[Datagram] = []
        self._events: deque[RtpEvent] = deque()
        self.closed = False
        self.media_handler: MediaHandler | None = None
        # Per-packet reads of the configuration, kept as plain attributes.
        self._dtmf_pt = config.dtmf_payload_type
        self._symmetric = config.symmetric_rtp
        self._rtcp_mux = config.rtcp_mux
        self._samples_per_packet = config.samples_per_packet
        # Addressing and latching.
        self._remote_rtp = remote_rtp
        self._remote_rtcp = remote_rtcp or (remote_rtp[0], remote_rtp[1] + 1)
        self._latched: Address | None = None
        self._latched_heard = now
        self._candidate: tuple[Address, int, int] | None = None
        # Sending.
        self._packets_sent = 0
        self._bytes_sent = 0
        self._sr_packets = 0
        self._sr_octets = 0
        self._sent_now = False
        self._sent_before = False
        self._anchor_ts = 0  # the timestamp of the last media packet sent, and when
        self._anchor_time: float | None = None
        self._dtmf_out = DtmfSender(config.samples_per_packet, config.ptime, config.dtmf_gap)
        # Receiving.
        self._sources: dict[int, SourceStatistics] = {}
        # Counters of sources that left (BYE, evicted): statistics stay cumulative.
        self._departed = [0, 0, 0, 0, 0, 0, 0]  # packets, octets, lost, expected, dup, ooo, late
        self._departed_jitter = 0.0
        self.remote_ssrc: int | None = None
        self._dtmf = DtmfReceiver(config.clock_rate, config.dtmf_end_timeout)
        self._collision_sources: set[Address] = set()
        self.rejected = 0
        self.last_rejection = ""
        self.keepalives_received = 0
        self._rtt: float | None = None
        self._remote_report: ReportBlock | None = None
        self._rtcp_sent = 0
        self._rtcp_received = 0
        # Media timeout.
        self._receiving = True
        self._silence_from = now
        self._media_seen = False
        self._timed_out = False
        # RTCP schedule (§6.3).
        self._rtcp_bandwidth = config.session_bandwidth / 8 * config.rtcp_fraction
        self._avg_rtcp_size = float(_LOWER_HEADERS + 28 + 12 + len(config.cname))
        self._initial = True
        self._rtcp_prev = now
        self._rtcp_due = now + self._interval()
        for _ in range(config.natopenpackets):
            self._outbox.append((NAT_OPEN_PACKET, remote_rtp))

    # -- the sans-IO shape ------------------------------------------------------------------

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, *, rtcp: bool = False,
        wall_time: float | None = None,
    ) -> None:  # fmt: skip
        """Take one datagram from ``addr``: RTP, or RTCP when ``rtcp`` is set (the
        RTCP socket) or when rtcp-mux is on and the packet looks like RTCP.

        Never raises for bad input: malformed, unexpected or unauthenticated
        packets are dropped and counted in :attr:`rejected`.
        """
        if self.closed:
            return
        if len(data) <= 4 and not data.strip(b"\r\n\x00"):
            self.keepalives_received += 1
            return
        try:
            if rtcp or (self._rtcp_mux and is_rtcp(data)):
                self._receive_rtcp(data, addr, now, self._wall(now, wall_time))
            else:
                self._receive_rtp(data, addr, now)
        except RemoteProtocolError as exc:
            self.rejected += 1
            self.last_rejection = exc.reason

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox: ``(packet, destination)`` pairs."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> RtpEvent | None:
        """The next event for the layer above, or None."""
        return self._events.popleft() if self._events else None

    @property
    def has_events(self) -> bool:
        """Whether :meth:`next_event` has something to return."""
        return bool(self._events)

    def get_timer(self) -> float | None:
        """The next deadline: RTCP report, DTMF packet, DTMF end or media timeout."""
        if self.closed:
            return None
        due = self._rtcp_due
        dtmf = self._dtmf_out.due
        if dtmf is not None and dtmf < due:
            due = dtmf
        dtmf_end = self._dtmf.deadline()
        if dtmf_end is not None and dtmf_end < due:
            due = dtmf_end
        if self.config.mediatimeout > 0:
            media = self._media_deadline()
            if media is not None and media < due:
                due = media
        return due

    def handle_timer(self, now: float, *, wall_time: float | None = None) -> None:
        """Fire what is due at ``now`` (safe early or twice)."""
        if self.closed:
            return
        self._pump_dtmf(now)
        self._events.extend(self._dtmf.expire(now))
        deadline = self._media_deadline()
        if deadline is not None and now >= deadline:
            self._timed_out = True
            self._events.append(MediaTimedOut(now - self._silence_from))
        if now >= self._rtcp_due:
            interval = self._interval()
            if self._rtcp_prev + interval <= now:  # timer reconsideration (§6.3.6)
                self._send_report(now, self._wall(now, wall_time))
                self._rtcp_prev = now
                self._initial = False
                self._rtcp_due = now + self._interval()
            else:
                self._rtcp_due = self._rtcp_prev + interval

    # -- commands ---------------------------------------------------------------------------

    def send_payload(
        self, payload: bytes, payload_type: int, now: float, *, marker: bool = False,
        timestamp: int | None = None, timestamp_advance: int | None = None,
    ) -> None:  # fmt: skip
        """Send one media packet.  It carries ``timestamp`` if given, else the
        session's running timestamp, which then advances by ``timestamp_advance``
        (default: one ``ptime`` of samples)."""
        if self.closed:
            raise LocalProtocolError("the RTP session is closed")
        ts = self._next_ts if timestamp is None else timestamp & _TS_MASK
        advance = self._samples_per_packet if timestamp_advance is None else timestamp_advance
        self._send_rtp(payload_type, ts, payload, marker)
        self._anchor_ts, self._anchor_time = ts, now
        self._next_ts = (ts + advance) & _TS_MASK

    def skip(self, timestamp_advance: int) -> None:
        """Move the running timestamp on without sending (silence
        suppression: time passes while nothing is sent)."""
        self._next_ts = (self._next_ts + timestamp_advance) & _TS_MASK

    def send_comfort_noise(
        self, level: int, now: float, *, coefficients: bytes = b"", marker: bool = False,
        timestamp_advance: int | None = None,
    ) -> None:  # fmt: skip
        """Send an RFC 3389 comfort noise packet (noise ``level`` in -dBov)."""
        if self.config.cn_payload_type is None:
            raise LocalProtocolError("no comfort noise payload type was negotiated")
        payload = ComfortNoise(level, coefficients).encode()
        self.send_payload(
            payload, self.config.cn_payload_type, now, marker=marker,
            timestamp_advance=timestamp_advance,
        )  # fmt: skip

    def send_dtmf(self, digits: str, now: float, duration_ms: int = 100, volume: int = 10) -> None:
        """Queue RFC 4733 events for ``digits`` (see :func:`dtmf_event_code`).

        The first packet of an event goes out now (or when the previous event
        and a ``dtmf_gap`` pause are over), the rest one per ``ptime`` from
        :meth:`handle_timer`: updates, then three end packets, all with the
        timestamp of the event start and the marker on the first one.
        """
        if self.closed:
            raise LocalProtocolError("the RTP session is closed")
        if self.config.dtmf_payload_type is None:
            raise LocalProtocolError("no telephone-event payload type was negotiated")
        if duration_ms <= 0 or not 0 <= volume <= 63:
            raise LocalProtocolError("DTMF duration must be positive and volume 0-63")
        samples = min(round(duration_ms * self.config.clock_rate / 1000), 0xFFFF)
        codes = [dtmf_event_code(digit) for digit in digits]
        self._dtmf_out.queue(codes, max(samples, 1), volume, now)
        self._pump_dtmf(now)

    def bye(self, now: float, reason: str = "", *, wall_time: float | None = None) -> None:
        """Send a final report with an RTCP BYE and close (a second call does nothing)."""
        if self.closed:
            return
        self._send_report(now, self._wall(now, wall_time), bye=reason)
        self.closed = True
        self._dtmf_out.clear()

    def set_receiving(self, receiving: bool, now: float) -> None:
        """Pause (hold) or resume the media timeout; resuming restarts its clock."""
        self._receiving = receiving
        if receiving:
            self._silence_from = now
            self._timed_out = False

    def set_remote(self, remote_rtp: Address, remote_rtcp: Address | None = None) -> None:
        """A new remote address from a new SDP: forget the latch and send there."""
        self._remote_rtp = remote_rtp
        self._remote_rtcp = remote_rtcp or (remote_rtp[0], remote_rtp[1] + 1)
        self._latched = None
        self._candidate = None

    @property
    def transform(self) -> PacketTransform | None:
        """The per-packet transform in use (SRTP), or None for plain RTP."""
        return self._transform

    def set_transform(self, transform: PacketTransform | None) -> None:
        """Install (or remove) the per-packet transform, e.g. SRTP once keyed."""
        self._transform = transform

    # -- state ------------------------------------------------------------------------------

    @property
    def rtp_address(self) -> Address:
        """Where RTP goes now: the latched source, else the SDP address."""
        return self._latched or self._remote_rtp

    @property
    def rtcp_address(self) -> Address:
        """Where RTCP goes now."""
        return self.rtp_address if self.config.rtcp_mux else self._remote_rtcp

    @property
    def dtmf_active(self) -> bool:
        """Whether telephone events are being sent or queued."""
        return self._dtmf_out.due is not None

    def statistics(self, now: float) -> RtpStatistics:
        """A snapshot of the counters, jitter, RTT and MOS estimate."""
        totals = self._departed
        for source in self._sources.values():
            totals = [a + b for a, b in zip(totals, source.counts, strict=True)]
        received, octets, lost, expected, duplicates, out_of_order, late = totals
        current = self._sources.get(self.remote_ssrc) if self.remote_ssrc is not None else None
        jitter = current.jitter_seconds if current is not None else self._departed_jitter
        loss = lost / expected if expected > 0 else 0.0
        report = self._remote_report
        r = mos = None
        if received:
            buffer = self.config.jitter_buffer_delay
            if buffer is None:
                buffer = max(2 * jitter, self.config.ptime)
            delay = (self._rtt or 0.0) / 2 + buffer + self.config.ptime
            r = r_factor(delay, loss, self.config.codec)
            mos = mos_from_r(r)
        return RtpStatistics(
            ssrc=self.ssrc,
            remote_ssrc=self.remote_ssrc,
            packets_sent=self._packets_sent,
            bytes_sent=self._bytes_sent,
            packets_received=received,
            bytes_received=octets,
            packets_lost=lost,
            loss=loss,
            duplicates=duplicates,
            out_of_order=out_of_order,
            late=late,
            rejected=self.rejected,
            jitter=jitter,
            rtt=self._rtt,
            remote_fraction_lost=None if report is None else report.fraction_lost / 256,
            remote_packets_lost=None if report is None else report.cumulative_lost,
            remote_jitter=None if report is None else report.jitter / self.config.clock_rate,
            r_factor=r,
            mos=mos,
            rtcp_sent=self._rtcp_sent,
            rtcp_received=self._rtcp_received,
        )

    # -- receiving --------------------------------------------------------------------------

    def _retire(self, ssrc: int) -> None:
        """Forget source ``ssrc``, keeping its counts in the totals."""
        source = self._sources.pop(ssrc, None)
        if source is not None:
            if ssrc == self.remote_ssrc:
                self._departed_jitter = source.jitter_seconds
            self._departed = [a + b for a, b in zip(self._departed, source.counts, strict=True)]

    def _receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        if self._transform is not None:
            data = self._transform.unprotect_rtp(data)
        packet = None
        if len(data) >= 12 and data[0] == 0x80:  # the usual header: no CSRC, extension, padding
            second, seq, timestamp, ssrc = _unpack_plain(data)
            payload_type = second & 0x7F
            marker = second > 0x7F
            payload = data[12:]
        else:
            packet = parse_rtp(data)
            payload_type, seq, timestamp, ssrc, payload, marker = packet[:6]
        if payload_type not in self._accepted:
            raise RemoteProtocolError(f"unexpected payload type {payload_type}")
        if ssrc == self.ssrc:
            self._collided(addr, now)
            return
        if self._symmetric:
            if addr == self._latched:  # the usual case: the latched source again
                self._latched_heard = now
                self._candidate = None
            elif not self._accept_from(ssrc, addr, now):
                raise RemoteProtocolError("RTP from an address other than the latched one")
        is_dtmf = payload_type == self._dtmf_pt
        source = self._sources.get(ssrc)
        if source is None:
            source = self._source(ssrc, seq)
        if not source.on_packet(seq, timestamp, None if is_dtmf else now, len(payload)):
            return  # a duplicate, or rejected by sequence validation: counted there
        self._media_seen = True
        self._silence_from = now
        self._timed_out = False
        if ssrc != self.remote_ssrc:
            self._events.append(RemoteSourceChanged(ssrc, self.remote_ssrc))
            self.remote_ssrc = ssrc
        if is_dtmf:
            self._events.extend(self._dtmf.receive(ssrc, timestamp, payload, now))
        elif self.media_handler is not None:
            self.media_handler(payload_type, seq, timestamp, payload, marker, now)
        else:
            if packet is None:
                packet = RtpPacket(payload_type, seq, timestamp, ssrc, payload, marker)
            self._events.append(RtpReceived(packet, addr, now))

    def _accept_from(self, ssrc: int, addr: Address, now: float) -> bool:
        """Symmetric RTP latching; False drops a packet from a non-latched address."""
        if not self.config.symmetric_rtp:
            return True
        if self._latched is None or addr == self._latched:
            if self._latched is None:
                self._latch(addr)
            self._latched_heard = now
            self._candidate = None
            return True
        candidate = self._candidate
        count = candidate[2] + 1 if candidate and candidate[:2] == (addr, ssrc) else 1
        self._candidate = (addr, ssrc, count)
        new_flow = (
            ssrc != self.remote_ssrc or now - self._latched_heard >= self.config.relatch_silence
        )
        if count >= self.config.relatch_packets and new_flow:
            self._latch(addr)
            self._latched_heard = now
            self._candidate = None
            return True
        return False

    def _latch(self, addr: Address) -> None:
        previous = self.rtp_address
        self._latched = addr
        self._events.append(Latched(addr, previous))

    def _source(self, ssrc: int, seq: int) -> SourceStatistics:
        source = self._sources.get(ssrc)
        if source is None:
            if len(self._sources) >= _MAX_SOURCES:
                self._retire(next(s for s in self._sources if s != self.remote_ssrc))
            source = SourceStatistics(ssrc, seq, self.config.clock_rate, self.config.late_after)
            self._sources[ssrc] = source
        return source

    def _receive_rtcp(self, data: bytes, addr: Address, now: float, wall: float) -> None:
        if self._transform is not None:
            data = self._transform.unprotect_rtcp(data)
        try:
            packets = parse_rtcp(data)
        except RemoteProtocolError:
            # Reduced-size RTCP (RFC 5506), e.g. the lone BYE several phones
            # send at the end of a call: take it if it parses at all.
            packets = parse_rtcp(data, validate=False)
        for packet in packets:
            if isinstance(packet, SenderReport | ReceiverReport) and packet.ssrc == self.ssrc:
                self._collided(addr, now)
                return
        self._rtcp_received += 1
        self._avg_rtcp_size += (len(data) + _LOWER_HEADERS - self._avg_rtcp_size) / 16
        for packet in packets:
            if isinstance(packet, SenderReport | ReceiverReport):
                self._on_report(packet, addr, now, wall)
            elif isinstance(packet, Bye):
                for ssrc in packet.ssrcs:
                    self._retire(ssrc)
                self._events.append(ByeReceived(packet.ssrcs, packet.reason))
        self._events.append(RtcpReceived(tuple(packets), addr, now))

    def _on_report(self, report: SenderReport | ReceiverReport, addr: Address, now: float,
                   wall: float) -> None:  # fmt: skip
        source = self._sources.get(report.ssrc)
        if isinstance(report, SenderReport) and source is not None:
            source.last_sr = ntp_middle(report.ntp_timestamp)
            source.last_sr_arrival = now
        if report.ssrc == self.remote_ssrc and not self.config.rtcp_mux:
            self._remote_rtcp = addr
        for block in report.reports:
            if block.ssrc != self.ssrc:
                continue
            self._remote_report = block
            if block.last_sr:
                units = ntp_middle(ntp_from_unix(wall)) - block.last_sr - block.delay_since_last_sr
                units &= 0xFFFFFFFF
                if units < 0x80000000:
                    self._rtt = units / 65536.0

    def _collided(self, addr: Address, now: float) -> None:
        """Our SSRC arrived from elsewhere (§8.2): BYE the old one, take a new one.
        A second collision from the same address is a loop and is only counted."""
        if addr in self._collision_sources:
            raise RemoteProtocolError("our SSRC looped back again")
        self._collision_sources.add(addr)
        old = self.ssrc
        self._send_report(now, self._wall(now, None), bye="SSRC collision")
        new = old
        while new == old or new in self._sources:
            new = self._rng.getrandbits(32)
        self.ssrc = new
        self._sr_packets = self._sr_octets = 0
        self._events.append(SsrcCollided(old, new, addr))

    # -- sending ----------------------------------------------------------------------------

    def _send_rtp(self, payload_type: int, ts: int, payload: bytes, marker: bool) -> None:
        if 0 <= payload_type <= 127:
            second = payload_type | 0x80 if marker else payload_type
            data = _pack_plain(0x80, second, self._seq, ts, self.ssrc) + payload
        else:  # out of range: encode_rtp raises the usual error
            data = encode_rtp(RtpPacket(payload_type, self._seq, ts, self.ssrc, payload, marker))
        size = len(payload)
        self._seq = (self._seq + 1) & 0xFFFF
        self._packets_sent += 1
        self._bytes_sent += size
        self._sr_packets = (self._sr_packets + 1) & 0xFFFFFFFF
        self._sr_octets = (self._sr_octets + size) & 0xFFFFFFFF
        self._sent_now = True
        if self._transform is not None:
            data = self._transform.protect_rtp(data)
        self._outbox.append((data, self._latched or self._remote_rtp))

    def _pump_dtmf(self, now: float) -> None:
        packets, self._next_ts = self._dtmf_out.pump(now, self._next_ts)
        pt = self.config.dtmf_payload_type
        for ts, payload, marker in packets:
            assert pt is not None
            self._send_rtp(pt, ts, payload, marker)

    def _send_report(self, now: float, wall: float, bye: str | None = None) -> None:
        blocks = [
            source.report_block(now)
            for source in self._sources.values()
            if source.valid and source.take_report_heard()
        ][:31]
        sender = None
        if self._sent_now or self._sent_before:
            rtp_ts = self._next_ts
            anchor_time = self._anchor_time
            if anchor_time is not None:
                rtp_ts = self._anchor_ts + round((now - anchor_time) * self.config.clock_rate)
            sender = (ntp_from_unix(wall), rtp_ts & _TS_MASK, self._sr_packets, self._sr_octets)
        data = report_compound(self.ssrc, tuple(blocks), self.config.cname, sender, bye)
        self._avg_rtcp_size += (len(data) + _LOWER_HEADERS - self._avg_rtcp_size) / 16
        self._sent_before, self._sent_now = self._sent_now, False
        self._rtcp_sent += 1
        if self._transform is not None:
            data = self._transform.protect_rtcp(data)
        self._outbox.append((data, self.rtcp_address))

    # -- helpers ----------------------------------------------------------------------------

    def _interval(self) -> float:
        heard = sum(1 for s in self._sources.values() if s.valid)
        senders = sum(1 for s in self._sources.values() if s.heard_since_report)
        we_sent = self._sent_now or self._sent_before
        return rtcp_interval(
            members=1 + heard,
            senders=senders + (1 if we_sent else 0),
            rtcp_bandwidth=self._rtcp_bandwidth,
            we_sent=we_sent,
            avg_rtcp_size=self._avg_rtcp_size,
            initial=self._initial,
            unit=random_unit(self._rng),
        )

    def _media_deadline(self) -> float | None:
        timeout = self.config.mediatimeout
        if timeout <= 0 or not self._receiving or self._timed_out:
            return None
        return self._silence_from + (timeout if self._media_seen else timeout / 2)

    def _wall(self, now: float, wall_time: float | None) -> float:
        return now + self.config.wall_clock_offset if wall_time is None else wall_time
