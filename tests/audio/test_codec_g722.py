"""G.722: bit-exact with ffmpeg in both directions, framing-independent, never crashes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sansip.audio.codecs import G722Decoder, G722Encoder, create_decoder, create_encoder
from sansip.errors import LocalProtocolError
from tests.audio.codec_reference import reference_decode, reference_encode, reference_signals
from tests.conftest import examples

SIGNALS = reference_signals(16000, 0.75)


def _encode_in_frames(pcm: np.ndarray, frame: int = 320) -> bytes:
    encoder = create_encoder("G722")
    return b"".join(encoder.encode(pcm[i : i + frame]) for i in range(0, len(pcm), frame))


def _decode_in_frames(payload: bytes, frame: int = 160) -> np.ndarray:
    decoder = create_decoder("G722")
    chunks = [payload[i : i + frame] for i in range(0, len(payload), frame)]
    return np.concatenate([decoder.decode(chunk) for chunk in chunks])


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_encoding_matches_ffmpeg(signal: str) -> None:
    pcm = SIGNALS[signal]
    assert _encode_in_frames(pcm) == reference_encode("G722", pcm)


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_decoding_matches_ffmpeg(signal: str) -> None:
    payload = reference_encode("G722", SIGNALS[signal])
    np.testing.assert_array_equal(_decode_in_frames(payload), reference_decode("G722", payload))


def test_decoding_random_codes_matches_ffmpeg() -> None:
    # codes an encoder would rarely emit drive the predictor into its limits
    payload = np.random.default_rng(3).integers(0, 256, 8000, dtype=np.uint8).tobytes()
    np.testing.assert_array_equal(_decode_in_frames(payload), reference_decode("G722", payload))


def test_round_trip_keeps_a_tone() -> None:
    t = np.arange(16000) / 16000
    tone = (10000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    decoded = _decode_in_frames(_encode_in_frames(tone)).astype(float)
    # the two QMFs together delay the signal by 22 samples
    error = decoded[1000 + 22 :] - tone[1000 : len(tone) - 22]
    snr = 10 * np.log10(np.mean(tone[1000:].astype(float) ** 2) / np.mean(error**2))
    assert snr > 25


def test_rtp_clock_is_half_the_sample_rate() -> None:
    encoder = create_encoder("g722")
    assert (encoder.sample_rate, encoder.clock_rate, encoder.frame_samples) == (16000, 8000, 320)
    assert encoder.timestamp_increment(320) == 160


def test_odd_frame_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        G722Encoder().encode(np.zeros(3, dtype=np.int16))


def test_reset_starts_over() -> None:
    encoder, pcm = G722Encoder(), SIGNALS["vowel"][:640]
    first = encoder.encode(pcm)
    assert encoder.encode(pcm) != first
    encoder.reset()
    assert encoder.encode(pcm) == first


@settings(max_examples=examples(30))
@given(
    frame=arrays(np.int16, st.integers(0, 160).map(lambda n: 2 * n)),
    split=st.integers(0, 160),
)
def test_encoder_output_is_half_the_samples_and_independent_of_framing(
    frame: np.ndarray, split: int
) -> None:
    whole = G722Encoder().encode(frame)
    assert len(whole) == len(frame) // 2
    cut = min(2 * split, len(frame))
    encoder = G722Encoder()
    assert encoder.encode(frame[:cut]) + encoder.encode(frame[cut:]) == whole


@settings(max_examples=examples(30))
@given(payload=st.binary(max_size=200))
def test_any_payload_decodes(payload: bytes) -> None:
    decoder = G722Decoder()
    decoded = decoder.decode(payload)
    assert decoded.dtype == np.int16
    assert len(decoded) == (2 * len(payload) if payload else decoder.frame_samples)
    assert decoder.bad_payloads == (0 if payload else 1)
