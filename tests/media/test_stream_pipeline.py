"""The audio processing inside a call's stream, chosen by parameters:
pitch-based concealment (``plc``), silence suppression with RFC 3389
comfort noise (``silencesuppress``), gain control (``agc``) and volume
(``volumeout``) — on the simulated network."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency, rms_dbfs
from sansip.audio.frames import CollectSink, FrameSource
from sansip.audio.pipeline import PipelineSettings
from sansip.audio.tones import ToneSource
from sansip.media import CallMedia, MediaSettings
from sansip.sdp import codec_preferences
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.media import MediaHost

RATE = 8000
ALICE, BOB = ("127.0.0.1", 40000), ("127.0.0.2", 42000)
QUIET = PipelineSettings(aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)


class Bursts:
    """A 500 Hz tone for ``on`` seconds, then silence for ``off``, repeated."""

    def __init__(self, on: float, off: float, level_dbfs: float = -10.0) -> None:
        self.tone = ToneSource(500.0, RATE, level_dbfs=level_dbfs)
        self.on, self.off, self.t = on, off, 0.0

    def read(self, now: float | None = None) -> np.ndarray:
        frame = self.tone.read()
        phase = self.t % (self.on + self.off)
        self.t += 0.02
        return frame if phase < self.on else np.zeros_like(frame)


def _call(alice_source: FrameSource, alice: PipelineSettings, bob: PipelineSettings,
          **net: float) -> tuple[Simulation, CallMedia, CallMedia, CollectSink]:  # fmt: skip
    sim = Simulation(VirtualClock(), SimNetwork(seed=int(net.pop("seed", 4)), **net))  # type: ignore[arg-type]
    heard_by_bob = CollectSink(max_frames=20_000)
    prefs = codec_preferences(codec="PCMU")
    a = CallMedia(ALICE[0], ALICE[1], prefs, rng=random.Random(1), source=alice_source,
                  sink=CollectSink(max_frames=10), sample_rate=RATE,
                  settings=MediaSettings(pipeline=alice))  # fmt: skip
    b = CallMedia(BOB[0], BOB[1], prefs, rng=random.Random(2), source=ToneSource(900.0, RATE),
                  sink=heard_by_bob, sample_rate=RATE,
                  settings=MediaSettings(pipeline=bob))  # fmt: skip
    a.receive_answer(b.answer(a.offer(), 0.0), 0.0)
    for media, address in ((a, ALICE), (b, BOB)):
        host = MediaHost(media, address)
        host.attach(sim)
        host.start(0.0)
    return sim, a, b, heard_by_bob


def _error_db(heard: np.ndarray, hz: float) -> float:
    """How far ``heard`` is from the best-fitting sine at ``hz`` (dB below it)."""
    t = np.arange(len(heard)) / RATE
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, heard.astype(np.float64), rcond=None)
    residual = heard - basis @ coef
    return float(10 * np.log10(np.mean(residual**2) / np.mean((basis @ coef) ** 2) + 1e-12))


@pytest.mark.parametrize("plc", [True, False])
def test_concealment_follows_the_plc_parameter(plc: bool) -> None:
    settings = PipelineSettings(plc=plc, aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)
    sim, _, bob, heard = _call(ToneSource(500.0, RATE), QUIET, settings, delay=0.02, loss=0.1)
    sim.run_for(6.0)
    stream = bob.stream
    assert stream is not None and stream.statistics(sim.now).frames_concealed > 10
    concealer = stream._pipeline.concealer if stream._pipeline else None
    assert (concealer is not None and concealer.concealed_frames > 10) is plc
    assert dominant_frequency(heard.samples()[-RATE * 3 :], RATE) == pytest.approx(500, abs=10)


def test_pitch_based_concealment_sounds_closer_than_the_codec_fallback() -> None:
    errors = {}
    for plc in (True, False):
        settings = PipelineSettings(plc=plc, aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)
        sim, _, _, heard = _call(ToneSource(500.0, RATE), QUIET, settings, delay=0.02, loss=0.1)
        sim.run_for(6.0)
        errors[plc] = _error_db(heard.samples()[-RATE * 4 :], 500.0)
    assert errors[True] < errors[False] - 1.5  # dB: the concealed tone stays a tone


def test_silence_suppression_sends_comfort_noise_instead_of_silence() -> None:
    sender = PipelineSettings(aec=0, agc=0, denoise=0, vad=3, silencesuppress=1)
    source = Bursts(on=1.0, off=2.0, level_dbfs=-10.0)
    # The silent part of the source carries faint noise, as a real microphone does.
    noisy = _Noisy(source, level=30)
    sim, alice, _, heard = _call(noisy, sender, QUIET, delay=0.02)
    sim.run_for(9.0)
    assert alice.stream is not None and alice.stream.media.cn_pt is not None  # CN negotiated
    sent = alice.stream.statistics(sim.now).rtp.packets_sent
    assert sent < 0.6 * 450  # far fewer packets than 9 s of 20 ms frames
    samples = heard.samples()
    # During a silence bob plays comfort noise: quiet but not digital silence.
    silence = samples[int(2.0 * RATE) : int(2.8 * RATE)]
    assert -75 < rms_dbfs(silence) < -40
    # The bursts still come through.
    burst = samples[int(3.2 * RATE) : int(3.9 * RATE)]
    assert dominant_frequency(burst, RATE) == pytest.approx(500, abs=10)


class _Noisy:
    def __init__(self, source: FrameSource, level: int) -> None:
        self.source, self.level = source, level
        self.rng = np.random.default_rng(3)

    def read(self, now: float | None = None) -> np.ndarray:
        frame = self.source.read(now).astype(np.int32)
        noise = self.rng.normal(0, self.level, len(frame)).astype(np.int32)
        return np.clip(frame + noise, -32768, 32767).astype(np.int16)


def test_capture_gain_control_brings_a_quiet_source_up() -> None:
    sender = PipelineSettings(aec=0, agc=1, denoise=0, vad=1, silencesuppress=0)
    quiet_talk = _Noisy(Bursts(on=1.0, off=0.5, level_dbfs=-40.0), level=3)
    sim, _, _, heard = _call(quiet_talk, sender, QUIET, delay=0.02)
    sim.run_for(9.0)
    samples = heard.samples()
    burst = samples[int(7.6 * RATE) : int(8.4 * RATE)]  # a burst late in the run
    assert rms_dbfs(burst) == pytest.approx(-18.0, abs=4.0)


def test_volumeout_scales_what_is_played() -> None:
    levels = {}
    for volume in (50, 25):
        settings = PipelineSettings(aec=0, agc=0, denoise=0, vad=1, silencesuppress=0,
                                    volumeout=volume)  # fmt: skip
        sim, _, _, heard = _call(ToneSource(500.0, RATE), QUIET, settings, delay=0.02)
        sim.run_for(2.0)
        levels[volume] = rms_dbfs(heard.samples()[-RATE:])
    assert levels[25] < levels[50] - 10


def test_opus_keeps_its_own_concealment() -> None:
    """Opus conceals with its decoder (and FEC): the pitch concealer, with its
    look-ahead delay, is not put in front of it."""
    prefs = codec_preferences(codec="opus")
    settings = MediaSettings(pipeline=PipelineSettings(plc=True))
    a = CallMedia(ALICE[0], ALICE[1], prefs, rng=random.Random(1), source=ToneSource(500.0, RATE),
                  sink=CollectSink(max_frames=10), sample_rate=RATE, settings=settings)  # fmt: skip
    b = CallMedia(BOB[0], BOB[1], prefs, rng=random.Random(2), source=ToneSource(900.0, RATE),
                  sink=CollectSink(max_frames=10), sample_rate=RATE, settings=settings)  # fmt: skip
    a.receive_answer(b.answer(a.offer(), 0.0), 0.0)
    for media in (a, b):
        stream = media.stream
        assert stream is not None and stream.codec == "opus"
        assert stream._pipeline is not None and stream._pipeline.concealer is None
