"""L16: exact round trip in network byte order at 8 and 16 kHz."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sansip.audio.codecs import create_decoder, create_encoder
from tests.conftest import examples


def test_samples_go_out_big_endian() -> None:
    payload = create_encoder("L16").encode(np.array([1, -2, 0x1234], dtype=np.int16))
    assert payload == b"\x00\x01\xff\xfe\x12\x34"


@pytest.mark.parametrize("rate", [8000, 16000])
def test_rate_follows_the_rtpmap(rate: int) -> None:
    encoder = create_encoder("l16", clock_rate=rate)
    assert encoder.sample_rate == encoder.clock_rate == rate
    assert encoder.frame_samples == rate // 50
    assert encoder.timestamp_increment(160) == 160


@settings(max_examples=examples(50))
@given(frame=arrays(np.int16, st.integers(1, 640)))
def test_round_trip_is_exact(frame: np.ndarray) -> None:
    decoded = create_decoder("L16").decode(create_encoder("L16").encode(frame))
    np.testing.assert_array_equal(decoded, frame)


@settings(max_examples=examples(50))
@given(payload=st.binary(max_size=700))
def test_any_payload_decodes_and_odd_ones_are_counted(payload: bytes) -> None:
    decoder = create_decoder("L16")
    frame = decoder.decode(payload)
    bad = not payload or len(payload) % 2 == 1
    assert len(frame) == (decoder.frame_samples if bad else len(payload) // 2)
    assert decoder.bad_payloads == int(bad)
