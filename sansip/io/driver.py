"""What the asyncio, trio and threading drivers have in common, above the
:class:`~sansip.io.pump.Pump`: the SIP machine and its socket (UDP, or a
TCP/TLS listener), the media commands, one timer armed at the pump's
deadline, and ``on_activity``.

A loop's driver subclasses :class:`Driver` and supplies only what its loop
does its own way: watching a socket (:meth:`Driver._watch`,
:meth:`Driver._unwatch`), setting its one timer (:meth:`Driver._set_timer`)
and, for a driver with threads, running an action where the pump lives
(:meth:`Driver._post`, :meth:`Driver._on_owner`).  It calls :meth:`Driver._ready` when a socket is
ready and :meth:`Driver._fire` when the timer goes off.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from sansip.io.machines import DatagramMachine, StreamMachine
from sansip.io.pump import Pump
from sansip.io.streams import Pollable, StreamConfig
from sansip.media import MediaStream
from sansip.media.engine import MediaEngine, MediaPort
from sansip.transport.types import Address

__all__ = ["Driver", "StreamDriving"]

T = TypeVar("T")


class Driver(ABC):
    """A SIP machine on ``local`` (None: no SIP socket, media only) and the
    media engine, run by one event loop (see the subclasses).

    ``stream`` makes the SIP side TCP or TLS (a listener and connections);
    otherwise it is one UDP socket.  After commanding the machine from
    outside, call :meth:`wake` so its output goes out and the timer is
    re-armed.  ``on_activity`` is called after the machine took input or
    fired a timer, and when the media engine has events, for the owner to
    drain their events.
    """

    def __init__(
        self,
        machine: DatagramMachine | StreamMachine | None,
        local: Address | None,
        *,
        on_activity: Callable[[], None] | None = None,
        media: MediaEngine | None = None,
        stream: StreamConfig | None = None,
    ) -> None:
        self.machine = machine
        self.local: Address = local or ("", 0)
        self.on_activity = on_activity
        self._sip = local is not None
        self._media = media
        self._stream = stream
        self._pump: Pump | None = None
        self._armed: float | None = None
        self._closed = False

    # -- loop hooks ------------------------------------------------------------------
    @abstractmethod
    def _watch(self, key: int, sock: Pollable, read: bool, write: bool) -> None:
        """Wait for ``sock`` to be readable and/or writable, then :meth:`_ready`."""

    @abstractmethod
    def _unwatch(self, key: int, sock: Pollable) -> None:
        """Stop waiting for ``sock`` (it is about to be closed)."""

    @abstractmethod
    def _set_timer(self, deadline: float | None) -> None:
        """Call :meth:`_fire` at ``deadline`` (None: never), replacing the last one."""

    def _post(self, action: Callable[[], object]) -> None:
        """Run ``action`` where the pump lives, then :meth:`_after`; do not
        wait (an event loop's driver runs it at once)."""
        self._on_owner(action)

    def _on_owner(self, action: Callable[[], T]) -> T:
        """Run ``action`` where the pump lives, then :meth:`_after`; return
        its result (an event loop's driver runs it at once: the caller is in the loop)."""
        try:
            return action()
        finally:
            self._after()

    # -- shared ----------------------------------------------------------------------
    def _open_pump(self, clock: Callable[[], float]) -> Pump:
        """Make the pump on the loop's ``clock`` and bind the SIP side."""
        pump = self._pump = Pump(clock, self._watch, self._unwatch, media=self._media)
        if self.machine is not None:
            pump.attach(self.machine)
        if self._sip:
            if self._stream is not None:
                self.local = pump.listen(self.local, self._stream)
            else:
                self.local = pump.bind_sip(self.local)
        return pump

    @property
    def pump(self) -> Pump:
        """The sockets, machines and counters (received, sent, faults, errors)."""
        assert self._pump is not None, "start the driver first"
        return self._pump

    @property
    def media(self) -> MediaEngine:
        """The media engine (ports, streams, the 20 ms clock)."""
        return self.pump.media

    @property
    def errors(self) -> int:
        """Datagrams refused by the kernel, and connections that failed."""
        streams = self.pump.streams
        return self.pump.errors + (streams.errors if streams is not None else 0)

    @property
    def connections(self) -> list[Address]:
        """TCP/TLS: the peers with a connection (open or opening)."""
        return self._on_owner(lambda: self.pump.streams.connections if self.pump.streams else [])

    def now(self) -> float:
        """The loop's clock, as the machines see it."""
        return self.pump.clock()

    def attach(self, machine: Any, on_activity: Callable[[], None] | None = None) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: construct with ``None``, start, then attach)."""

        def swap() -> None:
            self.machine = machine
            self.pump.attach(machine)
            if on_activity is not None:
                self.on_activity = on_activity

        self._on_owner(swap)

    def wake(self) -> None:
        """Send what the machines have queued and re-arm the timer."""
        if not self._closed:
            self._post(lambda: None)

    def _command(self, fn: Callable[[], T], fut: Future[T]) -> None:
        """Run a command posted from another thread into ``fut``, then :meth:`_after`."""
        if fut.set_running_or_notify_cancel():
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)
        self._after()

    def _after(self) -> None:
        """After a command: send what it queued and re-arm."""
        if not self._closed and self._pump is not None:
            self._pump.flush()
            self._arm()

    def _ready(self, key: int, readable: bool, writable: bool) -> None:
        if self.pump.ready(key, readable, writable):
            self._arm()
            self._activity()

    def _fire(self, deadline: float) -> None:
        if not self._closed:
            self._armed = None
            self.pump.fire(deadline)
            self._arm()
            self._activity()

    def _arm(self) -> None:
        deadline = None if self._closed else self.pump.deadline()
        if deadline != self._armed:
            self._armed = deadline
            self._set_timer(deadline)

    def _activity(self) -> None:
        if self.pump.take_activity() and self.on_activity is not None:
            self.on_activity()

    # -- media -----------------------------------------------------------------------
    def open_media(self, host: str, port: int = 0, *, rtcp_mux: bool = False) -> MediaPort:
        """Bind a call's RTP/RTCP sockets (the engine picks an even port;
        :class:`~sansip.errors.LocalProtocolError` when none could be had)."""
        return self._on_owner(lambda: self.pump.open_media(host, port, rtcp_mux=rtcp_mux))

    def start_media(self, port: MediaPort, stream: MediaStream) -> None:
        """Feed ``stream`` from ``port`` and tick it every frame."""
        self._on_owner(lambda: self.pump.start_media(port, stream))

    def media_command(self, port: MediaPort, action: Callable[[MediaStream], T]) -> T:
        """Run ``action(stream)`` now and send what it queued."""
        return self._on_owner(lambda: self.pump.media_command(port, action))

    def close_media(self, port: MediaPort) -> None:
        """Final RTCP BYE, then close the port's sockets."""
        self._on_owner(lambda: self.pump.close_media(port))


