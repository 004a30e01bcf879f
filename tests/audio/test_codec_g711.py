"""G.711 PCMU/PCMA: bit-exact with ffmpeg, nearest-level quantization, never crashes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sansip.audio.codecs import create_decoder, create_encoder
from sansip.audio.codecs.g711 import ALAW_DECODE, ULAW_DECODE, decode_payloads, encode_frames
from sansip.errors import LocalProtocolError
from tests.audio.codec_reference import reference_decode, reference_encode, reference_signals
from tests.conftest import examples

NAMES = ("PCMU", "PCMA")
LEVELS = {"PCMU": ULAW_DECODE, "PCMA": ALAW_DECODE}
EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_value_encodes_as_ffmpeg_does(name: str) -> None:
    ours = create_encoder(name).encode(EVERY_SAMPLE)
    assert ours == reference_encode(name, EVERY_SAMPLE)


@pytest.mark.parametrize("name", NAMES)
def test_every_code_decodes_as_ffmpeg_does(name: str) -> None:
    codes = bytes(range(256))
    np.testing.assert_array_equal(create_decoder(name).decode(codes), reference_decode(name, codes))


@pytest.mark.parametrize("name", NAMES)
def test_signals_in_frames_match_ffmpeg_both_ways(name: str) -> None:
    encoder, decoder = create_encoder(name), create_decoder(name)
    for signal in reference_signals(8000, 0.5).values():
        frames = [signal[i : i + 160] for i in range(0, len(signal), 160)]
        payload = b"".join(encoder.encode(frame) for frame in frames)
        assert payload == reference_encode(name, signal)
        chunks = [payload[i : i + 160] for i in range(0, len(payload), 160)]
        decoded = np.concatenate([decoder.decode(chunk) for chunk in chunks])
        np.testing.assert_array_equal(decoded, reference_decode(name, payload))


@pytest.mark.parametrize("name", NAMES)
def test_decoded_sample_is_the_nearest_level(name: str) -> None:
    levels = np.sort(LEVELS[name].astype(np.int64))
    decoded = create_decoder(name).decode(create_encoder(name).encode(EVERY_SAMPLE))
    error = np.abs(decoded.astype(np.int64) - EVERY_SAMPLE)
    nearest = np.min(np.abs(EVERY_SAMPLE.astype(np.int64)[:, None] - levels[None, :]), axis=1)
    # samples and decision points both sit on a 14-bit grid (4 steps of 16 bits):
    # truncating the sample costs up to 3, rounding the decision point up to 3 more
    assert np.all(error <= nearest + 6)
    # and G.711 keeps about 5 bits of relative precision below its largest level
    inside = np.abs(EVERY_SAMPLE.astype(np.int64)) <= levels[-1]
    assert np.all(error[inside] <= (np.abs(EVERY_SAMPLE.astype(np.int64)[inside]) >> 5) + 16)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=examples(50))
@given(frame=arrays(np.int16, st.integers(0, 480)))
def test_round_trip_is_idempotent_and_sized(name: str, frame: np.ndarray) -> None:
    encoder, decoder = create_encoder(name), create_decoder(name)
    payload = encoder.encode(frame)
    assert len(payload) == len(frame)
    if frame.size:
        once = decoder.decode(payload)
        assert decoder.decode(encoder.encode(once)).tolist() == once.tolist()


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=examples(50))
@given(payload=st.binary(max_size=400))
def test_any_payload_decodes(name: str, payload: bytes) -> None:
    decoder = create_decoder(name)
    decoded = decoder.decode(payload)
    assert decoded.dtype == np.int16
    assert len(decoded) == (len(payload) or decoder.frame_samples)
    assert decoder.bad_payloads == (0 if payload else 1)


@settings(max_examples=examples(60))
@given(
    st.sampled_from(NAMES),
    st.lists(arrays(np.int16, st.sampled_from([160, 160, 1, 80, 320])), min_size=1, max_size=6),
)
def test_many_frames_at_once_are_each_frame_alone(name: str, frames: list[np.ndarray]) -> None:
    encoder, decoder = create_encoder(name), create_decoder(name)
    payloads = encode_frames(name, frames)
    assert payloads == [encoder.encode(frame) for frame in frames]
    decoded = decode_payloads(name, payloads)
    assert [d.tobytes() for d in decoded] == [decoder.decode(p).tobytes() for p in payloads]


@pytest.mark.parametrize("name", NAMES)
def test_strided_and_foreign_frames_encode_like_contiguous_ones(name: str) -> None:
    encoder = create_encoder(name)
    strided = EVERY_SAMPLE[::7]
    assert not strided.flags.c_contiguous
    assert encoder.encode(strided) == reference_encode(name, strided.copy())
    with pytest.raises(LocalProtocolError):
        encoder.encode(EVERY_SAMPLE.astype(">i2"))
    with pytest.raises(LocalProtocolError):
        encoder.encode(EVERY_SAMPLE.astype(np.int32))


def _faded_repetition(history: np.ndarray, start: int, faded: int, samples: int,
                      fade: int) -> np.ndarray:  # fmt: skip
    """Repeat-and-fade written out sample by sample."""
    out = []
    for i in range(samples):
        gain = min(max(1.0 - (faded + i) / fade, 0.0), 1.0)
        out.append(round(int(history[(start + i) % len(history)]) * gain))
    return np.array(out, dtype=np.int16)


@settings(max_examples=examples(50))
@given(
    frame=arrays(np.int16, st.integers(1, 200)),
    losses=st.lists(st.integers(0, 500), min_size=1, max_size=6),
)
def test_losses_repeat_the_last_audio_fading_out(frame: np.ndarray, losses: list[int]) -> None:
    decoder = create_decoder("PCMU")
    decoded = decoder.decode(create_encoder("PCMU").encode(frame))
    history = decoded[-160:]  # 20 ms of history at 8 kHz; a 60 ms fade
    position = faded = 0
    for samples in losses:
        expected = _faded_repetition(history, position, faded, samples, 480)
        if faded >= 480:
            expected = np.zeros(samples, dtype=np.int16)
        else:
            position = (position + samples) % len(history)
        np.testing.assert_array_equal(decoder.conceal(samples), expected)
        faded += samples
    assert decoder.concealed_frames == len(losses)
