"""The conference mixer: mix-minus by spectrum, gain, mute, deaf, soft clipping,
parties at other rates, the port timing, and properties over random input."""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from sansip.audio.analysis import goertzel_power, rms_dbfs
from sansip.audio.frames import CollectSink, FrameSink, FrameSource
from sansip.audio.mixer import (
    LIMITER_CEILING,
    MAX_GAIN,
    SOFT_KNEE,
    ConferenceMixer,
    soft_clip,
)
from sansip.audio.tones import ToneSource
from sansip.errors import LocalProtocolError
from tests.conftest import examples

RATE = 16000
FRAME = 320
TONES = (300.0, 500.0, 700.0, 1100.0, 1300.0)
WARMUP = 5  # ticks before gain ramps and resampler delays have settled


def tone_energy(samples: NDArray[np.int16], rate: int, frequency: float) -> float:
    """Energy at ``frequency`` over the whole signal, relative to the signal's energy."""
    data = samples.astype(np.float64)
    energy = float(np.dot(data, data))
    if energy == 0.0:
        return 0.0
    return float(goertzel_power(data, rate, [frequency])[0, 0]) / energy


def run_mix(
    mixer: ConferenceMixer,
    sources: dict[Hashable, FrameSource],
    ticks: int,
) -> dict[Hashable, NDArray[np.int16]]:
    """Call ``mix`` ``ticks`` times with one frame per source; each party's
    output after the warm-up, joined."""
    heard: dict[Hashable, list[NDArray[np.int16]]] = {party: [] for party in mixer.parties}
    for tick in range(ticks):
        outputs = mixer.mix({party: source.read() for party, source in sources.items()})
        assert set(outputs) == set(mixer.parties)
        if tick >= WARMUP:
            for party, frame in outputs.items():
                heard[party].append(frame)
    return {party: np.concatenate(frames) for party, frames in heard.items()}


def tone_parties(
    mixer: ConferenceMixer, count: int, level_dbfs: float = -20.0
) -> dict[Hashable, FrameSource]:
    sources: dict[Hashable, FrameSource] = {}
    for index in range(count):
        mixer.add_party(index)
        sources[index] = ToneSource(TONES[index], RATE, level_dbfs=level_dbfs)
    return sources


# -- mix-minus -----------------------------------------------------------------------------
@pytest.mark.parametrize("count", [3, 4, 5])
def test_each_party_hears_every_other_party_and_not_itself(count: int) -> None:
    mixer = ConferenceMixer(RATE)
    sources = tone_parties(mixer, count)
    heard = run_mix(mixer, sources, 30)
    for party, samples in heard.items():
        assert isinstance(party, int)
        for other in range(count):
            share = tone_energy(samples, RATE, TONES[other])
            if other == party:
                assert share < 1e-6, (party, other, share)
            else:  # the others share the energy equally
                assert share == pytest.approx(1 / (count - 1), rel=0.05), (party, other)
        # Below the limiter nothing is bent: each tone keeps its level.
        expected = -20.0 + 10 * np.log10(count - 1)
        assert rms_dbfs(samples) == pytest.approx(expected, abs=0.1)


def test_quiet_mix_is_exactly_the_sum_of_the_others() -> None:
    mixer = ConferenceMixer(RATE)
    generator = np.random.default_rng(5)
    for party in "abcd":
        mixer.add_party(party)
    for tick in range(4):
        frames = {p: generator.integers(-3000, 3000, FRAME).astype(np.int16) for p in "abcd"}
        outputs = mixer.mix(frames)
        if tick == 0:
            continue  # newcomers fade in over their first frame
        total = sum(frame.astype(np.int64) for frame in frames.values())
        for listener, out in outputs.items():
            assert np.array_equal(out, total - frames[str(listener)])


def test_missing_input_is_silence_and_unknown_ids_are_ignored() -> None:
    mixer = ConferenceMixer(RATE)
    for party in "abc":
        mixer.add_party(party)
    frame = np.full(FRAME, 1000, dtype=np.int16)
    for _ in range(3):
        outputs = mixer.mix({"a": frame, "stranger": frame})
    assert not outputs["a"].any()
    assert np.array_equal(outputs["b"], frame) and np.array_equal(outputs["c"], frame)


