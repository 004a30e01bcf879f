"""The audio options of the commands end to end on loopback: ``answer
--echo`` sends back what it hears, ``call --play FILE`` sends a file, and
``--no-media`` keeps to signalling (no RTP ports, no media fields)."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from tests.interop.peers import (
    call_answerer,
    free_udp_port,
    require,
    sansip,
    start,
    stop,
    wait_listening,
)


def _call_against(tmp_path: Path, answer_args: list[str], call_args: list[str]) -> tuple[
    dict[str, object], dict[str, object]
]:  # fmt: skip
    done, log = call_answerer(tmp_path, ["--json", *answer_args],
                              ["--duration", "2", "--json", *call_args])  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    caller = json.loads(done.stdout.decode().strip().splitlines()[-1])
    answerer = json.loads(
        [line for line in log.read_text().splitlines() if line.startswith("{")][-1]
    )
    return caller, answerer


def _heard(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as recording:
        rate = recording.getframerate()
        return np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16), rate


def test_echo_sends_back_what_it_hears(tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"
    _call_against(tmp_path, ["--echo"], ["--tone", "700", "--record", str(heard)])
    samples, rate = _heard(heard)
    assert dominant_frequency(samples[rate // 2 :], rate) == pytest.approx(700, abs=10)


def test_play_sends_a_wav_file(tmp_path: Path) -> None:
    tone = tmp_path / "tone.wav"
    t = np.arange(8000 * 3) / 8000  # 8 kHz: the file is resampled to the pipeline rate
    with wave.open(str(tone), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes((6000 * np.sin(2 * np.pi * 1200 * t)).astype("<i2").tobytes())
    heard = tmp_path / "bob-heard.wav"
    _call_against(tmp_path, ["--record", str(heard)], ["--play", str(tone)])
    samples, rate = _heard(heard)
    assert dominant_frequency(samples[rate // 2 :], rate) == pytest.approx(1200, abs=10)


def test_no_media_keeps_to_signalling(tmp_path: Path) -> None:
    caller, answerer = _call_against(tmp_path, ["--no-media"], ["--no-media"])
    for record in (caller, answerer):
        assert record["status"] == 200 and "rtp" not in record and "codec" not in record


def test_no_media_offers_no_stream_and_a_phone_with_audio_refuses_it(tmp_path: Path) -> None:
    # ``call --no-media`` offers its audio at port 0 (RFC 3264: not to be
    # used), so nothing is ever sent to a port where nobody listens; an
    # answerer that needs audio refuses such a call with 488.
    done, _ = call_answerer(tmp_path, ["--json"], ["--no-media", "--json"])
    assert done.returncode == 1
    caller = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert caller["status"] == 488 and "rtp" not in caller


@pytest.mark.timeout(60)
def test_mediatimeout_ends_a_call_that_carries_no_rtp(tmp_path: Path) -> None:
    # SIPp's built-in caller offers an audio stream but sends no RTP: the
    # answerer gives up after 1 s and hangs up (SIPp holds the call 8 s).
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    log = tmp_path / "answer.log"
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                          "-p", "mediatimeout=1"), log)  # fmt: skip
    try:
        wait_listening(port, answer)
        caller = subprocess.run(
            [sipp, "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", "1",
             "-d", "8000", "-nostdin", "-timeout", "20", f"127.0.0.1:{port}"],
            capture_output=True, timeout=40, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert answer.wait(20) == 0, caller.stdout.decode(errors="replace")[-2000:]
    finally:
        stop(answer)
    record = json.loads([x for x in log.read_text().splitlines() if x.startswith("{")][-1])
    assert record["media_timeout"] is True and record["status"] == 200
    assert isinstance(record["duration"], int) and record["duration"] < 3000
