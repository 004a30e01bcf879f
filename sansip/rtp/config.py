"""Configuration and statistics snapshot of an :class:`~sansip.rtp.session.RtpSession`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RtpConfig", "RtpStatistics"]


@dataclass(frozen=True, slots=True)
class RtpConfig:
    """What an RTP session needs from the negotiated SDP and the parameters.

    - ``payload_types``: the negotiated payload types; packets with others are
      rejected and never latched on (``dtmf_payload_type`` and
      ``cn_payload_type`` are accepted too when set).
    - ``clock_rate``: RTP clock of the audio codec (Hz); ``ptime`` the packet
      interval (seconds) used for the default timestamp step and DTMF pacing.
    - ``codec``: encoding name for the MOS estimate (``PCMU``, ``PCMA``, ``G722``, ``opus``).
    - ``session_bandwidth``: bits per second; RTCP uses ``rtcp_fraction`` of it.
    - ``cname``: the SDES CNAME sent in every report.
    - ``rtcp_mux``: RTP and RTCP share one address (RFC 5761).
    - ``symmetric_rtp``: latch to where media comes from (RFC 4961); a latched
      flow is replaced only after ``relatch_packets`` consecutive packets from
      one new address, with a new SSRC or after the latched one has been silent
      for ``relatch_silence`` seconds.
    - ``natopenpackets``: datagrams of ``b"\\r\\n"`` sent to the remote RTP
      address at start to open NAT pinholes (0: none).
    - ``mediatimeout``: seconds without RTP before :class:`MediaTimedOut`
      (half that before the first packet; 0: off).
    - ``wall_clock_offset``: wall time (seconds since 1970) minus ``now``, for
      NTP timestamps when a call passes no ``wall_time``.
    - ``jitter_buffer_delay``: playout delay (seconds) for the MOS estimate
      (None: twice the jitter, at least one ``ptime``).
    - ``late_after``: transit above the smallest one seen that counts as late.
    """

    payload_types: frozenset[int] = frozenset({0})
    clock_rate: int = 8000
    ptime: float = 0.02
    codec: str = "PCMU"
    dtmf_payload_type: int | None = 101
    cn_payload_type: int | None = 13
    session_bandwidth: float = 64_000.0
    rtcp_fraction: float = 0.05
    cname: str = "sansip"
    rtcp_mux: bool = False
    symmetric_rtp: bool = True
    relatch_packets: int = 5
    relatch_silence: float = 1.0
    natopenpackets: int = 0
    mediatimeout: float = 0.0
    wall_clock_offset: float = 0.0
    jitter_buffer_delay: float | None = None
    late_after: float = 0.1
    dtmf_end_timeout: float = 0.5
    dtmf_gap: float = 0.05

    @property
    def samples_per_packet(self) -> int:
        """Timestamp units in one ``ptime``."""
        return max(1, round(self.clock_rate * self.ptime))


@dataclass(frozen=True, slots=True)
class RtpStatistics:
    """A snapshot of what a session sent, received and measured.

    Byte counts are payload octets (as in the SR octet count).  ``loss`` is
    cumulative loss over expected packets (0..1); ``jitter`` and ``rtt`` are in
    seconds; ``remote_*`` values come from the peer's last report about us.
    ``mos`` and ``r_factor`` are None until something was received.
    """

    ssrc: int
    remote_ssrc: int | None
    packets_sent: int
    bytes_sent: int
    packets_received: int
    bytes_received: int
    packets_lost: int
    loss: float
    duplicates: int
    out_of_order: int
    late: int
    rejected: int
    jitter: float
    rtt: float | None
    remote_fraction_lost: float | None
    remote_packets_lost: int | None
    remote_jitter: float | None
    r_factor: float | None
    mos: float | None
    rtcp_sent: int
    rtcp_received: int
