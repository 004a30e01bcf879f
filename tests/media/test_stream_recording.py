"""Recording a call never holds up the media clock: the recorder's bytes go
to a writer thread, a stalled disk only costs dropped (and counted) frames,
and a failed write ends the recording with a RecordingFailed event while the
call's audio goes on.  Two streams are ticked by hand, packets passed
between them directly."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import CollectSink
from sansip.audio.recorder import CallRecorder, FileRecorder
from sansip.audio.tones import ToneSource
from sansip.io.file_writer import FileWriter
from sansip.media import CallMedia, MediaStream, RecordingFailed
from sansip.rtp import is_rtcp
from sansip.sdp import codec_preferences
from tests.io.test_file_writer import FullDisk

RATE = 8000
ALICE, BOB = ("127.0.0.1", 40000), ("127.0.0.2", 42000)
ALICE_HZ, BOB_HZ = 600.0, 1100.0


class SlowFile(io.BytesIO):
    """Every write takes ``delay`` seconds (a stalled disk) until released."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def write(self, data: object) -> int:
        if self.delay:
            time.sleep(self.delay)
        return super().write(data)  # type: ignore[arg-type]


class Call:
    """Alice and Bob, each sending a tone; ticked 20 ms at a time."""

    def __init__(self, bob_sink: CollectSink | FileRecorder | None = None) -> None:
        prefs = codec_preferences(codec="PCMU")
        self.heard_by_alice = CollectSink(max_frames=2000)
        self.heard_by_bob = CollectSink(max_frames=2000)
        alice = CallMedia(ALICE[0], ALICE[1], prefs, rng=random.Random(1),
                          source=ToneSource(ALICE_HZ, RATE), sink=self.heard_by_alice,
                          sample_rate=RATE)  # fmt: skip
        bob = CallMedia(BOB[0], BOB[1], prefs, rng=random.Random(2),
                        source=ToneSource(BOB_HZ, RATE), sample_rate=RATE,
                        sink=self.heard_by_bob if bob_sink is None else bob_sink)  # fmt: skip
        alice.receive_answer(bob.answer(alice.offer(), 0.0), 0.0)
        assert alice.stream is not None and bob.stream is not None
        self.alice: MediaStream = alice.stream
        self.bob: MediaStream = bob.stream
        self.now = 0.0
        self.tick_seconds: list[float] = []  # wall time of each of Alice's ticks

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.02)):
            start = time.perf_counter()
            self.alice.tick(self.now)
            self.tick_seconds.append(time.perf_counter() - start)
            self.bob.tick(self.now)
            for source, address, target in ((self.alice, ALICE, self.bob),
                                            (self.bob, BOB, self.alice)):  # fmt: skip
                for data, _destination in source.datagrams_to_send(self.now):
                    if not is_rtcp(data):
                        target.receive_datagram(data, address, self.now)
            self.now += 0.02

    def failures(self, stream: MediaStream) -> list[RecordingFailed]:
        """The RecordingFailed events among those ``stream`` has (latching and others dropped)."""
        found = []
        while (event := stream.next_event()) is not None:
            if isinstance(event, RecordingFailed):
                found.append(event)
        return found


def _hears(sink: CollectSink, hz: float, seconds: float = 0.5) -> bool:
    tail = sink.samples()[-round(RATE * seconds) :]
    return bool(np.any(tail)) and abs(dominant_frequency(tail, RATE) - hz) < 10


def test_a_stalled_disk_does_not_slow_the_ticks() -> None:
    slow = SlowFile(delay=0.5)
    writer = FileWriter("call.wav", max_queued=5, file=slow)
    recorder = CallRecorder("call.wav", RATE, sink=writer, mode="stereo")
    call = Call()
    call.alice.recorder = recorder
    call.run(2.0)
    # A tick that waited for one write to this disk would take 0.5 s.
    assert max(call.tick_seconds) < 0.25
    assert sum(call.tick_seconds) < 5.0  # 100 ticks; 50 s if each waited for the disk
    # 100 stereo frames were given; at 0.5 s a write, with 5 queued at most,
    # taking half of them would take the thread more than 20 s.
    assert writer.dropped_writes >= 50
    assert recorder.dropped_samples == writer.dropped_bytes // 4 > 0
    assert _hears(call.heard_by_alice, BOB_HZ) and _hears(call.heard_by_bob, ALICE_HZ)
    assert call.failures(call.alice) == []
    slow.delay = 0.0
    recorder.close()
    assert writer.finished and writer.error is None


def test_a_failed_write_ends_the_recording_with_an_event_not_the_call() -> None:
    writer = FileWriter("call.wav", file=FullDisk(room=44 + 20 * 640))
    recorder = CallRecorder("call.wav", RATE, sink=writer, mode="stereo")
    call = Call()
    call.alice.recorder = recorder
    call.run(1.0)  # 50 frames: the 21st fails
    deadline = time.monotonic() + 10
    while not writer.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    call.run(0.1)  # the next tick notices
    assert call.failures(call.alice) == [RecordingFailed("call.wav", "No space left on device")]
    sent_before = call.alice.statistics(call.now).rtp.packets_sent
    dropped_before = recorder.dropped_samples
    call.run(1.0)
    assert call.failures(call.alice) == []  # reported once
    assert call.alice.statistics(call.now).rtp.packets_sent == sent_before + 50
    assert recorder.dropped_samples == dropped_before + 50 * 160
    assert _hears(call.heard_by_alice, BOB_HZ) and _hears(call.heard_by_bob, ALICE_HZ)
    recorder.close()
    assert recorder.closed


@pytest.mark.parametrize("fails", [False, True])
def test_a_file_recorder_as_the_sink_reports_its_failure(tmp_path: Path, fails: bool) -> None:
    room = 44 + 10 * 320 if fails else 10**9
    writer = FileWriter(tmp_path / "heard.wav", file=FullDisk(room=room))
    recorder = FileRecorder(tmp_path / "heard.wav", RATE, sink=writer)
    call = Call(bob_sink=recorder)
    call.run(1.0)
    deadline = time.monotonic() + 10
    while fails and not writer.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    call.run(0.1)
    expected = [RecordingFailed(str(tmp_path / "heard.wav"), "No space left on device")]
    assert call.failures(call.bob) == (expected if fails else [])
    assert _hears(call.heard_by_alice, BOB_HZ)
    recorder.close()
