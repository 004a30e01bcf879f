"""The codec registry and the shared waveform-repeat concealment."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sansip.audio.codecs import (
    CODEC_NAMES,
    Decoder,
    Encoder,
    RepeatFadeConcealer,
    available_codecs,
    create_decoder,
    create_encoder,
    opus_unavailable_reason,
)
from sansip.errors import LocalProtocolError

EXPECTED = {  # name -> (sample_rate, clock_rate)
    "PCMU": (8000, 8000),
    "PCMA": (8000, 8000),
    "G722": (16000, 8000),
    "opus": (48000, 48000),
    "L16": (16000, 16000),
}


@pytest.mark.parametrize("name", sorted(available_codecs()))
@pytest.mark.parametrize("spelling", [str.upper, str.lower, str.title])
def test_names_are_case_insensitive(name: str, spelling: Callable[[str], str]) -> None:
    encoder, decoder = create_encoder(spelling(name)), create_decoder(spelling(name), ptime=30)
    assert isinstance(encoder, Encoder) and isinstance(decoder, Decoder)
    assert encoder.name == decoder.name == name
    assert (encoder.sample_rate, encoder.clock_rate) == EXPECTED[name]
    assert encoder.channels == decoder.channels == 1
    assert decoder.frame_samples == EXPECTED[name][0] * 30 // 1000


def test_opus_is_listed_only_when_it_loads() -> None:
    assert ("opus" in available_codecs()) == (opus_unavailable_reason() is None)
    assert set(available_codecs()) <= set(CODEC_NAMES)


@pytest.mark.parametrize("name", ["G729", "", "speex", "PCMU2"])
def test_unknown_codec_is_a_local_error(name: str) -> None:
    with pytest.raises(LocalProtocolError, match="unknown codec"):
        create_encoder(name)
    with pytest.raises(LocalProtocolError):
        create_decoder(name)


def test_clock_rate_is_checked_against_the_codec() -> None:
    with pytest.raises(LocalProtocolError):
        create_encoder("PCMU", clock_rate=16000)
    with pytest.raises(LocalProtocolError):
        create_decoder("L16", clock_rate=11025)
    assert create_encoder("G722", clock_rate=8000).sample_rate == 16000


def test_bad_frames_are_local_errors() -> None:
    encoder = create_encoder("PCMU")
    with pytest.raises(LocalProtocolError):
        encoder.encode(np.zeros(160, dtype=np.float32))
    with pytest.raises(LocalProtocolError):
        encoder.encode(np.zeros((2, 80), dtype=np.int16))
    with pytest.raises(LocalProtocolError):
        create_encoder("PCMA", ptime=0)


@pytest.mark.parametrize("name", ["PCMU", "PCMA", "G722", "L16"])
def test_a_lost_frame_repeats_the_last_audio_then_fades(name: str) -> None:
    encoder, decoder = create_encoder(name), create_decoder(name)
    n = decoder.frame_samples
    t = np.arange(n) / decoder.sample_rate
    tone = (10000 * np.sin(2 * np.pi * 500 * t)).astype(np.int16)
    decoder.decode(encoder.encode(tone))
    first, second = decoder.conceal(n), decoder.conceal(n)
    levels = [float(np.sqrt(np.mean(f.astype(float) ** 2))) for f in (first, second)]
    assert levels[0] > 1000 and levels[1] < levels[0]
    for _ in range(3):
        last = decoder.conceal(n)
    assert not np.any(last)
    assert decoder.concealed_frames == 5
    decoder.reset()
    assert decoder.concealed_frames == 0
    assert not np.any(decoder.conceal(n))


def test_concealer_fades_over_its_fade_time() -> None:
    concealer = RepeatFadeConcealer(8000, fade_ms=40, history_ms=10)
    concealer.remember(np.full(160, 1000, dtype=np.int16))
    filled = np.concatenate([concealer.conceal(80) for _ in range(5)])
    assert filled[0] == 1000
    assert np.all(np.diff(filled.astype(int)) <= 0)
    assert filled[319] < 10 and not np.any(filled[320:])
    assert len(concealer.conceal(0)) == 0
    with pytest.raises(LocalProtocolError):
        concealer.conceal(-1)
