"""Reference encodings from ffmpeg, run in a subprocess on temporary files.

Tests call ``require_ffmpeg()`` first: without ffmpeg they are skipped with a
message, except in CI (``CI=true``) where a missing reference fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

# codec name -> (ffmpeg encoder, raw container format, sample rate of the PCM)
FORMATS = {
    "PCMU": ("pcm_mulaw", "mulaw", 8000),
    "PCMA": ("pcm_alaw", "alaw", 8000),
    "G722": ("g722", "g722", 16000),
}


def require_ffmpeg() -> str:
    """The ffmpeg executable; skip (fail in CI) when it is not installed."""
    path = shutil.which("ffmpeg")
    if path is None:
        message = "ffmpeg not found on PATH: the codec bit-exactness references need it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(args: list[str]) -> None:
    command = [require_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def reference_encode(codec: str, pcm: NDArray[np.int16]) -> bytes:
    """ffmpeg's encoding of mono ``pcm`` with ``codec`` ("PCMU", "PCMA", "G722")."""
    encoder, container, rate = FORMATS[codec]
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp, "in.raw"), Path(tmp, "out.bin")
        source.write_bytes(pcm.astype("<i2").tobytes())
        _run(["-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", str(source),
              "-c:a", encoder, "-f", container, str(target)])  # fmt: skip
        return target.read_bytes()


def reference_decode(codec: str, payload: bytes) -> NDArray[np.int16]:
    """ffmpeg's decoding of a raw ``codec`` stream to mono int16 PCM."""
    _encoder, container, rate = FORMATS[codec]
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp, "in.bin"), Path(tmp, "out.raw")
        source.write_bytes(payload)
        input_options = ["-f", container]
        if container != "g722":
            input_options += ["-ar", str(rate), "-ac", "1"]
        _run([*input_options, "-i", str(source), "-f", "s16le", "-ac", "1", str(target)])
        return np.frombuffer(target.read_bytes(), dtype="<i2").astype(np.int16)


def reference_signals(rate: int, seconds: float = 1.0) -> dict[str, NDArray[np.int16]]:
    """Deterministic test signals at ``rate``: sweep, DTMF, noise, silence, square, speech-like."""
    count = int(rate * seconds)
    t = np.arange(count) / rate
    top = min(rate / 2 - 200, 7800)
    sweep = 20000 * np.sin(2 * np.pi * (50 * t + (top - 50) * t * t / (2 * seconds)))
    dtmf = 8000 * (np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t))
    dtmf[(t % 0.1) >= 0.05] = 0  # 50 ms on, 50 ms off
    noise = np.random.default_rng(7).integers(-32768, 32768, count)
    square = np.where((np.arange(count) // max(1, rate // 400)) % 2, 32767, -32768)
    vowel = sum((6000 / k) * np.sin(2 * np.pi * 140 * k * t + k) for k in range(1, 12)) * (
        0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    )
    signals = {"sweep": sweep, "dtmf": dtmf, "noise": noise, "silence": np.zeros(count),
               "square": square, "vowel": vowel}  # fmt: skip
    clipped = {name: np.clip(np.round(s), -32768, 32767) for name, s in signals.items()}
    return {name: s.astype(np.int16) for name, s in clipped.items()}
