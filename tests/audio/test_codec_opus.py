"""Opus through libopus: a tone survives, FEC rebuilds a lost frame, bad payloads never raise."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sansip.audio.codecs import (
    OpusDecoder,
    OpusEncoder,
    create_decoder,
    create_encoder,
    opus_unavailable_reason,
)
from sansip.errors import LocalProtocolError
from tests.audio.codec_reference import reference_signals
from tests.conftest import examples


@pytest.fixture(autouse=True)
def _require_opus() -> None:
    reason = opus_unavailable_reason()
    if reason is not None:
        message = f"Opus tests need libopus through pyogg: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _aligned_correlation(reference: np.ndarray, decoded: np.ndarray, max_delay: int) -> float:
    """Normalised correlation of ``decoded`` with ``reference`` at the best codec delay."""
    ref = reference.astype(float)
    out = decoded.astype(float)
    span = len(ref) - max_delay
    scores = np.correlate(out[: span + max_delay], ref[:span], mode="valid")
    delay = int(np.argmax(scores))
    a, b = ref[:span], out[delay : delay + span]
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def _run(encoder: OpusEncoder, pcm: np.ndarray) -> list[bytes]:
    n = encoder.frame_samples
    return [encoder.encode(pcm[i : i + n]) for i in range(0, len(pcm) - n + 1, n)]


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_a_tone_survives_the_round_trip(rate: int) -> None:
    encoder = create_encoder("OPUS", sample_rate=rate, fmtp={"maxaveragebitrate": "32000"})
    decoder = create_decoder("opus", sample_rate=rate)
    assert isinstance(encoder, OpusEncoder) and isinstance(decoder, OpusDecoder)
    t = np.arange(rate) / rate
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    payloads = _run(encoder, tone)
    decoded = np.concatenate([decoder.decode(p) for p in payloads])
    assert len(decoded) == len(payloads) * encoder.frame_samples
    # skip the start-up, then allow up to 10 ms of codec delay
    start = rate // 5
    score = _aligned_correlation(tone[start:], decoded[start:], rate // 100)
    assert score > 0.99
    assert decoder.bad_payloads == 0


def test_rtp_clock_is_48_khz_whatever_the_pcm_rate() -> None:
    encoder = create_encoder("opus", sample_rate=16000, ptime=20)
    assert (encoder.clock_rate, encoder.frame_samples) == (48000, 320)
    assert encoder.timestamp_increment(320) == 960


def test_in_band_fec_rebuilds_a_lost_frame() -> None:
    fmtp = {"useinbandfec": "1", "maxaveragebitrate": "24000"}
    encoder = OpusEncoder(sample_rate=16000, fmtp=fmtp, packet_loss_perc=20)
    # a sweep keeps changing, so guessing from the past (PLC) does poorly on it
    sweep = reference_signals(16000, 1.0)["sweep"]
    payloads = _run(encoder, sweep)
    clean = OpusDecoder(sample_rate=16000)
    expected = [clean.decode(p).astype(float) for p in payloads]

    # SILK does not put redundancy in every packet: judge over several losses
    fec_error = plc_error = 0.0
    rebuilt = 0
    for lost in range(10, 40, 3):
        with_fec, with_plc = OpusDecoder(sample_rate=16000), OpusDecoder(sample_rate=16000)
        for payload in payloads[:lost]:
            with_fec.decode(payload)
            with_plc.decode(payload)
        recovered = with_fec.decode_fec(payloads[lost + 1])
        concealed = with_plc.conceal(320)
        assert len(recovered) == len(concealed) == 320
        assert with_fec.concealed_frames == 1
        rebuilt += not np.array_equal(recovered, concealed)
        fec_error += float(np.mean((recovered - expected[lost]) ** 2))
        plc_error += float(np.mean((concealed - expected[lost]) ** 2))
    # FEC carries the lost frame at a lower bitrate: far closer to it than guessing
    assert rebuilt >= 7
    assert fec_error < 0.2 * plc_error


def test_garbage_payload_is_concealed_and_counted() -> None:
    decoder = OpusDecoder(sample_rate=16000)
    frame = decoder.decode(b"\xff\xff\xff\xff not an opus packet")
    assert frame.dtype == np.int16 and len(frame) == 320
    assert decoder.decode(b"") is not None
    assert (decoder.bad_payloads, decoder.concealed_frames) == (2, 2)
    decoder.reset()
    assert decoder.bad_payloads == 0


def test_unsupported_rate_and_bad_frame_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        OpusEncoder(sample_rate=44100)
    with pytest.raises(LocalProtocolError):
        OpusEncoder(sample_rate=16000).encode(np.zeros(123, dtype=np.int16))
    with pytest.raises(LocalProtocolError):
        OpusDecoder().conceal(0)


def test_fmtp_values_from_the_peer_never_break_creation() -> None:
    fmtp = {"useinbandfec": "yes", "maxaveragebitrate": "-5", "usedtx": "1", "cbr": "1",
            "maxplaybackrate": "16000", "stereo": "1"}  # fmt: skip
    encoder = create_encoder("opus", fmtp=fmtp)
    assert encoder.encode(np.zeros(960, dtype=np.int16))


@settings(max_examples=examples(40))
@given(frame=arrays(np.int16, 320))
def test_encoder_takes_any_frame(frame: np.ndarray) -> None:
    payload = OpusEncoder(sample_rate=16000).encode(frame)
    assert 0 < len(payload) <= 1500


@settings(max_examples=examples(100))
@given(payload=st.binary(max_size=300))
def test_any_payload_decodes_without_raising(payload: bytes) -> None:
    decoder = OpusDecoder(sample_rate=16000)
    frame = decoder.decode(payload)
    assert frame.dtype == np.int16
    assert len(frame) <= 16000 * 120 // 1000
    assert len(decoder.decode_fec(payload)) == 320
