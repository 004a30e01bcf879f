"""RFC 3389 comfort noise against an independent implementation: ffmpeg's
``comfortnoise`` encoder describes low-pass noise; sansip reads its
payloads (level and reflection coefficients, same byte mapping and sign)
and plays noise of the same shape, and sansip's own analysis of the same
noise gives nearly the same payload."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.cng import ComfortNoiseGenerator, NoiseDescription, analyse_noise

RATE = 8000


def _tools() -> tuple[str, str]:
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        message = "ffmpeg/ffprobe not installed (apt-get install ffmpeg)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return ffmpeg, ffprobe


def _low_pass_noise(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(7)
    white = rng.normal(0, 6000, int(RATE * seconds))
    shaped = np.zeros_like(white)
    for i in range(1, len(white)):  # a one-pole low-pass
        shaped[i] = 0.9 * shaped[i - 1] + 0.1 * white[i]
    return np.clip(shaped, -32768, 32767).astype(np.int16)


def _ffmpeg_payloads(noise: np.ndarray, tmp_path: Path) -> list[bytes]:
    ffmpeg, ffprobe = _tools()
    raw, nut = tmp_path / "noise.raw", tmp_path / "noise.nut"
    noise.astype("<i2").tofile(raw)
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "s16le",
                    "-ar", str(RATE), "-ac", "1", "-i", str(raw), "-c:a", "comfortnoise",
                    str(nut)], check=True, timeout=60)  # fmt: skip
    listing = subprocess.run([ffprobe, "-hide_banner", "-loglevel", "error", "-show_packets",
                              "-show_data", str(nut)], capture_output=True, text=True,
                             check=True, timeout=60).stdout  # fmt: skip
    payloads = []
    for block in re.findall(r"data=\n(.*?)\n\[/PACKET\]", listing, re.S):
        hexes = re.findall(r"^[0-9a-f]{8}: ((?:[0-9a-f]{4} ?)+)", block, re.M)
        payloads.append(bytes.fromhex("".join(hexes).replace(" ", "")))
    return payloads


def test_ffmpeg_comfort_noise_plays_with_its_shape(tmp_path: Path) -> None:
    noise = _low_pass_noise(3.0)
    payloads = _ffmpeg_payloads(noise, tmp_path)
    assert len(payloads) > 10 and all(len(p) >= 2 for p in payloads)
    description = NoiseDescription.from_payload(payloads[len(payloads) // 2])
    generator = ComfortNoiseGenerator(RATE, 160)
    generator.update(description.level, description.coefficients)
    played = np.concatenate([generator.generate(160) for _ in range(100)]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(played)) ** 2
    low, high = spectrum[: len(spectrum) // 4].sum(), spectrum[len(spectrum) // 2 :].sum()
    assert 10 * np.log10(low / high) > 6  # low-pass, as the noise it describes
    # sansip's own analysis of that noise says the same: level and first coefficient.
    ours = analyse_noise(noise[RATE : RATE + 640])
    assert abs(ours.level - description.level) <= 2
    assert abs(ours.coefficients[0] - description.coefficients[0]) <= 6  # out of 255