def test_float_frames_are_rounded_and_nan_is_silence() -> None:
    mixer = ConferenceMixer(RATE)
    mixer.add_party("a")
    mixer.add_party("b")
    floats = np.full(FRAME, 99.6)
    floats[:10] = np.nan
    for _ in range(2):
        outputs = mixer.mix({"a": floats})
    assert outputs["b"].dtype == np.int16
    assert outputs["b"][:10].tolist() == [0] * 10 and outputs["b"][10:].tolist() == [100] * 310


def test_frames_of_the_wrong_length_are_cut_or_padded() -> None:
    mixer = ConferenceMixer(RATE)
    mixer.add_party("a")
    mixer.add_party("b")
    for _ in range(2):
        outputs = mixer.mix({"a": np.full(100, 500, np.int16)})
    assert len(outputs["b"]) == FRAME
    assert outputs["b"][:100].tolist() == [500] * 100 and not outputs["b"][100:].any()
    outputs = mixer.mix({"a": np.full(1000, 700, np.int16)})
    assert outputs["b"].tolist() == [700] * FRAME


# -- gain, mute, deaf ------------------------------------------------------------------
def test_gain_scales_what_the_others_hear() -> None:
    mixer = ConferenceMixer(RATE)
    sources = tone_parties(mixer, 3)
    mixer.set_gain(0, 0.5)
    heard = run_mix(mixer, {0: sources[0]}, 20)  # only party 0 talks
    level = rms_dbfs(heard[1])
    assert level == pytest.approx(-20.0 + 20 * np.log10(0.5), abs=0.1)
    assert rms_dbfs(heard[2]) == pytest.approx(level, abs=0.01)
    assert mixer.settings(0).gain == 0.5
    mixer.set_gain(0, 2.0)
    heard = run_mix(mixer, {0: sources[0]}, 20)
    assert rms_dbfs(heard[1]) == pytest.approx(-20.0 + 20 * np.log10(2.0), abs=0.1)


def test_a_muted_party_still_hears_but_is_not_heard() -> None:
    mixer = ConferenceMixer(RATE)
    sources = tone_parties(mixer, 3)
    mixer.set_mute(0, True)
    heard = run_mix(mixer, sources, 20)
    for listener in (1, 2):
        assert tone_energy(heard[listener], RATE, TONES[0]) < 1e-6
    assert tone_energy(heard[0], RATE, TONES[1]) == pytest.approx(0.5, rel=0.05)
    assert tone_energy(heard[0], RATE, TONES[2]) == pytest.approx(0.5, rel=0.05)
    mixer.set_mute(0, False)
    heard = run_mix(mixer, sources, 20)
    assert tone_energy(heard[1], RATE, TONES[0]) == pytest.approx(0.5, rel=0.05)
    assert mixer.settings(0).muted is False


def test_a_deaf_party_hears_nothing_but_is_heard() -> None:
    mixer = ConferenceMixer(RATE)
    sources = tone_parties(mixer, 3)
    mixer.set_deaf(2, True)
    heard = run_mix(mixer, sources, 20)
    assert not heard[2].any()
    assert tone_energy(heard[0], RATE, TONES[2]) == pytest.approx(0.5, rel=0.05)
    assert mixer.settings(2).deaf
    mixer.set_deaf(2, False)
    heard = run_mix(mixer, sources, 20)
    assert tone_energy(heard[2], RATE, TONES[0]) == pytest.approx(0.5, rel=0.05)


def test_gain_changes_ramp_without_a_step() -> None:
    mixer = ConferenceMixer(RATE)
    mixer.add_party("a")
    mixer.add_party("b")
    loud = np.full(FRAME, 10000, dtype=np.int16)
    mixer.mix({"a": loud})
    mixer.mix({"a": loud})
    mixer.set_mute("a", True)
    faded = mixer.mix({"a": loud})["b"].astype(np.int64)
    assert faded[0] > 9000 and faded[-1] == 0
    assert np.all(np.diff(faded) <= 0) and np.max(np.abs(np.diff(faded))) < 100


def test_party_management_errors() -> None:
    mixer = ConferenceMixer(RATE)
    mixer.add_party("a")
    with pytest.raises(LocalProtocolError):
        mixer.add_party("a")
    for bad in (-0.1, float("nan"), float("inf"), MAX_GAIN * 2):
        with pytest.raises(LocalProtocolError):
            mixer.set_gain("a", bad)
        with pytest.raises(LocalProtocolError):
            mixer.add_party("b", gain=bad)
    for call in (mixer.remove_party, mixer.settings):
        with pytest.raises(LocalProtocolError):
            call("nobody")
    with pytest.raises(LocalProtocolError):
        mixer.set_mute("nobody", True)
    with pytest.raises(LocalProtocolError):
        ConferenceMixer(RATE, max_backlog=0)
    assert mixer.parties == ("a",) and "a" in mixer and len(mixer) == 1


