"""Media through the simulated network: delay, jitter, loss, duplication
and reordering from SimNetwork, the 20 ms media clock on the virtual
clock, and the jitter buffer and concealment doing their work."""

from __future__ import annotations

import random

import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.media import CallMedia
from sansip.media.engine import StreamReported
from sansip.rtp import DtmfReceived
from sansip.sdp import codec_preferences
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.media import MediaHost

RATE = 16000
ALICE, BOB = ("127.0.0.1", 40000), ("127.0.0.2", 42000)


def _call(codec: str = "PCMU", hosts: list[MediaHost] | None = None,
          **net: float) -> tuple[Simulation, CallMedia, CallMedia, CollectSink, CollectSink]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=int(net.pop("seed", 3)), **net))  # type: ignore[arg-type]
    heard_a, heard_b = CollectSink(max_frames=10_000), CollectSink(max_frames=10_000)
    alice = CallMedia(ALICE[0], ALICE[1], codec_preferences(codec=codec), rng=random.Random(1),
                      source=ToneSource(700.0, RATE), sink=heard_a, sample_rate=RATE)  # fmt: skip
    bob = CallMedia(BOB[0], BOB[1], codec_preferences(codec=codec), rng=random.Random(2),
                    source=ToneSource(1700.0, RATE), sink=heard_b, sample_rate=RATE)  # fmt: skip
    alice.receive_answer(bob.answer(alice.offer(), 0.0), 0.0)
    for media, address in ((alice, ALICE), (bob, BOB)):
        host = MediaHost(media, address)
        host.attach(sim)
        host.start(0.0)
        if hosts is not None:
            hosts.append(host)
    return sim, alice, bob, heard_a, heard_b


@pytest.mark.parametrize("codec", ["PCMU", "G722", "opus"])
def test_audio_crosses_a_jittery_lossy_network(codec: str) -> None:
    sim, _alice, bob, heard_a, heard_b = _call(codec, delay=0.04, jitter=0.04, loss=0.03,
                                              duplicate=0.02, reorder=0.02)  # fmt: skip
    sim.run_for(12.0)  # long enough for RTCP reports both ways (5 s apart)
    tail = RATE * 3
    assert dominant_frequency(heard_a.samples()[-tail:], RATE) == pytest.approx(1700, abs=20)
    assert dominant_frequency(heard_b.samples()[-tail:], RATE) == pytest.approx(700, abs=20)
    stats = bob.stream.statistics(sim.now)  # type: ignore[union-attr]
    jb = stats.jitter_buffer
    # The network lost, duplicated and reordered packets; the buffer absorbed it.
    assert stats.rtp.packets_lost > 0 and stats.rtp.duplicates > 0 and jb.reordered > 0
    assert stats.frames_concealed > 0
    assert jb.target_delay_ms >= 20  # it grew to cover the 40 ms of jitter
    assert stats.rtp.rtt is not None and 0.07 < stats.rtp.rtt < 0.2  # RTCP through the same network


def test_without_jitter_the_buffer_stays_small_and_nothing_is_concealed() -> None:
    sim, _, bob, _, heard_b = _call("PCMU", delay=0.02)
    sim.run_for(3.0)
    stats = bob.stream.statistics(sim.now)  # type: ignore[union-attr]
    assert stats.rtp.packets_lost == 0 and stats.frames_concealed == 0
    assert stats.jitter_buffer.current_delay_ms <= 60
    assert len(heard_b.samples()) == 151 * RATE // 50  # one frame per tick (0 to 3 s)


def test_dtmf_survives_loss_thanks_to_the_redundant_end_packets() -> None:
    hosts: list[MediaHost] = []
    sim, alice, _bob, _, _ = _call("PCMU", hosts, delay=0.02, jitter=0.01, loss=0.1, seed=5)
    sim.run_for(0.5)
    alice.stream.send_dtmf("159#", sim.now)  # type: ignore[union-attr]
    sim.run_for(3.0)
    digits = []
    # Stream events come out of the engine that runs the stream.
    while (event := hosts[1].engine.next_event()) is not None:
        if isinstance(event, StreamReported) and isinstance(event.event, DtmfReceived):
            digits.append(event.event.digit)
    assert "".join(digits) == "159#"
