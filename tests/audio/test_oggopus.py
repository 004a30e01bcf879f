"""Ogg Opus recorder and player: ffmpeg/ffprobe and libopusfile accept the files, tones survive."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from sansip.audio import oggopus
from sansip.audio.analysis import dominant_frequency
from sansip.audio.bytesink import MemorySink
from sansip.audio.frames import FrameSink, FrameSource
from sansip.audio.oggopus import (
    OggOpusFileError,
    OggOpusReader,
    OggOpusWriter,
    oggopus_unavailable_reason,
)
from sansip.audio.oggpages import ogg_crc
from sansip.errors import LocalProtocolError
from sansip.io.file_writer import FileSink
from tests.conftest import examples


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _require_libraries(request: pytest.FixtureRequest) -> None:
    if request.node.name == "test_missing_libraries_name_the_debian_packages":
        return
    reason = oggopus_unavailable_reason()
    if reason is not None:
        _missing(f"Ogg Opus tests need libopus and libogg through pyogg: {reason}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _missing(f"{name} not found on PATH: the Ogg Opus references need it")
    assert path is not None
    return path


def _tone(rate: int, seconds: float, frequency: float, level: float = 8000) -> NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def _writer(path: Path, rate: int, **options: Any) -> OggOpusWriter:
    """A writer to ``path`` (a serial number from a seeded random source unless given)."""
    if "serial_number" not in options:
        options.setdefault("random", random.Random(0))
    return OggOpusWriter(FileSink(path), rate, **options)


def _record(path: Path, pcm: NDArray[np.int16], rate: int, **options: Any) -> OggOpusWriter:
    """Write ``pcm`` (samples, or samples x 2) in 20 ms frames; returns the closed writer."""
    step = rate // 50
    with _writer(path, rate, **options) as writer:
        for start in range(0, len(pcm), step):
            writer.write(pcm[start : start + step])
    return writer


def _probe(path: Path) -> dict[str, str]:
    result = subprocess.run(
        [_tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert result.stderr == ""
    info = json.loads(result.stdout)
    assert len(info["streams"]) == 1
    return {**info["streams"][0], "format_duration": info["format"]["duration"]}


def _ffmpeg_decode(path: Path, rate: int, channels: int) -> NDArray[np.int16]:
    result = subprocess.run(
        [_tool("ffmpeg"), "-hide_banner", "-v", "error", "-nostdin", "-i", path,
         "-f", "s16le", "-ar", str(rate), "-ac", str(channels), "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert result.stderr == b""
    return np.frombuffer(result.stdout, dtype="<i2").reshape(-1, channels).astype(np.int16)


def _play(path: Path, rate: int, *, stereo: bool = False) -> NDArray[np.int16]:
    """What our reader decodes, as (samples, 2) when ``stereo`` (the zero padding of the
    last frame cut off after checking it)."""
    frames = []
    with OggOpusReader(path, rate) as reader:
        while not reader.finished:
            frames.append(np.stack(reader.read_stereo(), axis=1) if stereo else reader.read())
            assert len(frames) < 100_000
        assert reader.finished
        total = reader.samples_decoded
    if not frames:
        return np.zeros((0, 2) if stereo else 0, dtype=np.int16)
    played = np.concatenate(frames)
    assert len(played) - len(frames[0]) < total <= len(played) or total == 0
    assert not np.any(played[total:])
    return played[:total]


def _pages(data: bytes) -> list[tuple[int, int, int, int, list[int], bytes]]:
    """(flags, granule, serial, sequence, lacing, body) of every page, checked to tile the file."""
    return [page for _offset, page in _located_pages(data)]


def _located_pages(data: bytes) -> list[tuple[int, tuple[int, int, int, int, list[int], bytes]]]:
    pages, offset = [], 0
    while offset < len(data):
        assert data[offset : offset + 5] == b"OggS\0"
        flags, granule, serial, sequence, crc, count = struct.unpack_from(
            "<BqIIIB", data, offset + 5
        )
        lacing = list(data[offset + 27 : offset + 27 + count])
        size = 27 + count + sum(lacing)
        raw = data[offset : offset + size]
        assert ogg_crc(raw[:22] + b"\0\0\0\0" + raw[26:]) == crc
        pages.append((offset, (flags, granule, serial, sequence, lacing, raw[27 + count :])))
        offset += size
    return pages


# ------------------------------------------------------------------ tones through references


@pytest.mark.parametrize(("rate", "frequency"), [(8000, 440.0), (16000, 1000.0), (48000, 3000.0)])
def test_a_mono_tone_is_a_valid_ogg_opus_file(tmp_path: Path, rate: int, frequency: float) -> None:
    path = tmp_path / "tone.opus"
    pcm = _tone(rate, 3.0, frequency)
    writer = _record(path, pcm, rate)
    frame = 0.020
    info = _probe(path)
    assert info["codec_name"] == "opus"
    assert int(info["channels"]) == 1
    # ffprobe reports the last granule position, which counts the pre-skip too
    duration = float(info["format_duration"]) - writer.head.pre_skip / 48000
    assert abs(duration - 3.0) <= frame
    decoded = _ffmpeg_decode(path, rate, 1)[:, 0]
    assert abs(len(decoded) - len(pcm)) <= rate * frame
    assert abs(dominant_frequency(decoded[rate // 2 :], rate) - frequency) < 2.0
    played = _play(path, rate)
    assert len(played) == len(pcm)
    assert abs(dominant_frequency(played[rate // 2 :], rate) - frequency) < 2.0


def test_stereo_keeps_a_different_tone_in_each_channel(tmp_path: Path) -> None:
    rate = 16000
    left, right = _tone(rate, 2.0, 500.0), _tone(rate, 2.0, 1300.0)
    path = tmp_path / "call.opus"
    with _writer(path, rate, channels=2, bitrate=64000) as writer:
        for start in range(0, len(left), 320):
            writer.write_stereo(left[start : start + 320], right[start : start + 320])
    info = _probe(path)
    assert info["codec_name"] == "opus"
    assert int(info["channels"]) == 2
    decoded = _ffmpeg_decode(path, rate, 2)
    assert abs(len(decoded) - len(left)) <= 320
    played = _play(path, rate, stereo=True)
    assert len(played) == len(left)
    for both in (decoded, played):
        assert abs(dominant_frequency(both[rate // 2 :, 0], rate) - 500.0) < 2.0
        assert abs(dominant_frequency(both[rate // 2 :, 1], rate) - 1300.0) < 2.0


def test_two_dimensional_frames_and_the_mono_mix(tmp_path: Path) -> None:
    rate = 8000
    pcm = np.stack((_tone(rate, 1.0, 400.0), np.zeros(rate, dtype=np.int16)), axis=1)
    path = tmp_path / "two.opus"
    _record(path, pcm, rate, channels=2)
    mixed = _play(path, rate)
    assert len(mixed) == rate
    assert abs(dominant_frequency(mixed[2000:], rate) - 400.0) < 2.0
    # the mix is the average: about half the amplitude of the left channel
    assert 2000 < np.max(np.abs(mixed[2000:])) < 6000


def test_libopusfile_agrees_on_the_length(tmp_path: Path) -> None:
    pyogg = pytest.importorskip("pyogg")
    if not pyogg.PYOGG_OPUS_FILE_AVAIL:
        _missing("libopusfile not available to pyogg")
    path = tmp_path / "odd.opus"
    pcm = _tone(16000, 1.2345, 700.0)  # not a whole number of frames
    _record(path, pcm, 16000, frame_duration=0.04)
    opened = pyogg.OpusFile(str(path))
    assert opened.channels == 1
    assert opened.buffer_length // 2 == len(pcm) * 3  # 48 kHz samples
    assert len(_play(path, 16000)) == len(pcm)


def test_the_reader_plays_a_file_ffmpeg_wrote(tmp_path: Path) -> None:
    source, path = tmp_path / "in.raw", tmp_path / "ffmpeg.opus"
    pcm = _tone(48000, 1.5, 900.0)
    source.write_bytes(pcm.astype("<i2").tobytes())
    subprocess.run(
        [_tool("ffmpeg"), "-hide_banner", "-v", "error", "-nostdin", "-f", "s16le", "-ar", "48000",
         "-ac", "1", "-i", source, "-c:a", "libopus", "-b:a", "48k", path],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    reference = _ffmpeg_decode(path, 16000, 1)[:, 0]
    played = _play(path, 16000)
    assert abs(len(played) - len(reference)) <= 320
    assert abs(len(played) - 24000) <= 320
    assert abs(dominant_frequency(played[4000:], 16000) - 900.0) < 2.0


# ------------------------------------------------------------------ the bytes on disk


def test_headers_pages_and_granule_positions(tmp_path: Path) -> None:
    rate = 8000
    path = tmp_path / "head.opus"
    pcm = _tone(rate, 3.01, 440.0)
    writer = _record(path, pcm, rate, random=random.Random(5), comments=[("TITLE", "a call")])
    pages = _pages(path.read_bytes())
    serials = {page[2] for page in pages}
    assert serials == {random.Random(5).getrandbits(32)} == {writer.serial_number}
    assert [page[3] for page in pages] == list(range(len(pages)))

    flags, granule, _, _, lacing, body = pages[0]
    assert (flags, granule, lacing) == (0x02, 0, [19])  # BOS, OpusHead alone on its page
    assert body[:8] == b"OpusHead"
    version, channels, pre_skip, input_rate, gain, family = struct.unpack("<BBHIhB", body[8:])
    assert (version, channels, input_rate, gain, family) == (1, 1, 8000, 0, 0)
    assert pre_skip == writer.head.pre_skip
    assert 0 < pre_skip < 48000 // 50 and pre_skip % 6 == 0  # the lookahead at 8 kHz, scaled

    flags, granule, _, _, lacing, body = pages[1]
    assert (flags, granule) == (0, 0) and lacing[-1] < 255  # OpusTags ends its own page
    assert body[:8] == b"OpusTags"
    (vendor_length,) = struct.unpack_from("<I", body, 8)
    assert body[12 : 12 + vendor_length] == b"sansip"
    assert b"TITLE=a call" in body

    audio = pages[2:]
    granules = [page[1] for page in audio]
    assert granules == sorted(granules)
    assert all(page[0] & 0x04 == 0 for page in audio[:-1])
    assert audio[-1][0] & 0x04  # end of stream
    assert granules[-1] == pre_skip + len(pcm) * 6  # trimmed to the recorded length
    assert len(audio) >= 3  # about one page a second
    assert all(b - a <= 48000 for a, b in zip([0, *granules], granules, strict=False))


def test_comments_and_vendor_read_back(tmp_path: Path) -> None:
    path = tmp_path / "tags.opus"
    writer = _record(path, _tone(8000, 0.1, 300), 8000, comments=[("ARTIST", "é x=y")], vendor="v")
    assert isinstance(writer, FrameSink)
    with OggOpusReader(path, 8000) as reader:
        assert isinstance(reader, FrameSource)
        assert reader.vendor == "v"
        assert reader.comments == [("ARTIST", "é x=y")]
        assert reader.head.channels == 1


def test_the_output_gain_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "gain.opus"
    _record(path, _tone(8000, 1.0, 500.0, level=4000), 8000)
    data = bytearray(path.read_bytes())
    quiet = _play(path, 8000)
    struct.pack_into("<h", data, 28 + 16, 6 * 256)  # +6 dB in Q7.8 dB
    struct.pack_into("<I", data, 22, 0)
    struct.pack_into("<I", data, 22, ogg_crc(bytes(data[:47])))
    louder = tmp_path / "louder.opus"
    louder.write_bytes(bytes(data))
    loud = _play(louder, 8000)
    ratio = np.sqrt(
        np.mean(loud[2000:].astype(float) ** 2) / np.mean(quiet[2000:].astype(float) ** 2)
    )
    assert 1.9 < ratio < 2.1


def test_looping_plays_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "loop.opus"
    _record(path, _tone(8000, 0.5, 600.0), 8000)
    with OggOpusReader(path, 8000, loop=True) as reader:
        played = np.concatenate([reader.read() for _ in range(100)])  # 2 s of a 0.5 s file
        assert not reader.finished
    assert abs(dominant_frequency(played[9000:15000], 8000) - 600.0) < 3.0


def test_an_empty_recording_is_still_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.opus"
    _writer(path, 48000).close()
    assert _probe(path)["codec_name"] == "opus"
    assert len(_ffmpeg_decode(path, 48000, 1)) <= 960
    assert len(_play(path, 48000)) == 0


# ------------------------------------------------------------------ misuse and absence


def test_misuse_raises_local_protocol_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.opus"
    for bad in ({"channels": 3}, {"frame_duration": 0.03}, {"bitrate": 100}):
        with pytest.raises(LocalProtocolError):
            _writer(path, 8000, **bad)
    with pytest.raises(LocalProtocolError):
        _writer(path, 44100)
    with pytest.raises(LocalProtocolError):
        _writer(path, 8000, comments=[("A=B", "c")])
    with pytest.raises(LocalProtocolError, match="serial"):
        OggOpusWriter(MemorySink(), 8000)  # neither a serial number nor a random source
    writer = _writer(path, 8000)
    with pytest.raises(LocalProtocolError):
        writer.write_stereo(np.zeros(160), np.zeros(160))
    with pytest.raises(LocalProtocolError):
        writer.write(np.zeros((160, 2)))
    writer.close()
    writer.close()
    with pytest.raises(LocalProtocolError):
        writer.write(np.zeros(160, dtype=np.int16))
    stereo = _writer(tmp_path / "s.opus", 8000, channels=2)
    with pytest.raises(LocalProtocolError):
        stereo.write_stereo(np.zeros(160), np.zeros(150))
    stereo.close()


def test_missing_libraries_name_the_debian_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oggopus, "_libraries", lambda: (None, None, "pyogg did not find libogg"))
    with pytest.raises(LocalProtocolError, match="libopus0 libogg0 libopusfile0"):
        OggOpusWriter(MemorySink(), 8000, serial_number=1)
    with pytest.raises(LocalProtocolError, match="libopus0 libogg0 libopusfile0"):
        OggOpusReader(tmp_path / "none.opus", 8000)


def test_a_file_that_is_not_ogg_opus_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not.opus"
    path.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(OggOpusFileError):
        OggOpusReader(path, 8000)


# ------------------------------------------------------------------ properties

_RATES = st.sampled_from([8000, 16000, 48000])
_FRAME = arrays(
    np.int16,
    st.integers(0, 1500),
    elements=st.one_of(st.integers(-32768, 32767), st.sampled_from([-32768, 0, 32767])),
)


@settings(max_examples=examples(6), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=_RATES, frames=st.lists(_FRAME, max_size=12), stereo=st.booleans())
def test_any_frames_make_a_file_ffmpeg_and_the_reader_accept(
    tmp_path: Path, rate: int, frames: list[NDArray[np.int16]], stereo: bool
) -> None:
    path = tmp_path / "random.opus"
    channels = 2 if stereo else 1
    with _writer(path, rate, channels=channels) as writer:
        for frame in frames:
            writer.write(np.stack((frame, frame[::-1]), axis=1) if stereo else frame)
    total = sum(len(frame) for frame in frames)
    assert writer.samples_written == total
    decoded = _ffmpeg_decode(path, rate, channels)
    assert abs(len(decoded) - total) <= rate // 50
    played = _play(path, rate, stereo=stereo)
    assert len(played) == total


@settings(max_examples=examples(30), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), prefix=st.booleans())
def test_random_bytes_never_crash_the_reader(tmp_path: Path, data: bytes, prefix: bool) -> None:
    path = tmp_path / "junk.opus"
    path.write_bytes((b"OggS\0\x02" if prefix else b"") + data)
    try:
        reader = OggOpusReader(path, 8000)
    except OggOpusFileError:
        return
    with reader:
        for _ in range(20):
            assert len(reader.read()) == 160


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("ogg") / "clean.opus"
    _record(path, _tone(8000, 2.0, 440.0), 8000, page_duration=0.2)
    return path.read_bytes()


@settings(max_examples=examples(30), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8))
def test_damaged_audio_pages_are_dropped_not_raised(
    tmp_path: Path, recorded: bytes, damage: list[tuple[int, int]]
) -> None:
    located = _located_pages(recorded)
    audio_start = located[2][0]
    data = bytearray(recorded)
    for position, value in damage:
        data[audio_start + position % (len(data) - audio_start)] = value
    path = tmp_path / "damaged.opus"
    path.write_bytes(bytes(data))
    with OggOpusReader(path, 8000) as reader:
        played = [reader.read() for _ in range(120)]  # 2.4 s of a 2 s file: runs past the end
        assert reader.finished
        assert all(len(frame) == 160 for frame in played)
        # every changed page that still starts with its capture pattern fails its checksum
        ends = [offset for offset, _page in located[1:]] + [len(data)]
        expected = sum(
            1
            for (start, _page), end in zip(located, ends, strict=True)
            if data[start:end] != recorded[start:end] and data[start : start + 4] == b"OggS"
        )
        assert reader.bad_pages >= expected
        if expected == 0 and data == recorded:
            assert np.array_equal(np.concatenate(played)[:16000], _play_bytes(recorded, tmp_path))


def _play_bytes(data: bytes, directory: Path) -> NDArray[np.int16]:
    path = directory / "clean.opus"
    path.write_bytes(data)
    return _play(path, 8000)