def test_removed_party_is_no_longer_heard() -> None:
    mixer = ConferenceMixer(RATE)
    ports = {party: mixer.add_party(party) for party in "abc"}
    frame = np.full(FRAME, 1000, dtype=np.int16)
    for _ in range(3):
        outputs = mixer.mix({"a": frame, "b": 2 * frame})
    assert outputs["c"].tolist() == [3000] * FRAME
    mixer.remove_party("b")
    outputs = mixer.mix({"a": frame, "b": 2 * frame})
    assert set(outputs) == {"a", "c"} and outputs["c"].tolist() == [1000] * FRAME
    ports["b"].sink.write(frame)  # dropped
    assert not ports["b"].source.read(0.0).any()
    mixer.add_party("b")  # the same name again is a new party
    assert mixer.parties == ("a", "c", "b")


# -- clipping ------------------------------------------------------------------------
def test_soft_clip_is_identity_below_the_knee_and_bounded_above() -> None:
    knee = SOFT_KNEE * 32767
    quiet = np.linspace(-knee, knee, 1001)
    assert np.array_equal(soft_clip(quiet), np.rint(quiet).astype(np.int16))
    loud = np.linspace(-1e7, 1e7, 20001)
    clipped = soft_clip(loud).astype(np.int64)
    assert np.all(np.diff(clipped) >= 0)  # monotonic: no wrap-around
    assert clipped.max() <= 32767 and clipped.min() >= -32767
    assert soft_clip(np.array([40000.0]))[0] > knee
    assert soft_clip(np.array([np.nan, np.inf, -np.inf])).tolist() == [0, 32767, -32767]


