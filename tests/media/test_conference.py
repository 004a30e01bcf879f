"""A local conference: the host's three calls (PCMU at 8 kHz, G.722 at
16 kHz, Opus at 48 kHz) meet in the mixer; each remote party hears the two
others and not itself, and the host's own microphone reaches all three —
on the simulated network."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sansip.audio.analysis import tone_present
from sansip.audio.frames import CollectSink
from sansip.audio.mixer import ConferenceMixer
from sansip.audio.tones import ToneSource
from sansip.media import CallMedia
from sansip.sdp import codec_preferences
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.media import MediaHost

PARTIES = {  # name: (codec, its own rate, the tone it sends)
    "pcmu": ("PCMU", 8000, 600.0),
    "g722": ("G722", 16000, 1100.0),
    "opus": ("opus", 48000, 1700.0),
}
HOST_TONE = 350.0


def test_three_calls_of_three_codecs_in_one_conference() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=2, delay=0.02, jitter=0.005))
    mixer = ConferenceMixer(rate=16000)
    mixer.add_local_party(ToneSource(HOST_TONE, 16000), None)
    heard: dict[str, CollectSink] = {}
    for index, (name, (codec, rate, hz)) in enumerate(PARTIES.items()):
        port = mixer.add_party(name, rate=rate)
        prefs = codec_preferences(codec=codec)
        host_leg = CallMedia("127.0.0.1", 40000 + 10 * index, prefs, rng=random.Random(index),
                             source=port.source, sink=port.sink, sample_rate=rate)  # fmt: skip
        heard[name] = CollectSink(max_frames=5000)
        tone = ToneSource(hz, rate)
        remote = CallMedia(f"127.0.0.{index + 2}", 42000, prefs, rng=random.Random(50 + index),
                           source=tone, sink=heard[name], sample_rate=rate)  # fmt: skip
        host_leg.receive_answer(remote.answer(host_leg.offer(), 0.0), 0.0)
        for media, address in ((host_leg, ("127.0.0.1", 40000 + 10 * index)),
                               (remote, (f"127.0.0.{index + 2}", 42000))):  # fmt: skip
            host = MediaHost(media, address)
            host.attach(sim)
            host.start(0.0)
    sim.run_for(3.0)
    for name, (_, rate, own) in PARTIES.items():
        samples = heard[name].samples()[-rate:]
        others = [hz for other, (_, _, hz) in PARTIES.items() if other != name]
        for hz in [*others, HOST_TONE]:
            assert tone_present(samples, rate, hz), f"{name} does not hear {hz} Hz"
        assert not tone_present(samples, rate, own), f"{name} hears itself"
    assert mixer.ticks >= 140  # one mix per 20 ms tick, whatever order the streams tick in


@pytest.mark.parametrize("muted", ["g722"])
def test_a_muted_party_is_not_heard(muted: str) -> None:
    mixer = ConferenceMixer(rate=16000)
    ports = {name: mixer.add_party(name, rate=rate) for name, (_, rate, _) in PARTIES.items()}
    mixer.set_mute(muted, True)
    tones = {name: ToneSource(hz, rate) for name, (_, rate, hz) in PARTIES.items()}
    out: dict[str, list[np.ndarray]] = {name: [] for name in PARTIES}
    for _ in range(50):
        frames = {name: tones[name].read() for name in PARTIES}
        mixed = mixer.mix(frames)
        for name in PARTIES:
            out[name].append(mixed[name])
    pcmu = np.concatenate(out["pcmu"][-25:])
    assert tone_present(pcmu, 8000, 1700.0) and not tone_present(pcmu, 8000, 1100.0)
    assert ports[muted].party_id == muted
