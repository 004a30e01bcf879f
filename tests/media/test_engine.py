"""The media engine, sans-IO: ports asked for and bound (retrying taken
ones), the grid (on time, catching up, restarting), RTCP routed to its own
socket, a stream that raises closed with an event while the others go on,
bounded events, and stray or early datagrams counted."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.audio.frames import AudioFrame, CollectSink
from sansip.audio.tones import ToneSource
from sansip.errors import LocalProtocolError
from sansip.media import CallMedia, MediaSettings
from sansip.media.engine import (
    EARLY_RECORDS,
    MAX_CATCH_UP,
    MAX_EVENTS,
    MediaEngine,
    MediaPort,
    PortsFailed,
    PortsOpened,
    PortState,
    StreamFailed,
    StreamReported,
    TickGrid,
)
from sansip.rtp import DtmfReceived, is_rtcp
from sansip.sdp import codec_preferences
from tests.conftest import examples


def _bind_all(engine: MediaEngine, taken: set[int] = frozenset()) -> list[tuple[int, str, int]]:  # type: ignore[assignment]
    """Answer the engine's socket requests like a kernel with ``taken`` ports in use."""
    bound = []
    while requests := engine.sockets_to_open():
        for request in requests:
            if request.port in taken:
                engine.socket_failed(request.socket_id, "Address already in use")
            else:
                taken = taken | {request.port}
                bound.append((request.socket_id, request.host, request.port))
                engine.socket_opened(request.socket_id, request.port)
    return bound


def test_a_port_pair_is_an_even_port_and_the_next_one() -> None:
    engine = MediaEngine(rng=random.Random(1))
    port = engine.open_ports("127.0.0.1")
    assert port.state is PortState.OPENING
    bound = _bind_all(engine)
    assert [b[2] for b in bound] == [port.rtp_port, port.rtp_port + 1]
    assert port.rtp_port % 2 == 0 and 16384 <= port.rtp_port <= 32766
    assert port.state is PortState.OPEN
    assert engine.next_event() == PortsOpened(port)
    assert sorted(port.sockets) == sorted(b[0] for b in bound)


def test_taken_ports_are_retried_then_given_up() -> None:
    engine = MediaEngine(rng=random.Random(2), port_range=(20000, 20010), bind_attempts=50)
    # RTCP of 20000 is taken: the RTP socket is released and another pair tried.
    port = engine.open_ports("127.0.0.1")
    bound = _bind_all(engine, taken={20001, 20003, 20005, 20007})
    assert port.state is PortState.OPEN and port.rtp_port in (20008, 20010)
    released = set(engine.sockets_to_close())
    assert released and released.isdisjoint(port.sockets)
    assert {b[0] for b in bound} - released == set(port.sockets)
    # Every port taken: after bind_attempts tries, PortsFailed.
    engine = MediaEngine(rng=random.Random(3), port_range=(20000, 20010), bind_attempts=7)
    port = engine.open_ports("127.0.0.1")
    _bind_all(engine, taken=set(range(20000, 20012)))
    assert port.state is PortState.FAILED
    event = list(iter(engine.next_event, None))[-1]
    assert isinstance(event, PortsFailed) and "Address already in use" in event.reason
    # An explicit port is tried once.
    port = engine.open_ports("127.0.0.1", 20004)
    _bind_all(engine, taken={20004})
    assert port.state is PortState.FAILED
    with pytest.raises(LocalProtocolError):
        engine.open_ports("127.0.0.1", 20005)  # odd


def test_the_grid_catches_up_then_restarts() -> None:
    grid = TickGrid(100.0, 0.020)
    assert grid.due(99.999) == []
    assert grid.due(100.0) == [100.0]
    assert grid.due(100.019) == []
    assert grid.due(100.065) == [100.0 + 1 * 0.020, 100.0 + 2 * 0.020, 100.0 + 3 * 0.020]
    assert (grid.late_ticks, grid.restarts) == (2, 0)
    assert grid.next_due == 100.0 + 4 * 0.020
    late = grid.due(101.0)  # a long stall: MAX_CATCH_UP ticks, then a new grid
    assert late == [100.0 + n * 0.020 for n in range(4, 4 + MAX_CATCH_UP)]
    assert (grid.late_ticks, grid.restarts) == (2 + MAX_CATCH_UP - 1, 1)
    assert grid.next_due == 101.0
    assert grid.due(101.0) == [101.0]
    assert grid.due(101.02) == [101.0 + 0.020]


