"""Media on the simulated network: the :class:`~sansip.media.engine.MediaEngine`
that the drivers run, with its sockets as
:class:`~sansip.testing.network.DatagramNode` objects and its 20 ms clock on
the virtual clock.

:class:`SimMediaDriver` binds the sockets an engine asks for at their
addresses in a :class:`~sansip.testing.runner.Simulation` (an address
already taken is refused, as a kernel would) and carries the engine's
datagrams and timer.  :class:`MediaHost` is the short form for one call's
media at one address::

    host = MediaHost(call_media, ("127.0.0.1", 40000))
    host.attach(sim)            # RTP on 40000, RTCP on 40001
    host.start(sim.now)         # once offer/answer has started the stream
    sim.run_for(3.0)            # ticks, RTP, RTCP and DTMF, with the network's loss/jitter
"""

from __future__ import annotations

import random
from typing import Protocol

from sansip.errors import LocalProtocolError
from sansip.media import MediaStream
from sansip.media.engine import MediaEngine, MediaPort, PortState
from sansip.testing.runner import Simulation
from sansip.transport.types import Address, Datagram

__all__ = ["MediaHost", "SimMediaDriver"]


class _HasStream(Protocol):
    stream: MediaStream | None


class _Socket:
    """One socket of the engine, as the simulated network sees it."""

    def __init__(self, driver: SimMediaDriver, socket_id: int) -> None:
        self._driver, self.socket_id = driver, socket_id

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self._driver.engine.receive_datagram(self.socket_id, data, addr, now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return self._driver.outbox(self.socket_id)

    def get_timer(self) -> float | None:
        return self._driver.engine.get_timer() if self._driver.clock_socket(self) else None

    def handle_timer(self, now: float) -> None:
        if self._driver.clock_socket(self):
            self._driver.engine.handle_timer(now)
            self._driver.service()


class SimMediaDriver:
    """Runs ``engine`` on ``sim``: binds its sockets as network nodes, routes
    its datagrams by socket, and reports its timer through one of them."""

    def __init__(self, engine: MediaEngine, sim: Simulation) -> None:
        self.engine = engine
        self.sim = sim
        self._nodes: dict[int, tuple[_Socket, Address]] = {}
        self._pending: dict[int, list[Datagram]] = {}

    def open_media(self, host: str, port: int = 0, *, rtcp_mux: bool = False) -> MediaPort:
        """Bind a call's RTP/RTCP sockets on the network (see
        :meth:`MediaEngine.open_ports`); LocalProtocolError when none could be had."""
        media = self.engine.open_ports(host, port, rtcp_mux=rtcp_mux)
        self.service()
        if media.state is not PortState.OPEN:
            raise LocalProtocolError(media.reason)
        return media

    def start_media(self, port: MediaPort, stream: MediaStream) -> None:
        """Feed ``stream`` from ``port`` and tick it on the virtual clock."""
        self.engine.start(port, stream, self.sim.now)
        self.service()

    def close_media(self, port: MediaPort) -> None:
        """Final RTCP BYE, then release the port's addresses."""
        self.engine.close(port, self.sim.now)
        self.service()

    def clock_socket(self, node: _Socket) -> bool:
        """Whether ``node`` is the one that carries the engine's timer."""
        return bool(self._nodes) and next(iter(self._nodes)) == node.socket_id

    def service(self) -> None:
        """Bind and release what the engine asks, and sort its output by socket."""
        engine, network = self.engine, self.sim.network
        while requests := engine.sockets_to_open():
            for request in requests:
                address = (request.host, request.port)
                if address in network.nodes:
                    engine.socket_failed(request.socket_id, f"{address} is taken")
                    continue
                node = _Socket(self, request.socket_id)
                network.attach(address, node)
                self._nodes[request.socket_id] = (node, address)
                engine.socket_opened(request.socket_id, request.port)
        for socket_id, data, addr in engine.datagrams_to_send():
            self._pending.setdefault(socket_id, []).append((data, addr))
        for socket_id in engine.sockets_to_close():
            self._send_and_release(socket_id)

    def _send_and_release(self, socket_id: int) -> None:
        entry = self._nodes.pop(socket_id, None)
        if entry is None:
            return
        _node, address = entry
        now = self.sim.now
        for data, dest in self._pending.pop(socket_id, []):
            self.sim.network.send(data, address, dest, now)
        self.sim.network.detach(address)

    def outbox(self, socket_id: int) -> list[Datagram]:
        """What socket ``socket_id`` sends now."""
        self.service()
        return self._pending.pop(socket_id, [])


class MediaHost:
    """A call's media on the simulated network at ``address`` (RTP) and the
    next port (RTCP, unless rtcp-mux), on an engine of its own (or ``engine``)."""

    def __init__(self, media: _HasStream, address: Address, *,
                 engine: MediaEngine | None = None) -> None:  # fmt: skip
        self._media = media
        self.address = address
        self.rtcp_address: Address = (address[0], address[1] + 1)
        self.engine = engine or MediaEngine(rng=random.Random(address[1]))
        self.port: MediaPort | None = None
        self._driver: SimMediaDriver | None = None

    @property
    def stream(self) -> MediaStream | None:
        """The stream, once offer/answer started it."""
        return self._media.stream

    @property
    def dropped(self) -> int:
        """Datagrams that came before the stream was started."""
        return 0 if self.port is None else self.port.dropped

    def attach(self, sim: Simulation) -> None:
        """Bind both addresses in a simulation."""
        self._driver = SimMediaDriver(self.engine, sim)
        self.port = self._driver.open_media(*self.address)

    def start(self, now: float) -> None:
        """Start the media clock: the first tick is at ``now``."""
        stream = self.stream
        assert self._driver is not None and self.port is not None, "attach() first"
        if stream is None:
            raise LocalProtocolError("no stream yet: negotiate first")
        self.engine.start(self.port, stream, now)
        self._driver.service()

    def stop(self) -> None:
        """End the media: final RTCP BYE, addresses released."""
        if self._driver is not None and self.port is not None:
            self._driver.close_media(self.port)
