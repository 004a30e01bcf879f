"""The audio options of the commands end to end on loopback: ``answer
--echo`` sends back what it hears, ``call --play FILE`` sends a file, and
``--no-media`` keeps to signalling (no RTP ports, no media fields)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from tests.interop.peers import call_answerer


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


def test_mediatimeout_ends_a_call_that_carries_no_rtp(tmp_path: Path) -> None:
    # The caller sends no RTP (--no-media): the answerer gives up after 1 s.
    caller, answerer = _call_against(tmp_path, ["-p", "mediatimeout=1"],
                                     ["--no-media", "--duration", "8"])  # fmt: skip
    assert answerer["media_timeout"] is True
    assert caller["reason"] == "bye received"
    assert isinstance(caller["duration"], int) and caller["duration"] < 3000