class StreamDriving(Driver):
    """A driver for SIP over TCP (or TLS): ``tls_server`` makes the listening
    socket TLS; ``tls_client`` makes the connections it opens TLS (with
    ``ssl.create_default_context()`` the peer certificate and host name are
    verified; the name checked and sent as SNI is the host of the address, or
    ``tls_hostnames[host]``; with ``check_sip_domain`` that name is checked
    the SIP way instead, RFC 5922, and ``tls_client`` verifies the chain
    only).  A connection not open after ``connect_timeout`` seconds is
    reported to the machine as lost."""

    def __init__(
        self,
        machine: StreamMachine | None,
        local: Address,
        *,
        tls_server: ssl.SSLContext | None = None,
        tls_client: ssl.SSLContext | None = None,
        tls_hostnames: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
        check_sip_domain: bool = False,
        on_activity: Callable[[], None] | None = None,
        media: MediaEngine | None = None,
    ) -> None:
        config = StreamConfig(tls_server, tls_client, dict(tls_hostnames or {}), connect_timeout,
                              check_sip_domain)  # fmt: skip
        #: The host name a TLS server at an address must prove to be (add
        #: what a later resolution learns).
        self.tls_hostnames = config.tls_hostnames
        super().__init__(machine, local, on_activity=on_activity, media=media, stream=config)
