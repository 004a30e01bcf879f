"""The stream converts between its pipeline rate and the codec's rate with one
stateful polyphase resampler per direction: no mark at the frame edges when
going up (8 -> 16 kHz), no aliasing when going down (16 -> 8 kHz).  Both
run a real pair of streams over the simulated network with G.711."""

from __future__ import annotations

import random

import numpy as np
import pytest
from numpy.typing import NDArray

from sansip.audio.frames import CollectSink, FrameSource, SilenceSource
from sansip.audio.resample import Resampler, resample
from sansip.audio.tones import ToneSource
from sansip.media import CallMedia, MediaStream
from sansip.sdp import codec_preferences
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.media import MediaHost

WIDE, NARROW = 16000, 8000
ALICE, BOB = ("127.0.0.1", 40000), ("127.0.0.2", 42000)
WIDE_FRAME = WIDE // 50  # samples of one 20 ms frame at 16 kHz
TONE = 3400.0
PERIOD = 80  # of the 3400 Hz tone at 16 kHz (17 cycles), a quarter of a frame


def _call(
    alice_source: FrameSource, bob_source: FrameSource, *, codec: str = "PCMU"
) -> tuple[Simulation, CallMedia, CollectSink, CollectSink]:
    """Alice runs at 16 kHz, Bob at 8 kHz, both on ``codec``; what each hears."""
    sim = Simulation(VirtualClock(), SimNetwork(seed=3))
    heard_by_alice, heard_by_bob = CollectSink(max_frames=5000), CollectSink(max_frames=5000)
    prefs = codec_preferences(codec=codec)
    alice = CallMedia(ALICE[0], ALICE[1], prefs, rng=random.Random(1), source=alice_source,
                      sink=heard_by_alice, sample_rate=WIDE)  # fmt: skip
    bob = CallMedia(BOB[0], BOB[1], prefs, rng=random.Random(2), source=bob_source,
                    sink=heard_by_bob, sample_rate=NARROW)  # fmt: skip
    alice.receive_answer(bob.answer(alice.offer(), 0.0), 0.0)
    for media, address in ((alice, ALICE), (bob, BOB)):
        host = MediaHost(media, address)
        host.attach(sim)
        host.start(0.0)
    return sim, alice, heard_by_alice, heard_by_bob


def _residual(samples: NDArray[np.int16], hz: float, rate: int) -> NDArray[np.float64]:
    """``samples`` minus the sine at ``hz`` that fits them best."""
    t = np.arange(len(samples)) / rate
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, samples.astype(np.float64), rcond=None)
    residual: NDArray[np.float64] = samples - basis @ coefficients
    return residual


def _edge_error_ratio(residual: NDArray[np.float64], frame: int, period: int,
                      edges: set[int]) -> float:  # fmt: skip
    """How much larger the error is at the frame positions ``edges`` than at
    the positions of the same phase of the tone elsewhere in the frame.

    The tone's period divides the frame, so a converter that carries its
    state over makes the same error at every position of one phase (the
    resampler's own error, and G.711's); only a frame edge can differ.  The
    RMS over all frames, per position, is compared, with 1 LSB added to
    both so that exact zeros compare as equal."""
    frames = residual[: len(residual) // frame * frame].reshape(-1, frame)
    per_position = np.sqrt(np.mean(frames**2, axis=0))
    ratios = []
    for position in sorted(edges):
        same_phase = [p for p in range(position % period, frame, period) if p not in edges]
        elsewhere = float(per_position[same_phase].max())
        ratios.append((float(per_position[position]) + 1.0) / (elsewhere + 1.0))
    return max(ratios)


def _edges(delay: int) -> set[int]:
    """Positions within an output frame within two samples of a frame edge:
    the output's own frame edges and the input's, which come out ``delay``
    samples later."""
    near = range(-2, 3)
    return {(offset + d) % WIDE_FRAME for offset in (0, delay) for d in near}


def test_the_edge_metric_sees_a_resampler_that_forgets_between_frames() -> None:
    """The check below can fail: converting each frame on its own (the
    filter starting empty every frame) leaves errors at the edges."""
    tone = ToneSource(TONE, NARROW, level_dbfs=-20.0)
    frames = [tone.read() for _ in range(150)]
    stateless = np.concatenate([resample(f, NARROW, WIDE) for f in frames])
    residual = _residual(stateless[WIDE:], TONE, WIDE)
    assert _edge_error_ratio(residual, WIDE_FRAME, PERIOD, _edges(0)) > 10.0


def test_upsampling_a_3400_hz_tone_leaves_no_mark_at_the_frame_edges() -> None:
    sim, alice, heard, _ = _call(SilenceSource(WIDE), ToneSource(TONE, NARROW, level_dbfs=-20.0))
    sim.run_for(3.0)
    stream = alice.stream
    assert stream is not None and stream._playback_resampler is not None
    delay = stream._playback_resampler.delay
    samples = heard.samples()[WIDE:]  # after the jitter buffer settled
    residual = _residual(samples, TONE, WIDE)
    ratio = _edge_error_ratio(residual, WIDE_FRAME, PERIOD, _edges(delay))
    assert ratio < 1.05, f"the frame edges have {ratio:.2f} times the error elsewhere"
    # What is left is G.711's own quantisation noise: 30 dB under the tone.
    tone_rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    assert float(np.sqrt(np.mean(residual**2))) < tone_rms / 30


def test_downsampling_a_6_khz_tone_does_not_alias() -> None:
    source = ToneSource(6000.0, WIDE, level_dbfs=-3.0)
    sim, _, _, heard_by_bob = _call(source, SilenceSource(NARROW))
    sim.run_for(3.0)
    sent_rms = float(np.sqrt(np.mean(source.read().astype(np.float64) ** 2)))
    heard = heard_by_bob.samples()[NARROW:].astype(np.float64)
    assert len(heard) >= NARROW
    attenuation_db = 20 * np.log10(sent_rms / max(float(np.sqrt(np.mean(heard**2))), 1e-3))
    assert attenuation_db >= 60.0


def test_a_codec_at_the_pipeline_rate_needs_no_resampler() -> None:
    _, alice, _, _ = _call(SilenceSource(WIDE), SilenceSource(NARROW), codec="G722")
    stream = alice.stream
    assert isinstance(stream, MediaStream)
    assert stream._capture_resampler is None and stream._playback_resampler is None


@pytest.mark.parametrize(("rate", "codec_rate"), [(WIDE, NARROW), (NARROW, WIDE)])
def test_frame_by_frame_is_the_same_as_at_once(rate: int, codec_rate: int) -> None:
    """What the stream relies on: a stateful converter fed 20 ms frames gives
    the same samples as one fed the whole signal."""
    signal = ToneSource([440.0, 3000.0], rate, level_dbfs=-9.0)
    frames = [signal.read() for _ in range(20)]
    framed, whole = Resampler(rate, codec_rate), Resampler(rate, codec_rate)
    pieces = [framed.process(f) for f in frames]
    assert {len(piece) for piece in pieces} == {codec_rate // 50}
    by_frame = np.concatenate(pieces)
    assert np.array_equal(by_frame, whole.process(np.concatenate(frames)))