@settings(max_examples=examples(200))
@given(
    start=st.floats(0, 1e6, allow_nan=False),
    steps=st.lists(st.floats(0, 0.3, allow_nan=False), max_size=60),
)
def test_grid_ticks_are_in_order_never_early_and_bounded(start: float, steps: list[float]) -> None:
    grid = TickGrid(start, 0.020)
    now, last = start, None
    for step in steps:
        now += step
        before, restarts = grid.next_due, grid.restarts
        ticks = grid.due(now)
        assert len(ticks) <= MAX_CATCH_UP
        assert all(t <= now for t in ticks)
        assert ticks == sorted(ticks) and (last is None or not ticks or ticks[0] > last)
        if ticks:
            assert ticks[0] == before  # no slot skipped within a grid
            last = ticks[-1]
        assert grid.next_due > now or grid.restarts == restarts + 1
        assert grid.restarts in (restarts, restarts + 1)


class _Sink(CollectSink):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(max_frames=500)
        self.fail_at, self.writes = fail_at, 0

    def write(self, frame: AudioFrame) -> None:
        self.writes += 1
        if self.fail_at is not None and self.writes >= self.fail_at:
            raise RuntimeError("sink broke")
        super().write(frame)


class _Pair:
    """Two calls' legs on one engine, their sockets wired to each other in memory."""

    def __init__(self, engine: MediaEngine, sinks: list[_Sink], now: float = 0.0, *,
                 codec: str = "PCMU", ptime: int = 20, seed: int = 0) -> None:  # fmt: skip
        self.engine = engine
        self.sinks = sinks
        self.ports: list[MediaPort] = []
        self.addresses: dict[int, tuple[str, int]] = {}
        for _ in range(2):
            port = engine.open_ports("127.0.0.1")
            for socket_id, host, number in _bind_all(engine):
                self.addresses[socket_id] = (host, number)
            self.ports.append(port)
        self.media = [
            CallMedia("127.0.0.1", p.rtp_port, codec_preferences(codec=codec), ptime=ptime,
                      rng=random.Random(seed + i), source=ToneSource(500.0 + 300 * i, 8000), sink=s)
            for i, (p, s) in enumerate(zip(self.ports, sinks, strict=True))
        ]  # fmt: skip
        self.media[0].receive_answer(self.media[1].answer(self.media[0].offer(), now), now)
        for port, media in zip(self.ports, self.media, strict=True):
            assert media.stream is not None
            engine.start(port, media.stream, now)
        self.sent: list[tuple[int, bytes, tuple[str, int]]] = []

    def run(self, until: float, *, lose: Callable[[bytes], bool] = lambda data: False) -> None:
        """Tick to ``until``, delivering every datagram at once (but those ``lose`` says)."""
        by_address = {addr: sid for sid, addr in self.addresses.items()}
        while (due := self.engine.get_timer()) is not None and due <= until:
            self.engine.handle_timer(due)
            for socket_id, data, dest in self.engine.datagrams_to_send():
                self.sent.append((socket_id, data, dest))
                if dest in by_address and not lose(data):
                    self.engine.receive_datagram(by_address[dest], data,
                                                 self.addresses[socket_id], due)  # fmt: skip


def test_rtcp_leaves_on_the_rtcp_socket_and_rtp_on_the_rtp_socket() -> None:
    pair = _Pair(MediaEngine(rng=random.Random(4)), [_Sink(), _Sink()])
    pair.run(12.0)
    rtcp_sockets = {p.sockets[1] for p in pair.ports}
    rtcp = [s for s in pair.sent if is_rtcp(s[1])]
    assert rtcp and all(sid in rtcp_sockets for sid, _, _ in rtcp)
    assert all(sid not in rtcp_sockets for sid, data, _ in pair.sent if not is_rtcp(data))
    assert pair.engine.late_ticks == 0 and pair.engine.faults == 0


def test_a_stream_that_raises_is_closed_and_the_others_go_on() -> None:
    engine = MediaEngine(rng=random.Random(5))
    healthy = _Pair(engine, [_Sink(), _Sink()])
    broken = _Pair(engine, [_Sink(fail_at=10), _Sink()])
    healthy.run(0.5)
    broken.run(0.5)
    events = list(iter(engine.next_event, None))
    failures = [e for e in events if isinstance(e, StreamFailed)]
    assert [f.port for f in failures] == [broken.ports[0]]
    assert "sink broke" in failures[0].reason
    assert broken.ports[0].state is PortState.FAILED and not broken.ports[0].sockets
    assert set(engine.sockets_to_close()) >= set(broken.addresses) - set(broken.ports[1].sockets)
    before = len(healthy.media[0].stream.sink.samples())  # type: ignore[union-attr]
    healthy.run(1.0)
    after = len(healthy.media[0].stream.sink.samples())  # type: ignore[union-attr]
    assert after - before == 25 * 160  # 25 more frames played
    assert engine.faults == 1
    with pytest.raises(LocalProtocolError):
        engine.command(broken.ports[0], lambda s: s.codec, 1.0)


