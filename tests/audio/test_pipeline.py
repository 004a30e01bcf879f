"""Which blocks the audio pipeline runs, by parameter (``aec``, ``vad``, ...), and
that whatever it is fed it returns bounded frames of the same size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sansip.audio.cng import SuppressorAction
from sansip.audio.pipeline import AudioPipeline, PipelineSettings
from sansip.errors import LocalProtocolError
from tests.conftest import examples


def _pipeline(**values: int | bool) -> AudioPipeline:
    return AudioPipeline(8000, 160, PipelineSettings(**values))  # type: ignore[arg-type]


def test_defaults_follow_spec() -> None:
    p = _pipeline()
    assert p.echo is not None  # aec 1: on unless a headset is known
    assert p.capture_agc is not None and p.playback_agc is None  # agc 3: auto = capture
    assert p.capture_denoise is not None and p.playback_denoise is None
    assert p.concealer is not None  # plc on
    assert p.playback_vad is not None and p.capture_vad is None  # vad 2: playback side
    assert not p.suppressor.enabled  # silencesuppress -1 without a narrow link


@pytest.mark.parametrize(
    ("values", "echo"),
    [({"aec": 0}, False), ({"aec": 1, "headset": True}, False), ({"aec": 2, "headset": True}, True),
     ({"aec": 3}, True)],
)  # fmt: skip
def test_aec_modes(values: dict[str, int | bool], echo: bool) -> None:
    assert (_pipeline(**values).echo is not None) is echo


@pytest.mark.parametrize(
    ("value", "capture", "playback"), [(0, False, False), (1, True, False), (2, True, True),
                                       (3, True, False)],
)  # fmt: skip
def test_agc_and_denoise_sides(value: int, capture: bool, playback: bool) -> None:
    p = _pipeline(agc=value, denoise=value)
    assert (p.capture_agc is not None, p.playback_agc is not None) == (capture, playback)
    assert (p.capture_denoise is not None, p.playback_denoise is not None) == (capture, playback)


@pytest.mark.parametrize(
    ("vad", "capture", "playback"), [(0, False, True), (1, False, False), (2, False, True),
                                     (3, True, False), (4, True, True)],
)  # fmt: skip
def test_vad_sides(vad: int, capture: bool, playback: bool) -> None:
    p = _pipeline(vad=vad, silencesuppress=0)
    assert (p.capture_vad is not None, p.playback_vad is not None) == (capture, playback)


def test_silence_suppression_needs_the_capture_vad_and_suppresses_silence() -> None:
    p = _pipeline(vad=1, silencesuppress=1, aec=0, agc=0, denoise=0)
    assert p.capture_vad is not None and p.suppressor.enabled
    noise = np.random.default_rng(1).normal(0, 20, 160 * 40).astype(np.int16)
    actions = [p.capture(noise[i : i + 160])[1].action for i in range(0, len(noise), 160)]
    assert SuppressorAction.COMFORT_NOISE in actions and SuppressorAction.NOTHING in actions
    auto = PipelineSettings(silencesuppress=-1, low_bandwidth=True)
    assert auto.comfort_noise and not PipelineSettings(silencesuppress=-1).comfort_noise


def test_plc_off_leaves_concealment_to_the_codec() -> None:
    p = _pipeline(plc=False)
    assert p.conceal(160) is None
    assert _pipeline().conceal(160) is not None


def test_parameters_from_the_command_line() -> None:
    s = PipelineSettings.from_params({"plc": "false", "aec": "3", "volumeout": "25"})
    assert s.plc is False and s.aec == 3 and s.volumeout == 25 and s.agc == 3
    base = PipelineSettings(agc=0)
    assert PipelineSettings.from_params({}, base).agc == 0
    with pytest.raises(LocalProtocolError):
        PipelineSettings.from_params({"agc": "loud"})


@settings(max_examples=examples(25))
@given(frames=st.lists(arrays(np.int16, 160), min_size=1, max_size=8))
def test_every_block_on_returns_bounded_frames(frames: list[np.ndarray]) -> None:
    p = _pipeline(vad=4, aec=3, agc=2, denoise=2, silencesuppress=1)
    for frame in frames:
        out, _ = p.capture(frame)
        assert out.dtype == np.int16 and len(out) == 160
        played = p.playback(p.received(frame))
        assert played.dtype == np.int16 and len(played) == 160
        concealed = p.conceal(160)
        assert concealed is not None and len(concealed) == 160
