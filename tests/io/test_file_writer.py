"""The file writer thread behind recordings: the same bytes as writing at
once, never waiting for a slow disk (a bounded queue, drops counted), and a
failed write ending the recording instead of raising."""

from __future__ import annotations

import errno
import io
import random
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.bytesink import MemorySink
from sansip.audio.oggopus import oggopus_unavailable_reason
from sansip.audio.recorder import CallRecorder, FileRecorder
from sansip.audio.tones import ToneSource
from sansip.audio.wavfile import WavWriter
from sansip.errors import LocalProtocolError
from sansip.io.file_writer import FileSink, FileWriter, open_call_recorder, open_recorder


class SlowFile(io.BytesIO):
    """A file whose writes take ``delay`` seconds (a stalled disk) until released."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.writes = 0

    def write(self, data: object) -> int:
        self.writes += 1
        if self.delay:
            time.sleep(self.delay)
        return super().write(data)  # type: ignore[arg-type]

    def close(self) -> None:
        self.final = self.getvalue()
        super().close()


class FullDisk(io.BytesIO):
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: object) -> int:
        if self.tell() + len(data) > self.room:  # type: ignore[arg-type]
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def _frames(rate: int, count: int, hz: float = 700.0) -> list[np.ndarray]:
    tone = ToneSource(hz, rate)
    return [tone.read() for _ in range(count)]


def _stdlib_wav(frames: list[np.ndarray], rate: int, channels: int = 1) -> bytes:
    """What the recorders wrote before: stdlib ``wave``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        for frame in frames:
            out.writeframes(
                np.repeat(frame.reshape(-1, 1), channels, axis=1).astype("<i2").tobytes()
            )
    return buffer.getvalue()


@pytest.mark.parametrize("channels", [1, 2])
def test_a_wav_written_through_the_thread_is_what_stdlib_wave_writes(
    tmp_path: Path, channels: int
) -> None:
    frames = _frames(16000, 50)
    path = tmp_path / "threaded.wav"
    with open_recorder(path, 16000, channels=channels) as recorder:
        assert isinstance(recorder.sink, FileWriter)
        for frame in frames:
            recorder.write(frame)
    assert recorder.sink.finished and recorder.sink.dropped_writes == 0
    assert path.read_bytes() == _stdlib_wav(frames, 16000, channels)
    empty = tmp_path / "empty.wav"
    open_recorder(empty, 8000).close()
    assert empty.read_bytes() == _stdlib_wav([], 8000)


def test_the_wav_header_is_patched_after_every_block() -> None:
    sink = MemorySink()
    writer = WavWriter(sink, 8000)
    for count, frame in enumerate(_frames(8000, 3), start=1):
        writer.write(frame)
        with wave.open(io.BytesIO(sink.getvalue()), "rb") as check:
            assert check.getnframes() == 160 * count


def test_an_ogg_file_written_through_the_thread_is_the_same_as_in_memory(tmp_path: Path) -> None:
    if oggopus_unavailable_reason() is not None:
        pytest.skip("needs libopus and libogg")
    frames = _frames(16000, 120)
    path = tmp_path / "call.ogg"
    memory = MemorySink()
    with (
        open_call_recorder(path, 16000, mode="stereo", random=random.Random(7)) as threaded,
        CallRecorder("same.ogg", 16000, sink=memory, mode="stereo",
                     random=random.Random(7)) as direct,
    ):  # fmt: skip
        for frame in frames:
            for recorder in (threaded, direct):
                recorder.sent(frame)
                recorder.received(frame // 2)
                recorder.end_tick()
    assert len(memory.getvalue()) > 1000
    assert path.read_bytes() == memory.getvalue()


def test_a_stalled_disk_never_holds_up_the_writer_and_drops_are_counted() -> None:
    slow = SlowFile(delay=0.5)
    sink = FileWriter("stalled.wav", max_queued=4, file=slow)
    recorder = FileRecorder("stalled.wav", 8000, sink=sink)
    frames = _frames(8000, 40)
    longest = 0.0
    for frame in frames:
        start = time.perf_counter()
        recorder.write(frame)
        longest = max(longest, time.perf_counter() - start)
    # One write to this disk takes 0.5 s; a write to the recorder must not wait for one.
    assert longest < 0.25
    # The thread is stuck on the header (0.5 s a write, 4 queued at most):
    # taking half of the frames would take it more than 8 s.
    assert sink.dropped_writes >= len(frames) // 2
    assert recorder.dropped_samples == sink.dropped_bytes // 2
    assert recorder.samples_written + recorder.dropped_samples == 40 * 160
    slow.delay = 0.0
    recorder.close()
    assert sink.finished and sink.error is None
    with wave.open(io.BytesIO(slow.final), "rb") as check:  # consistent: header = data
        assert check.getnframes() == recorder.samples_written
        assert len(check.readframes(10**6)) == 2 * recorder.samples_written


def test_a_failed_write_stops_the_recording_and_is_reported() -> None:
    sink = FileWriter("full.wav", file=FullDisk(room=44 + 3200))
    recorder = FileRecorder("full.wav", 8000, sink=sink)
    for frame in _frames(8000, 30):
        recorder.write(frame)  # never raises
    deadline = time.monotonic() + 10
    while sink.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.error == "No space left on device" == recorder.failure
    assert sink.finished
    before = recorder.dropped_samples
    recorder.write(_frames(8000, 1)[0])
    assert recorder.dropped_samples == before + 160
    assert sink.write(b"more") is False
    recorder.close()
    recorder.close()


def test_close_waits_for_the_queue(tmp_path: Path) -> None:
    slow = SlowFile(delay=0.01)
    sink = FileWriter(tmp_path / "x.bin", file=slow)
    for index in range(20):
        assert sink.write(bytes([index]) * 10)
    sink.close()
    assert slow.final == b"".join(bytes([index]) * 10 for index in range(20))
    assert sink.write(b"late") is False
    assert not any(t.name.startswith("sansip file writer x.bin") for t in threading.enumerate())


def test_the_synchronous_sink_reports_failures_instead_of_raising(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "direct.wav")
    assert sink.write(b"abcd") and sink.error is None
    sink.patch(0, b"AB")
    sink.close()
    assert (tmp_path / "direct.wav").read_bytes() == b"ABcd"
    failing = FileSink(tmp_path / "full.wav")
    failing._file.close()
    failing._file = FullDisk(room=2)
    assert failing.write(b"abc") is False
    assert failing.error == "No space left on device"
    failing.close()


def test_openers_refuse_bad_recordings_without_leaving_files(tmp_path: Path) -> None:
    with pytest.raises(LocalProtocolError):
        open_recorder(tmp_path / "x.mp3", 8000)
    with pytest.raises(LocalProtocolError):
        open_call_recorder(tmp_path / "y.wav", 8000, max_lag=0)
    with pytest.raises(LocalProtocolError):
        FileWriter(tmp_path / "z.bin", max_queued=0)
    assert list(tmp_path.iterdir()) == []