def test_the_g711_batch_sends_and_plays_what_each_stream_alone_would() -> None:
    """The engine encodes and decodes its PCMU and PCMA streams' frames of a
    tick at once; the same calls ticked one stream at a time (no batch) send
    the same bytes and play the same samples, with loss, DTMF and G.722 too."""
    worlds = []
    for batched in (True, False):
        engine = MediaEngine(rng=random.Random(8))
        if not batched:
            engine._batch = None  # type: ignore[assignment]  # each stream on its own
        pairs = [_Pair(engine, [_Sink(), _Sink()], codec=codec, ptime=ptime, seed=10 * i)
                 for i, (codec, ptime) in enumerate([("PCMU", 20), ("PCMA", 20), ("PCMU", 40),
                                                     ("G722", 20), ("PCMA", 20)])]  # fmt: skip
        lossy = random.Random(3)

        def lose(data: bytes, lossy: random.Random = lossy) -> bool:
            return lossy.random() < 0.05

        for step in range(1, 31):
            for pair in pairs:
                pair.run(step * 0.1, lose=lose)
            if step == 5:
                engine.command(pairs[1].ports[0], lambda s: s.send_dtmf("7", 0.5), 0.5)
        worlds.append([(pair.sent, [s.samples().tobytes() for s in pair.sinks]) for pair in pairs])
        assert engine.faults == 0
    assert worlds[0] == worlds[1]
    played = worlds[0][0][1][1]
    assert len(played) >= 2 * 140 * 160  # PCMU, 20 ms: nearly 3 s of 16-bit samples


def test_dtmf_is_reported_through_the_engine_and_commands_flush() -> None:
    pair = _Pair(MediaEngine(rng=random.Random(6)), [_Sink(), _Sink()])
    pair.run(0.2)
    pair.engine.command(pair.ports[0], lambda s: s.send_dtmf("42", 0.2), 0.2)
    pair.run(1.5)
    digits = [e.event.digit for e in iter(pair.engine.next_event, None)
              if isinstance(e, StreamReported) and isinstance(e.event, DtmfReceived)]  # fmt: skip
    assert digits == ["4", "2"]


def test_stray_and_early_datagrams_are_counted_and_events_bounded() -> None:
    engine = MediaEngine(rng=random.Random(7))
    port = engine.open_ports("127.0.0.1")
    _bind_all(engine)
    engine.receive_datagram(port.sockets[0], b"\x80" + bytes(20), ("127.0.0.1", 9), 0.0)
    engine.receive_datagram(999, b"x", ("127.0.0.1", 9), 0.0)
    assert (port.dropped, engine.stray) == (1, 0 + 1)
    engine.close(port, 0.0)
    assert port.state is PortState.CLOSED and set(engine.sockets_to_close()) == {1, 2}
    engine.receive_datagram(1, b"x", ("127.0.0.1", 9), 0.0)
    assert engine.stray == 2
    # Reports nobody reads are bounded: the oldest stream reports go first.
    for _ in range(MAX_EVENTS + 10):
        engine._report(StreamReported(port, DtmfReceived("1", 0.1, 10)))
    assert len(engine._events) == MAX_EVENTS and engine.events_dropped >= 10
    with pytest.raises(LocalProtocolError):
        engine.start(port, None, 0.0)  # type: ignore[arg-type]


class _Recorder:
    """A stand-in stream that records what it is handed."""

    def __init__(self) -> None:
        self.settings = MediaSettings()
        self.received: list[tuple[bytes, tuple[str, int], bool]] = []

    def receive_datagram(self, data: bytes, addr: tuple[str, int], now: float, *,
                         rtcp: bool = False) -> None:  # fmt: skip
        self.received.append((data, addr, rtcp))


def test_dtls_records_that_come_before_the_stream_are_kept_for_it() -> None:
    """A peer's ClientHello may outrun its SDP answer: the port keeps the
    DTLS records (only those, only on the RTP socket, a bounded few) and
    hands them to the stream when it starts."""
    engine = MediaEngine(rng=random.Random(6))
    port = engine.open_ports("127.0.0.1")
    _bind_all(engine)
    rtp_socket, rtcp_socket = port.sockets
    peer = ("127.0.0.1", 40000)
    hello = b"\x16\xfe\xfd" + bytes(10)  # a DTLS handshake record
    engine.receive_datagram(rtp_socket, hello, peer, 0.0)
    engine.receive_datagram(rtp_socket, b"\x80\x00" + bytes(20), peer, 0.0)  # RTP: dropped
    engine.receive_datagram(rtcp_socket, hello, peer, 0.0)  # on the RTCP socket: dropped
    for _ in range(20):
        engine.receive_datagram(rtp_socket, hello + b"x", peer, 0.0)
    stream = _Recorder()
    engine.start(port, stream, 0.1)  # type: ignore[arg-type]
    assert stream.received[0] == (hello, peer, False)
    assert len(stream.received) == EARLY_RECORDS and port.dropped == 2 + 21 - EARLY_RECORDS
