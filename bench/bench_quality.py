"""Audio quality of a sansip call: PESQ over a lossy, jittery network, echo
cancellation (ERLE), and the cost of each pipeline block.

1. **PESQ.**  A speech sample (two speakers, made with espeak-ng, brought to
   8 and 16 kHz by sansip's resampler) is played by alice into a call over
   ``SimNetwork`` (20 ms delay, 40 ms uniform jitter, 0 / 3 / 10 % random
   loss) and collected by bob: PCMU scored narrowband at 8 kHz, G722 scored
   wideband at 16 kHz, with bob's ``plc`` on (pitch-based concealment) and
   off (the codec's repeat-and-fade).  Both sides run the pipeline with
   ``aec=0 agc=0 denoise=0 vad=1 silencesuppress=0``.  The received audio is
   aligned to the reference by cross-correlation over the whole file before
   scoring; the jitter buffer's delay is sampled every 100 ms of the call.
   Each condition runs with ``--seeds`` network seeds (the same seeds for
   PLC on and off, so both see the same losses).
2. **ERLE.**  The same speech is the far end; the echo is the far end
   through a synthetic room (bulk delay, then exponentially decaying noise)
   at -12 dB, plus faint white noise at the microphone.  ``EchoCanceller``
   with the pipeline's defaults (128 ms tail) runs at 8 and 16 kHz, with and
   without its residual suppressor; ERLE is measured on the last 5 s.
3. **Cost.**  Each pipeline block on one 20 ms speech frame, via timeit.

Targets (printed MET / NOT MET): PESQ with PLC >= 3.2 at 3 % loss (PCMU,
narrowband); PLC at least +0.3 over no PLC at 10 % loss (PCMU); ERLE >= 25
dB after convergence (suppressor on, the 120 ms path, both rates).

    .venv/bin/python bench/bench_quality.py                 # about 3 minutes
    .venv/bin/python bench/bench_quality.py --quick         # 1 seed, short timings
    .venv/bin/python bench/bench_quality.py --seeds 5 --json quality.json

Needs ``espeak-ng`` (apt) and ``pesq`` (pip): without pesq the PESQ part is
skipped with a note; without espeak-ng there is no speech and nothing runs
(exit 1).  ffmpeg, when present, adds its codecs to the codec-alone table.
Nothing here asserts: the figures and verdicts are printed (``--json``: also
written to a file).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import wave
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sansip.audio.aec import EchoCanceller  # noqa: E402
from sansip.audio.agc import AutomaticGainControl  # noqa: E402
from sansip.audio.codecs import create_decoder, create_encoder  # noqa: E402
from sansip.audio.denoise import NoiseSuppressor  # noqa: E402
from sansip.audio.frames import CollectSink, NullSink, SilenceSource  # noqa: E402
from sansip.audio.pipeline import PipelineSettings  # noqa: E402
from sansip.audio.plc import PacketLossConcealer  # noqa: E402
from sansip.audio.resample import Resampler, resample  # noqa: E402
from sansip.audio.vad import VoiceActivityDetector  # noqa: E402
from sansip.audio.wavfile import WavPlayer  # noqa: E402
from sansip.media import CallMedia, MediaSettings  # noqa: E402
from sansip.sdp import codec_preferences  # noqa: E402
from sansip.testing import SimNetwork, Simulation, VirtualClock  # noqa: E402
from sansip.testing.media import MediaHost  # noqa: E402

Samples = NDArray[np.int16]
Floats = NDArray[np.float64]

#: (espeak-ng voice, text): Harvard sentences, two speakers.
SPEECH = (
    (
        "en-us",
        "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    ),
    ("en-us+f3", "Rice is often served in round bowls. The juice of lemons makes fine punch."),
)
ESPEAK_TIMEOUT = 30.0
LEAD_SILENCE, GAP_SILENCE, TAIL_SILENCE = 0.5, 0.4, 0.5  # seconds
ACTIVE_LEVEL_DBFS = -26.0  # speech level while talking (P.56-style, simplified)
FRAME = 0.020
TICK_US = FRAME * 1e6

CODECS = {"PCMU": (8000, "nb"), "G722": (16000, "wb")}
LOSSES = (0.0, 0.03, 0.10)
NET_DELAY, NET_JITTER = 0.020, 0.040
MAX_LAG = 1.0  # seconds searched when aligning the received audio
ALICE, BOB = ("127.0.0.1", 40000), ("127.0.0.2", 42000)

PESQ_TARGET, PLC_GAIN_TARGET, ERLE_TARGET = 3.2, 0.3, 25.0

#: Echo paths: name -> (bulk delay ms, decaying tail ms).
ECHO_PATHS = {"120 ms": (10.0, 110.0), "150 ms": (30.0, 120.0)}
ECHO_LEVEL_DB = -12.0
NEAR_NOISE_DBFS = -75.0
ERLE_WINDOW = 5.0  # seconds at the end of the run
AEC_SECONDS = 20.0  # far end: the sample looped to this length


# -- the speech sample --------------------------------------------------------------


def _read_wav(path: Path) -> tuple[Samples, int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise RuntimeError(f"{path}: expected 16-bit mono from espeak-ng")
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
        return data, wav.getframerate()


def _write_wav(path: Path, samples: Samples, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def _to_rate(samples: Samples, rate_in: int, rate_out: int) -> Samples:
    """``samples`` at ``rate_out`` via sansip's polyphase resampler; 22050 Hz
    (espeak-ng's rate, not one the resampler takes) is first doubled to
    44100 Hz by exact band-limited (FFT) interpolation."""
    if rate_in == 22050:
        spectrum = np.fft.rfft(samples.astype(np.float64))
        doubled = np.fft.irfft(spectrum, n=2 * len(samples)) * 2.0
        samples = np.clip(np.rint(doubled), -32768, 32767).astype(np.int16)
        rate_in = 44100
    return resample(samples, rate_in, rate_out)


def _active_level_dbfs(samples: Floats, rate: int) -> float:
    """RMS level (dBFS) of the 20 ms frames within 30 dB of the loudest."""
    size = round(rate * FRAME)
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    power = np.mean(frames**2, axis=1) + 1e-9
    active = power[power > power.max() * 1e-3]
    return float(10 * np.log10(np.mean(active) / 32768.0**2))


def make_speech(workdir: Path) -> dict[int, Samples]:
    """The sample at 8000 and 16000 Hz, level -26 dBFS while talking, with
    silence before, between and after the sentences."""
    pieces: list[Floats] = []
    for index, (voice, text) in enumerate(SPEECH):
        path = workdir / f"espeak{index}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "175", "-w", str(path), text],
            check=True,
            timeout=ESPEAK_TIMEOUT,
            capture_output=True,
        )
        data, rate = _read_wav(path)
        pieces.append(_to_rate(data, rate, 16000).astype(np.float64))
    gap = np.zeros(round(GAP_SILENCE * 16000))
    joined = np.concatenate([part for piece in pieces for part in (piece, gap)][:-1])
    gain = 10 ** ((ACTIVE_LEVEL_DBFS - _active_level_dbfs(joined, 16000)) / 20)
    speech16 = np.concatenate(
        (
            np.zeros(round(LEAD_SILENCE * 16000)),
            joined * gain,
            np.zeros(round(TAIL_SILENCE * 16000)),
        )
    )
    wide = np.clip(np.rint(speech16), -32768, 32767).astype(np.int16)
    return {16000: wide, 8000: resample(wide, 16000, 8000)}


# -- PESQ through a call ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallResult:
    """One call's score and what the network and the jitter buffer did."""

    pesq: float
    lag_ms: float
    jitter_delay_ms: float
    lost: int
    concealed: int
    received: int


def _settings(plc: bool) -> PipelineSettings:
    return PipelineSettings(plc=plc, aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)


def pesq_score(rate: int, reference: Floats, degraded: Floats, mode: str) -> float:
    """P.862 (``nb``) or P.862.2 (``wb``) MOS-LQO from the ``pesq`` package."""
    from pesq import pesq  # type: ignore[import-untyped]

    return float(pesq(rate, reference, degraded, mode))


def align(received: Floats, reference: Floats, max_lag: int) -> tuple[Floats, int]:
    """``received`` shifted to line up with ``reference`` (the lag in
    ``[0, max_lag]`` samples with the largest cross-correlation, computed
    over the whole file), cut or zero-padded to the reference's length."""
    size = 1 << math.ceil(math.log2(len(received) + len(reference)))
    correlation = np.fft.irfft(
        np.fft.rfft(received, size) * np.conj(np.fft.rfft(reference, size)), size
    )
    lag = int(np.argmax(correlation[: max_lag + 1]))
    out = np.zeros(len(reference))
    piece = received[lag : lag + len(reference)]
    out[: len(piece)] = piece
    return out, lag


def run_call(
    codec: str, wav_path: Path, reference: Samples, *, loss: float, plc: bool, seed: int
) -> CallResult:
    """One call: alice plays ``wav_path``, bob collects; PESQ of what bob heard."""
    rate, mode = CODECS[codec]
    network = SimNetwork(seed=seed, delay=NET_DELAY, jitter=NET_JITTER, loss=loss)
    sim = Simulation(VirtualClock(), network)
    duration = len(reference) / rate + MAX_LAG
    heard = CollectSink(max_frames=math.ceil(duration / FRAME) + 10)
    prefs = codec_preferences(codec=codec)
    with WavPlayer(wav_path, rate) as player:
        alice = CallMedia(
            ALICE[0],
            ALICE[1],
            prefs,
            rng=random.Random(2 * seed + 1),
            source=player,
            sink=NullSink(),
            sample_rate=rate,
            settings=MediaSettings(pipeline=_settings(True)),
        )
        bob = CallMedia(
            BOB[0],
            BOB[1],
            prefs,
            rng=random.Random(2 * seed + 2),
            source=SilenceSource(rate),
            sink=heard,
            sample_rate=rate,
            settings=MediaSettings(pipeline=_settings(plc)),
        )
        alice.receive_answer(bob.answer(alice.offer(), 0.0), 0.0)
        for media, address in ((alice, ALICE), (bob, BOB)):
            host = MediaHost(media, address)
            host.attach(sim)
            host.start(0.0)
        stream = bob.stream
        if stream is None or stream.codec.upper() != codec.upper():
            raise RuntimeError(f"the call did not negotiate {codec}")
        delays: list[float] = []
        for _ in range(math.ceil(duration / 0.1)):  # bounded: the file plus MAX_LAG
            sim.run_for(0.1)
            jb = stream.statistics(sim.now).jitter_buffer
            if jb.played:
                delays.append(jb.current_delay_ms)
    stats = stream.statistics(sim.now)
    ref = reference.astype(np.float64)
    degraded, lag = align(heard.samples().astype(np.float64), ref, round(MAX_LAG * rate))
    score = pesq_score(rate, ref, degraded, mode)
    return CallResult(
        score,
        1000 * lag / rate,
        statistics.fmean(delays) if delays else math.nan,
        stats.rtp.packets_lost,
        stats.frames_concealed,
        stats.rtp.packets_received,
    )


def _round_trip_sansip(codec: str, samples: Samples) -> Samples:
    rate = CODECS[codec][0]
    encoder, decoder = create_encoder(codec), create_decoder(codec)
    size = round(rate * FRAME)
    count = len(samples) // size
    return np.concatenate(
        [decoder.decode(encoder.encode(samples[i * size : (i + 1) * size])) for i in range(count)]
    )


def _round_trip_ffmpeg(codec: str, samples: Samples, workdir: Path) -> Samples | None:
    """The same samples through ffmpeg's encoder and decoder (None without ffmpeg)."""
    if shutil.which("ffmpeg") is None:
        return None
    rate = CODECS[codec][0]
    fmt, coder = {"PCMU": ("mulaw", "pcm_mulaw"), "G722": ("g722", "g722")}[codec]
    source, coded, decoded = (workdir / f"ff{codec}.{ext}" for ext in ("wav", fmt, "out.wav"))
    _write_wav(source, samples, rate)
    base = ["ffmpeg", "-y", "-nostdin", "-loglevel", "error", "-threads", "1"]
    raw = ["-ar", str(rate), "-ac", "1"] if fmt == "mulaw" else []  # headerless input
    try:
        subprocess.run(
            [*base, "-i", str(source), "-c:a", coder, "-f", fmt, str(coded)],
            check=True,
            timeout=60,
            capture_output=True,
        )
        subprocess.run(
            [*base, "-f", fmt, *raw, "-i", str(coded), "-ar", str(rate), "-ac", "1", str(decoded)],
            check=True,
            timeout=60,
            capture_output=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return _read_wav(decoded)[0]


def codec_part(speech: dict[int, Samples], workdir: Path) -> list[dict[str, Any]]:
    """PESQ of each codec alone (encode, decode, no network): the ceiling of
    the call results, with ffmpeg's implementation of the same codec."""
    rows: list[dict[str, Any]] = []
    print("\n## PESQ of the codec alone (no network)\n")
    print("| codec (mode) | sansip | ffmpeg |")
    print("| --- | ---: | ---: |")
    for codec, (rate, mode) in CODECS.items():
        reference = speech[rate].astype(np.float64)
        scores: dict[str, float | None] = {}
        decodings = {
            "sansip": _round_trip_sansip(codec, speech[rate]),
            "ffmpeg": _round_trip_ffmpeg(codec, speech[rate], workdir),
        }
        for name, decoded in decodings.items():
            if decoded is None:
                scores[name] = None
                continue
            aligned, _ = align(decoded.astype(np.float64), reference, round(0.01 * rate))
            scores[name] = pesq_score(rate, reference, aligned, mode)
        rows.append({"codec": codec, "mode": mode, **scores})
        shown = [f"{v:.2f}" if v is not None else "n/a" for v in scores.values()]
        print(f"| {codec} ({mode}) | {shown[0]} | {shown[1]} |")
    return rows


def _mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and half the range (max - min) / 2."""
    return statistics.fmean(values), (max(values) - min(values)) / 2


def pesq_part(speech: dict[int, Samples], workdir: Path, seeds: int) -> list[dict[str, Any]]:
    """Every codec x loss x PLC condition over ``seeds`` network seeds."""
    rows: list[dict[str, Any]] = []
    print(f"\n## PESQ: 20 ms + U(0, 40 ms) network delay, random loss, {seeds} seed(s)\n")
    print(
        "| codec (mode) | loss | PLC | PESQ mean ± spread | per seed | lost | concealed "
        "| JB delay ms | lag ms |"
    )
    print("| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for codec, (rate, mode) in CODECS.items():
        wav_path = workdir / f"speech{rate}.wav"
        _write_wav(wav_path, speech[rate], rate)
        for loss in LOSSES:
            for plc in (True, False):
                results = [
                    run_call(codec, wav_path, speech[rate], loss=loss, plc=plc, seed=seed)
                    for seed in range(1, seeds + 1)
                ]
                scores = [r.pesq for r in results]
                mean, spread = _mean_spread(scores)
                row = {
                    "codec": codec,
                    "mode": mode,
                    "rate": rate,
                    "loss": loss,
                    "plc": plc,
                    "pesq_mean": mean,
                    "pesq_spread": spread,
                    "pesq": scores,
                    "lost": statistics.fmean(r.lost for r in results),
                    "received": statistics.fmean(r.received for r in results),
                    "concealed": statistics.fmean(r.concealed for r in results),
                    "jitter_delay_ms": statistics.fmean(r.jitter_delay_ms for r in results),
                    "lag_ms": statistics.fmean(r.lag_ms for r in results),
                }
                rows.append(row)
                per_seed = " ".join(f"{s:.2f}" for s in scores)
                print(
                    f"| {codec} ({mode}) | {loss:.0%} | {'on' if plc else 'off'} "
                    f"| {mean:.2f} ± {spread:.2f} | {per_seed} | {row['lost']:.1f} "
                    f"| {row['concealed']:.1f} | {row['jitter_delay_ms']:.1f} "
                    f"| {row['lag_ms']:.1f} |",
                    flush=True,
                )
    return rows


# -- echo cancellation --------------------------------------------------------------


def room_response(rate: int, bulk_ms: float, tail_ms: float, rng: np.random.Generator) -> Floats:
    """A synthetic echo path: ``bulk_ms`` of nothing, then ``tail_ms`` of
    white noise whose envelope falls 60 dB over the tail."""
    bulk, tail = round(bulk_ms * rate / 1000), round(tail_ms * rate / 1000)
    t = np.arange(tail) / rate
    envelope = np.exp(-t * math.log(1000.0) / (tail_ms / 1000))
    return np.concatenate((np.zeros(bulk), rng.standard_normal(tail) * envelope))


def run_echo(
    far: Floats, rate: int, path: tuple[float, float], suppress: bool, seed: int
) -> dict[str, float]:
    """ERLE of the canceller on the last :data:`ERLE_WINDOW` seconds."""
    rng = np.random.default_rng(seed)
    echo = np.convolve(far, room_response(rate, *path, rng))[: len(far)]
    echo *= 10 ** (ECHO_LEVEL_DB / 20) * math.sqrt(np.mean(far**2) / np.mean(echo**2))
    noise = rng.standard_normal(len(far)) * 32768.0 * 10 ** (NEAR_NOISE_DBFS / 20)
    near = np.clip(np.rint(echo + noise), -32768, 32767)
    far16 = np.clip(np.rint(far), -32768, 32767).astype(np.int16)
    near16 = near.astype(np.int16)
    size = round(rate * FRAME)
    canceller = EchoCanceller(rate, size, suppress=suppress)
    frames = len(far) // size
    out = np.concatenate(
        [
            canceller.process(near16[i * size : (i + 1) * size], far16[i * size : (i + 1) * size])
            for i in range(frames)
        ]
    ).astype(np.float64)
    window = round(ERLE_WINDOW * rate)
    near_tail = near[frames * size - window : frames * size]
    power_near, power_out = np.mean(near_tail**2), np.mean(out[-window:] ** 2)
    echo_tail = echo[frames * size - window : frames * size]
    return {
        "erle_db": float(10 * np.log10(power_near / max(power_out, 1e-9))),
        "reported_erle_db": canceller.erle_db,
        "filter_erle_db": canceller.filter_erle_db,
        "echo_to_noise_db": float(10 * np.log10(np.mean(echo_tail**2) / np.mean(noise**2))),
    }


def echo_part(speech: dict[int, Samples], seeds: int, seconds: float) -> list[dict[str, Any]]:
    """ERLE for each rate x echo path x suppressor over ``seeds`` rooms."""
    rows: list[dict[str, Any]] = []
    print(
        f"\n## ERLE: echo at {ECHO_LEVEL_DB:.0f} dB, near-end noise {NEAR_NOISE_DBFS:.0f} "
        f"dBFS, {seconds:.0f} s of far end, last {ERLE_WINDOW:.0f} s, {seeds} room(s)\n"
    )
    print(
        "| rate | echo path | suppressor | ERLE dB mean ± spread | canceller's own estimate "
        "| filter only | echo/noise dB |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    for rate in (8000, 16000):
        one = speech[rate].astype(np.float64)
        far = np.tile(one, math.ceil(seconds * rate / len(one)))[: round(seconds * rate)]
        for name, path in ECHO_PATHS.items():
            for suppress in (True, False):
                results = [
                    run_echo(far, rate, path, suppress, seed) for seed in range(1, seeds + 1)
                ]
                mean, spread = _mean_spread([r["erle_db"] for r in results])
                row = {
                    "rate": rate,
                    "path": name,
                    "bulk_ms": path[0],
                    "tail_ms": path[1],
                    "suppress": suppress,
                    "erle_mean": mean,
                    "erle_spread": spread,
                    "runs": results,
                }
                rows.append(row)
                own = statistics.fmean(r["reported_erle_db"] for r in results)
                filt = statistics.fmean(r["filter_erle_db"] for r in results)
                enr = statistics.fmean(r["echo_to_noise_db"] for r in results)
                print(
                    f"| {rate} | {name} ({path[0]:.0f} + {path[1]:.0f}) "
                    f"| {'on' if suppress else 'off'} | {mean:.1f} ± {spread:.1f} "
                    f"| {own:.1f} | {filt:.1f} | {enr:.1f} |",
                    flush=True,
                )
    return rows


# -- cost per frame -----------------------------------------------------------------


def _frames(samples: Samples, rate: int) -> list[Samples]:
    size = round(rate * FRAME)
    return [samples[i : i + size] for i in range(0, len(samples) - size + 1, size)]


def _blocks(speech: dict[int, Samples], rate: int) -> dict[str, Callable[[], object]]:
    """One call = one 20 ms frame of work for each block (speech frames in turn)."""
    frames = _frames(speech[rate], rate)
    echoes = [(frame.astype(np.float64) * 0.25).astype(np.int16) for frame in frames]
    count = len(frames)
    state = {"i": 0}

    def next_frame() -> Samples:
        state["i"] = (state["i"] + 1) % count
        return frames[state["i"]]

    plc = PacketLossConcealer(rate)
    for frame in frames[:20]:
        plc.good(frame)
    aec_on, aec_off = (EchoCanceller(rate, len(frames[0]), suppress=s) for s in (True, False))
    agc, denoise, vad = (
        AutomaticGainControl(rate),
        NoiseSuppressor(rate),
        VoiceActivityDetector(rate),
    )
    other = 16000 if rate == 8000 else 8000
    to_other, to_48k = Resampler(rate, other), Resampler(rate, 48000)

    def plc_loss() -> None:  # a good frame, then a lost one
        plc.good(next_frame())
        plc.conceal()

    def echo(canceller: EchoCanceller) -> Callable[[], object]:
        def run() -> object:  # the microphone hears the previous far frame, quieter
            far = next_frame()
            return canceller.process(echoes[state["i"] - 1], far)

        return run

    return {
        "PLC: good frame (keeps history)": lambda: plc.good(next_frame()),
        "PLC: good frame + one concealed frame": plc_loss,
        "AEC, suppressor on": echo(aec_on),
        "AEC, suppressor off": echo(aec_off),
        "AGC": lambda: agc.process(next_frame()),
        "denoise": lambda: denoise.process(next_frame()),
        "VAD": lambda: vad.is_speech(next_frame()),
        "resample 8 <-> 16 kHz": lambda: to_other.process(next_frame()),
        "resample to 48 kHz": lambda: to_48k.process(next_frame()),
        "(fetching the frame alone)": next_frame,
    }


def cost_part(speech: dict[int, Samples], quick: bool) -> list[dict[str, Any]]:
    """Median µs per 20 ms frame of each block at 8 and 16 kHz."""
    number, repeat = (100, 3) if quick else (500, 7)
    costs: dict[tuple[str, int], float] = {}
    names: list[str] = []
    for rate in (8000, 16000):
        for name, call in _blocks(speech, rate).items():
            for _ in range(20):
                call()  # warm-up (filters adapt, buffers fill)
            times = timeit.repeat(call, number=number, repeat=repeat)
            costs[name, rate] = statistics.median(times) / number * 1e6
            if name not in names:
                names.append(name)
    print(f"\n## Cost per 20 ms frame (median of {repeat} x {number} calls, µs; % of a tick)\n")
    print("| block | 8 kHz µs | % | 16 kHz µs | % |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows: list[dict[str, Any]] = []
    for name in names:
        low, high = costs[name, 8000], costs[name, 16000]
        print(
            f"| {name} | {low:.1f} | {100 * low / TICK_US:.2f} | {high:.1f} "
            f"| {100 * high / TICK_US:.2f} |"
        )
        rows.append({"block": name, "us_8k": low, "us_16k": high})
    return rows


# -- verdicts and main --------------------------------------------------------------


def verdicts(pesq_rows: list[dict[str, Any]], echo_rows: list[dict[str, Any]]) -> list[str]:
    """The targets of the issue, each MET or NOT MET."""
    lines: list[str] = []

    def find(codec: str, loss: float, plc: bool) -> dict[str, Any] | None:
        return next(
            (r for r in pesq_rows if r["codec"] == codec and r["loss"] == loss and r["plc"] is plc),
            None,
        )

    on3 = find("PCMU", 0.03, True)
    if on3 is not None:
        ok = on3["pesq_mean"] >= PESQ_TARGET
        lines.append(
            f"PESQ-NB, PCMU, 3 % loss, PLC on: {on3['pesq_mean']:.2f} "
            f"(target >= {PESQ_TARGET}): {'MET' if ok else 'NOT MET'}"
        )
    for codec in CODECS:
        on, off = find(codec, 0.10, True), find(codec, 0.10, False)
        if on is not None and off is not None:
            gains = [a - b for a, b in zip(on["pesq"], off["pesq"], strict=True)]
            gain = statistics.fmean(gains)
            ok = gain >= PLC_GAIN_TARGET
            note = "" if codec == "PCMU" else " (information, the target is for G.711)"
            lines.append(
                f"PLC gain at 10 % loss, {codec}: {gain:+.2f} (per seed "
                + " ".join(f"{g:+.2f}" for g in gains)
                + f"; target >= +{PLC_GAIN_TARGET}): {'MET' if ok else 'NOT MET'}{note}"
            )
    for row in echo_rows:
        if row["suppress"] and row["path"] == "120 ms":
            ok = row["erle_mean"] >= ERLE_TARGET
            lines.append(
                f"ERLE {row['rate']} Hz, 120 ms path, suppressor on: "
                f"{row['erle_mean']:.1f} dB (target >= {ERLE_TARGET:.0f}): "
                f"{'MET' if ok else 'NOT MET'}"
            )
    return lines


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, shorter AEC run and timings")
    ap.add_argument("--seeds", type=int, help="network seeds (and rooms) per condition (10)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--only", default="pesq,erle,cost", help="parts: pesq, erle, cost")
    args = ap.parse_args()
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 10)
    if not 1 <= seeds <= 50:
        ap.error("--seeds must be 1-50")
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    started = time.monotonic()
    espeak = _version(["espeak-ng", "--version"]) if shutil.which("espeak-ng") else None
    try:
        pesq_version: str | None = metadata.version("pesq")
    except metadata.PackageNotFoundError:
        pesq_version = None
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "numpy": np.__version__,
        "espeak_ng": espeak,
        "pesq": pesq_version,
        "seeds": seeds,
        "quick": args.quick,
    }
    print("# sansip audio quality\n")
    print(f"espeak-ng: {espeak or 'unavailable (apt-get install espeak-ng)'}")
    print(
        f"pesq: {pesq_version or 'unavailable (pip install pesq)'}; numpy {np.__version__}; "
        f"Python {info['python']} on {info['machine']}"
    )
    results: dict[str, Any] = {"info": info}
    if espeak is None:
        print("\nNo speech sample without espeak-ng: nothing to measure.")
        return 1
    with tempfile.TemporaryDirectory(prefix="sansip-quality-") as tmp:
        workdir = Path(tmp)
        speech = make_speech(workdir)
        print(
            f"speech sample: {len(speech[8000]) / 8000:.2f} s, two voices ({SPEECH[0][0]}, "
            f"{SPEECH[1][0]}), {ACTIVE_LEVEL_DBFS:.0f} dBFS while talking"
        )
        pesq_rows: list[dict[str, Any]] = []
        if "pesq" in parts:
            if pesq_version is None:
                print("\nPESQ: unavailable (pip install pesq): skipped")
            else:
                results["codec_only"] = codec_part(speech, workdir)
                pesq_rows = pesq_part(speech, workdir, seeds)
        echo_rows: list[dict[str, Any]] = []
        if "erle" in parts:
            echo_rows = echo_part(speech, seeds, AEC_SECONDS / 2 if args.quick else AEC_SECONDS)
        if "cost" in parts:
            results["cost"] = cost_part(speech, args.quick)
    results["pesq"], results["erle"] = pesq_rows, echo_rows
    lines = verdicts(pesq_rows, echo_rows)
    results["verdicts"] = lines
    print("\n## Targets\n")
    for line in lines:
        print(f"- {line}")
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