@pytest.mark.parametrize("count", [3, 5])
def test_loud_parties_are_limited_not_wrapped(count: int) -> None:
    """Full-scale square waves in phase: the true sum is several times full
    scale; every output keeps its sign and stays in int16, near the top."""
    mixer = ConferenceMixer(RATE)
    for party in range(count):
        mixer.add_party(party)
    square = np.where((np.arange(FRAME) // 40) % 2 == 0, 32767, -32768).astype(np.int16)
    for tick in range(25):
        outputs = mixer.mix(dict.fromkeys(range(count), square))
        for frame in outputs.values():
            assert frame.dtype == np.int16
            assert np.array_equal(np.sign(frame[frame != 0]), np.sign(square[frame != 0]))
            if tick >= 2:
                assert np.abs(frame.astype(np.int64)).min() >= 0.8 * 32767
    # Settled: the limiter holds the peak at its ceiling, under the knee.
    assert np.abs(outputs[0].astype(np.int64)).max() <= LIMITER_CEILING * 32767 + 1


def test_limiter_recovers_after_a_loud_burst() -> None:
    mixer = ConferenceMixer(RATE)
    mixer.add_party("a")
    mixer.add_party("b")
    mixer.add_party("c")
    loud = ToneSource(500.0, RATE, level_dbfs=0.0)
    quiet = ToneSource(700.0, RATE, level_dbfs=-20.0)
    for _ in range(10):
        mixer.mix({"a": loud.read(), "b": loud.read()})
    for _ in range(100):  # two seconds: the release has long finished
        outputs = mixer.mix({"a": quiet.read()})
    assert rms_dbfs(outputs["b"]) == pytest.approx(-20.0, abs=0.05)


# -- ports: the media clock ticks the streams one by one ------------------------------
def drive(
    mixer: ConferenceMixer,
    ports: Mapping[Hashable, tuple[FrameSource, FrameSink]],
    talkers: dict[Hashable, FrameSource],
    ticks: int,
    *,
    seed: int = 1,
    explicit: bool = False,
    with_now: bool = True,
) -> dict[Hashable, list[NDArray[np.int16]]]:
    """A media clock: each tick, every stream (in a random order) reads its
    source then writes its sink, as MediaStream.tick does."""
    order = list(ports)
    shuffle = random.Random(seed)
    heard: dict[Hashable, list[NDArray[np.int16]]] = {party: [] for party in ports}
    for tick in range(ticks):
        now = tick * 0.02 if with_now else None
        if explicit:
            mixer.tick(now)
        shuffle.shuffle(order)
        for party in order:
            source, sink = ports[party]
            heard[party].append(source.read(now))
            talker = talkers.get(party)
            sink.write(talker.read() if talker else np.zeros(FRAME, np.int16))
    return heard


@pytest.mark.parametrize(("explicit", "with_now"), [(False, True), (False, False), (True, True)])
def test_ports_mix_once_per_tick_with_one_frame_of_latency(explicit: bool, with_now: bool) -> None:
    mixer = ConferenceMixer(RATE)
    ports: dict[Hashable, tuple[FrameSource, FrameSink]] = {}
    for party in "abc":
        port = mixer.add_party(party)
        ports[party] = (port.source, port.sink)

    class Counter:
        """Frame n is filled with n."""

        def __init__(self) -> None:
            self.count = 0

        def read(self, now: float | None = None) -> NDArray[np.int16]:
            self.count += 1
            return np.full(FRAME, self.count, dtype=np.int16)

    assert all(isinstance(source, FrameSource) and isinstance(sink, FrameSink)
               for source, sink in ports.values())  # fmt: skip
    ticks = 12
    heard = drive(mixer, ports, {"a": Counter()}, ticks, explicit=explicit, with_now=with_now)
    assert mixer.ticks == ticks
    assert mixer.inputs_dropped == 0
    for listener in "bc":
        frames = heard[listener]
        assert not frames[0].any()  # nothing was written before the first tick
        for tick in range(3, ticks):
            # What "a" wrote on the previous tick (its frame number `tick`).
            assert frames[tick].tolist() == [tick] * FRAME
    assert not any(frame.any() for frame in heard["a"])


def test_ports_carry_the_tones_between_parties() -> None:
    mixer = ConferenceMixer(RATE)
    ports: dict[Hashable, tuple[FrameSource, FrameSink]] = {}
    talkers: dict[Hashable, FrameSource] = {}
    for index in range(4):
        port = mixer.add_party(index)
        ports[index] = (port.source, port.sink)
        talkers[index] = ToneSource(TONES[index], RATE, level_dbfs=-20.0)
    heard = drive(mixer, ports, talkers, 30)
    for party, frames in heard.items():
        samples = np.concatenate(frames[WARMUP:])
        for other in range(4):
            share = tone_energy(samples, RATE, TONES[other])
            assert (share < 1e-6) if other == party else share > 0.3


def test_sink_backlog_is_bounded() -> None:
    mixer = ConferenceMixer(RATE, max_backlog=2)
    talker = mixer.add_party("a")
    listener = mixer.add_party("b")
    mixer.tick()  # the newcomers fade in (over silence)
    for value in (1, 2, 3):
        talker.sink.write(np.full(FRAME, value, dtype=np.int16))
    assert mixer.inputs_dropped == 1
    heard = []
    for _ in range(3):
        mixer.tick()
        heard.append(int(listener.source.read()[0]))
    assert heard == [2, 3, 0]  # the oldest frame (1) was dropped, then silence


def test_local_party_reads_the_microphone_and_writes_the_speaker() -> None:
    mixer = ConferenceMixer(RATE)
    speaker = CollectSink()
    mixer.add_local_party(ToneSource(TONES[0], RATE, level_dbfs=-20.0), speaker)
    remote = mixer.add_party("remote")
    talker = ToneSource(TONES[1], RATE, level_dbfs=-20.0)
    sent = []
    for tick in range(30):
        sent.append(remote.source.read(tick * 0.02))
        remote.sink.write(talker.read())
    assert mixer.ticks == 30 and speaker.written == 30
    played = speaker.samples()[WARMUP * FRAME :]
    assert tone_energy(played, RATE, TONES[1]) > 0.9
    assert tone_energy(played, RATE, TONES[0]) < 1e-6
    assert tone_energy(np.concatenate(sent[WARMUP:]), RATE, TONES[0]) > 0.9


# -- parties at other rates -------------------------------------------------------------
def test_parties_at_8_16_and_48_khz_hear_each_other() -> None:
    mixer = ConferenceMixer(RATE)
    rates = {"narrow": 8000, "wide": 16000, "full": 48000}
    tones = {"narrow": 400.0, "wide": 1000.0, "full": 1500.0}
    sources: dict[Hashable, FrameSource] = {}
    for party, rate in rates.items():
        mixer.add_party(party, rate=rate)
        sources[party] = ToneSource(tones[party], rate, level_dbfs=-20.0)
        assert mixer.settings(party).rate == rate
    heard = run_mix(mixer, sources, 40)
    for listener, samples in heard.items():
        party = str(listener)
        rate = rates[party]
        assert len(samples) == (40 - WARMUP) * rate // 50
        for other, frequency in tones.items():
            share = tone_energy(samples, rate, frequency)
            if other == party:
                assert share < 1e-3, (party, other, share)
            else:
                assert share == pytest.approx(0.5, abs=0.05), (party, other, share)


def test_8_khz_party_through_ports() -> None:
    mixer = ConferenceMixer(RATE)
    narrow = mixer.add_party("narrow", rate=8000)
    wide = mixer.add_party("wide")
    narrow_tone = ToneSource(600.0, 8000, level_dbfs=-20.0)
    heard = []
    for tick in range(30):
        frame = narrow.source.read(tick * 0.02)
        assert len(frame) == 160
        narrow.sink.write(narrow_tone.read())
        heard.append(wide.source.read(tick * 0.02))
        wide.sink.write(np.zeros(FRAME, np.int16))
    samples = np.concatenate(heard[WARMUP:])
    assert tone_energy(samples, RATE, 600.0) > 0.95
    assert rms_dbfs(samples) == pytest.approx(-20.0, abs=0.5)


# -- properties -----------------------------------------------------------------------
frames = st.one_of(
    hnp.arrays(np.int16, st.sampled_from([0, 1, 160, 320, 500])),
    st.sampled_from([32767, -32768, 0, 1234]).map(lambda v: np.full(FRAME, v, np.int16)),
)
party_plans = st.lists(
    st.tuples(
        st.sampled_from([8000, 16000, 48000]),
        st.floats(0.0, MAX_GAIN),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=examples(60))
@given(
    party_plans,
    st.lists(st.lists(st.tuples(st.integers(0, 7), frames), max_size=8), min_size=1, max_size=6),
)
def test_any_frames_and_party_sets_give_bounded_frames(
    plan: Sequence[tuple[int, float, bool, bool]],
    ticks: Sequence[Sequence[tuple[int, NDArray[np.int16]]]],
) -> None:
    mixer = ConferenceMixer(RATE)
    for party, (rate, gain, muted, deaf) in enumerate(plan):
        mixer.add_party(party, rate=rate, gain=gain, muted=muted, deaf=deaf)
    for step, tick in enumerate(ticks):
        if step == 2 and len(plan) > 1:
            mixer.remove_party(0)
        outputs = mixer.mix(dict(tick))
        assert set(outputs) == set(mixer.parties)
        for listener, frame in outputs.items():
            settings_ = mixer.settings(listener)
            assert frame.dtype == np.int16 and frame.ndim == 1
            assert len(frame) == settings_.rate // 50
            if settings_.deaf and settings_.rate == RATE:
                assert not frame.any()


@settings(max_examples=examples(60))
@given(st.lists(hnp.arrays(np.float64, st.integers(0, 50)), min_size=1, max_size=3))
def test_soft_clip_never_overflows(blocks: list[NDArray[np.float64]]) -> None:
    for block in blocks:
        clipped = soft_clip(block)
        assert clipped.dtype == np.int16 and clipped.shape == block.shape
        assert np.all(np.abs(clipped.astype(np.int64)) <= 32767)
        finite = np.isfinite(block)
        assert np.all(np.sign(clipped[finite]) * np.sign(np.rint(block[finite])) >= 0)


@settings(max_examples=examples(40))
@given(
    st.lists(st.sampled_from("abcde"), min_size=1, max_size=5, unique=True),
    st.integers(1, 20),
    st.integers(0, 2**32 - 1),
)
def test_port_driven_mixer_computes_once_per_tick(names: list[str], ticks: int, seed: int) -> None:
    mixer = ConferenceMixer(RATE)
    ports: dict[Hashable, tuple[FrameSource, FrameSink]] = {}
    for name in names:
        port = mixer.add_party(name)
        ports[name] = (port.source, port.sink)
    generator = np.random.default_rng(seed)
    talkers: dict[Hashable, FrameSource] = {}
    for name in names:
        talkers[name] = ToneSource(float(generator.integers(100, 4000)), RATE, level_dbfs=0.0)
    heard = drive(mixer, ports, talkers, ticks, seed=seed)
    assert mixer.ticks == ticks and mixer.inputs_dropped == 0
    for frames in heard.values():
        assert all(frame.dtype == np.int16 and len(frame) == FRAME for frame in frames)
