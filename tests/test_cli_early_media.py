"""Early media: ``sansip answer --early-media`` sends 183 Session Progress
with its SDP answer while it rings, and ``sansip call`` plays (here:
records) that audio before the call is answered."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from tests.interop.peers import free_udp_port, sansip, start, stop, wait_listening


def test_audio_flows_during_183_before_the_answer(tmp_path: Path) -> None:
    port = free_udp_port()
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                          "--tone", "1000", "--ring", "1.5", "--early-media"),
                   tmp_path / "answer.log")  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            sansip("call", f"sip:bob@127.0.0.1:{port}", "--duration", "1",
                   "--record", str(tmp_path / "heard.wav"), "--json"),
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        answer.wait(10)
    finally:
        stop(answer)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    record = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert record["connecttime"] >= 1400  # answered after the ring
    with wave.open(str(tmp_path / "heard.wav")) as recording:
        rate = recording.getframerate()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    # The recording starts at the 183, so it is longer than the connected second ...
    assert len(samples) / rate > 2.0
    # ... and the tone is there while it rang.
    assert dominant_frequency(samples[rate // 4 : rate], rate) == pytest.approx(1000, abs=10)
