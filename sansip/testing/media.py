"""Media on the simulated network: a :class:`~sansip.media.MediaStream`
(or the one a :class:`~sansip.media.CallMedia` will start) as two
:class:`~sansip.testing.network.DatagramNode` objects, its RTP and RTCP
addresses, with the 20 ms media clock run on the virtual clock.

    host = MediaHost(call_media, ("127.0.0.1", 40000))
    host.attach(sim)            # RTP on 40000, RTCP on 40001
    host.start(sim.now)         # once offer/answer has started the stream
    sim.run_for(3.0)            # ticks, RTP, RTCP and DTMF, with the network's loss/jitter
"""

from __future__ import annotations

from typing import Protocol

from sansip.media import FRAME_DURATION, MediaStream
from sansip.rtp import is_rtcp
from sansip.testing.runner import Simulation
from sansip.transport.types import Address, Datagram

__all__ = ["MediaHost"]


class _HasStream(Protocol):
    stream: MediaStream | None


class _Port:
    """One address of a :class:`MediaHost` as the network sees it."""

    def __init__(self, host: MediaHost, rtcp: bool) -> None:
        self._host, self._rtcp = host, rtcp

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        stream = self._host.stream
        if stream is None:
            self._host.dropped += 1
            return
        stream.receive_datagram(data, addr, now, rtcp=self._rtcp)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return self._host.outbox(now, rtcp=self._rtcp)

    def get_timer(self) -> float | None:
        return None if self._rtcp else self._host.get_timer()

    def handle_timer(self, now: float) -> None:
        if not self._rtcp:
            self._host.handle_timer(now)


class MediaHost:
    """A call's media on the simulated network at ``address`` (RTP) and the
    next port (RTCP, unless the stream uses rtcp-mux)."""

    def __init__(self, media: _HasStream, address: Address) -> None:
        self._media = media
        self.address = address
        self.rtcp_address: Address = (address[0], address[1] + 1)
        self.rtp = _Port(self, rtcp=False)
        self.rtcp = _Port(self, rtcp=True)
        self.dropped = 0  # datagrams that came before the stream existed
        self.ticks = 0
        self._next_tick: float | None = None
        self._pending: list[Datagram] = []

    @property
    def stream(self) -> MediaStream | None:
        """The stream, once offer/answer started it."""
        return self._media.stream

    def attach(self, sim: Simulation) -> None:
        """Attach both addresses to a simulation."""
        sim.attach(self.address, self.rtp)
        sim.attach(self.rtcp_address, self.rtcp)

    def start(self, now: float) -> None:
        """Start the media clock: the first tick is at ``now``."""
        self._next_tick = now

    def stop(self) -> None:
        """Stop ticking."""
        self._next_tick = None

    def get_timer(self) -> float | None:
        stream = self.stream
        deadlines = [self._next_tick, stream.get_timer() if stream else None]
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        stream = self.stream
        if stream is None:
            return
        while self._next_tick is not None and now >= self._next_tick - 1e-9:
            stream.tick(self._next_tick)
            self.ticks += 1
            self._next_tick = round(self._next_tick + FRAME_DURATION, 9)
        stream.handle_timer(now)

    def outbox(self, now: float, *, rtcp: bool) -> list[Datagram]:
        """What to send from the RTP (or RTCP) address."""
        stream = self.stream
        if stream is not None:
            self._pending += stream.datagrams_to_send(now)
        mux = stream is not None and stream.media.rtcp_mux
        mine = [d for d in self._pending if (not mux and is_rtcp(d[0])) == rtcp]
        self._pending = [d for d in self._pending if (not mux and is_rtcp(d[0])) != rtcp]
        return mine
