"""Recording from the command line: ``--record out.ogg`` writes a playable
Ogg Opus file of what was received, ``--record-call FILE --stereo`` keeps
both directions (sent left, received right); both are checked by decoding
them with sansip's reader and, when present, ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.oggopus import OggOpusReader
from tests.interop.peers import call_answerer, sansip

RATE = 16000


def _read(path: Path, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    with OggOpusReader(path, RATE) as reader:
        pairs = [reader.read_stereo() for _ in range(int(seconds / 0.02))]
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def test_record_to_ogg_opus_and_both_directions_in_stereo(tmp_path: Path) -> None:
    done, _ = call_answerer(tmp_path, ["--tone", "1000"], [
        "--duration", "2", "--tone", "440", "--record", str(tmp_path / "heard.ogg"),
        "--record-call", str(tmp_path / "call.ogg"), "--stereo"])  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    heard, _ = _read(tmp_path / "heard.ogg", 1.5)
    assert dominant_frequency(heard[RATE // 2 :], RATE) == pytest.approx(1000, abs=10)
    sent, received = _read(tmp_path / "call.ogg", 1.5)
    assert dominant_frequency(sent[RATE // 2 :], RATE) == pytest.approx(440, abs=10)
    assert dominant_frequency(received[RATE // 2 :], RATE) == pytest.approx(1000, abs=10)
    ffprobe = shutil.which("ffprobe")
    if ffprobe is not None:
        info = subprocess.run([ffprobe, "-hide_banner", str(tmp_path / "call.ogg")],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert "opus" in info.stderr and "stereo" in info.stderr


def test_a_recording_that_cannot_be_written_stops_and_the_call_goes_on(tmp_path: Path) -> None:
    """``--record-call`` to /dev/full: every write fails (no space left); the
    recording stops with a message and a CDR field, the call completes.  A
    path of no known format is refused before the call."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    full = tmp_path / "full.wav"
    full.symlink_to("/dev/full")
    refused = subprocess.run(sansip("call", "sip:bob@127.0.0.1:9", "--record-call", "/dev/full"),
                             capture_output=True, timeout=30, check=False)  # fmt: skip
    assert refused.returncode == 1 and b"recording format" in refused.stderr
    done, _ = call_answerer(tmp_path, ["--tone", "1000"], [
        "--duration", "1.5", "--tone", "440", "--record-call", str(full), "--json"])  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"recording stopped: " + str(full).encode() in done.stderr
    record = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert "No space left" in record["recording_failed"]
    assert record["rtp"]["received"] > 30  # the call's audio went on after the failure
