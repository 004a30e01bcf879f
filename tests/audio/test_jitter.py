"""The adaptive jitter buffer under synthetic arrival patterns."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.audio.jitter import (
    Arrival,
    Empty,
    Frame,
    JitterBuffer,
    JitterSize,
    JitterStats,
    Missing,
    Playout,
)
from sansip.errors import LocalProtocolError
from tests.conftest import examples

RATE = 8000
PTIME = 0.020
SAMPLES = 160


@dataclass(order=True)
class Packet:
    arrival: float
    seq: int
    timestamp: int
    marker: bool = False
    silent: bool = False
    payload: bytes = field(default=b"", compare=False)


def stream(
    count: int,
    *,
    first_seq: int = 1000,
    first_ts: int = 50_000,
    start: float = 0.0,
    delay: float = 0.030,
    ptime: float = PTIME,
) -> list[Packet]:
    """``count`` packets sent every ``ptime``, all arriving ``delay`` later."""
    step = round(RATE * ptime)
    return [
        Packet(
            start + i * ptime + delay,
            (first_seq + i) % 65536,
            (first_ts + i * step) % 2**32,
            payload=i.to_bytes(4, "big"),
        )
        for i in range(count)
    ]


def run(
    jb: JitterBuffer, packets: list[Packet], until: float, *, phase: float = 0.007
) -> list[tuple[float, Playout]]:
    """Deliver packets by arrival time and pop once per 20 ms tick until ``until``."""
    pending = sorted(packets)
    out: list[tuple[float, Playout]] = []
    index, tick = 0, phase
    while tick < until:
        while index < len(pending) and pending[index].arrival <= tick:
            p = pending[index]
            jb.push(p.seq, p.timestamp, p.payload, p.arrival, marker=p.marker, silent=p.silent)
            index += 1
        out.append((tick, jb.pop(tick)))
        tick += PTIME
    return out


def frames(results: list[tuple[float, Playout]]) -> list[Frame]:
    return [r for _, r in results if isinstance(r, Frame)]


def missing(results: list[tuple[float, Playout]]) -> list[Missing]:
    return [r for _, r in results if isinstance(r, Missing)]


def accounted(stats: JitterStats) -> int:
    return (
        stats.played
        + stats.late
        + stats.duplicates
        + stats.rejected
        + stats.overflow_drops
        + stats.drift_drops
        + stats.flushed
        + stats.buffered
    )


def test_in_order_stream_plays_every_packet_in_order_after_the_target_delay() -> None:
    jb = JitterBuffer(RATE)
    packets = stream(100)
    results = run(jb, packets, 3.0)
    played = frames(results)
    assert [f.payload for f in played] == [p.payload for p in packets]
    assert all(f.duration == SAMPLES for f in played[:-1])
    first_tick = next(t for t, r in results if isinstance(r, Frame))
    assert first_tick >= packets[0].arrival + jb.target_delay
    stats = jb.stats()
    assert (stats.lost, stats.late, stats.concealed, stats.received) == (0, 0, 0, 100)
    assert stats.played == 100 == accounted(stats)


def test_reordered_packets_come_out_in_sequence() -> None:
    packets = stream(60)
    for i in range(10, 50, 4):  # swap neighbours: the later one arrives 5 ms earlier
        packets[i].arrival, packets[i + 1].arrival = packets[i + 1].arrival, packets[i].arrival
    jb = JitterBuffer(RATE)
    played = frames(run(jb, packets, 2.5))
    assert [f.seq & 0xFFFF for f in played] == [p.seq for p in packets]
    stats = jb.stats()
    assert stats.reordered == 10
    assert stats.lost == stats.late == 0


def test_duplicates_are_dropped_and_counted() -> None:
    packets = stream(40)
    copies = [Packet(p.arrival + 0.004, p.seq, p.timestamp, payload=p.payload) for p in packets]
    jb = JitterBuffer(RATE)
    played = frames(run(jb, packets + copies, 2.0))
    assert [f.payload for f in played] == [p.payload for p in packets]
    stats = jb.stats()
    assert stats.duplicates == 40
    assert stats.received == 80 == accounted(stats)


def test_lost_packets_become_missing_at_their_timestamps() -> None:
    packets = [p for i, p in enumerate(stream(60)) if i not in (10, 20, 21)]
    jb = JitterBuffer(RATE, min_delay=0.06)  # later packets are there when a hole comes
    results = run(jb, packets, 2.0)
    holes = missing(results)
    assert [(m.timestamp, m.duration) for m in holes] == [
        (50_000 + i * SAMPLES, SAMPLES) for i in (10, 20, 21)
    ]
    assert [m.seq for m in holes] == [1010, 1020, 1021]
    stats = jb.stats()
    assert stats.lost == 3 and stats.concealed == 3
    assert stats.played == 57


def test_underrun_ticks_count_towards_a_hole_so_the_delay_does_not_grow() -> None:
    packets = [p for i, p in enumerate(stream(60)) if i not in (20, 21)]
    jb = JitterBuffer(RATE, jittersize=JitterSize.SMALL)  # thin: no packet waits behind a hole
    results = run(jb, packets, 2.0)
    when = {r.seq: t for t, r in results if isinstance(r, Frame)}
    arrival = {p.seq: p.arrival for p in packets}
    assert when[1022] - arrival[1022] == pytest.approx(when[1019] - arrival[1019])
    index = next(i for i, (_, r) in enumerate(results) if isinstance(r, Frame) and r.seq == 1019)
    middle = [r for _, r in results[index + 1 : index + 3]]
    assert middle == [Empty(), Missing(50_000 + 21 * SAMPLES, SAMPLES, 1021)]
    assert jb.stats().lost == 2


def test_peek_after_a_hole_offers_the_next_packet_for_fec() -> None:
    jb = JitterBuffer(RATE, jittersize=JitterSize.NONE)
    for i in (0, 2, 3):
        jb.push(i, i * SAMPLES, bytes([i]), 0.0)
    assert isinstance(jb.pop(0.0), Frame)
    hole = jb.pop(0.02)
    assert isinstance(hole, Missing) and hole.seq == 1
    following = jb.peek()
    assert following is not None and following.seq == hole.seq + 1
    assert following.payload == bytes([2])
    assert jb.pop(0.04) == following  # peeking did not consume it


def test_a_packet_arriving_after_its_playout_is_late_and_its_slot_concealed() -> None:
    packets = stream(80)
    packets[30].arrival += 0.6  # beyond max_delay: cannot be waited for
    jb = JitterBuffer(RATE, max_delay=0.2)
    results = run(jb, packets, 3.0)
    assert [m.seq for m in missing(results)] == [1030]
    stats = jb.stats()
    assert stats.late == 1 and stats.lost == 1
    assert stats.played == 79
    assert stats.received == accounted(stats)


def test_a_short_delay_spike_is_absorbed_by_freezing_not_lost() -> None:
    packets = stream(80)
    for p in packets[30:35]:  # a 100 ms spike on five packets
        p.arrival = packets[35].arrival - 0.001
    jb = JitterBuffer(RATE, jittersize=JitterSize.SMALL)
    results = run(jb, packets, 3.5)
    played = [f.seq for f in frames(results)]
    assert played[:34] == list(range(1000, 1034))  # the delayed ones were waited for
    stats = jb.stats()
    assert stats.lost == stats.late == 0
    assert stats.underruns >= 1  # the position froze while waiting
    # Afterwards the excess delay is shed by dropping frames, not by losing any.
    assert 1 <= stats.drift_drops <= 5
    assert len(played) + stats.drift_drops == 80


@pytest.mark.parametrize(("first_seq", "first_ts"), [(65_500, 10_000), (200, 2**32 - 3_000)])
def test_sequence_and_timestamp_wrap_around(first_seq: int, first_ts: int) -> None:
    packets = stream(100, first_seq=first_seq, first_ts=first_ts)
    for i in range(40, 80, 5):  # some reordering right across the wrap
        packets[i].arrival += 0.025
    jb = JitterBuffer(RATE)
    played = frames(run(jb, packets, 3.0))
    assert [f.payload for f in played] == [p.payload for p in packets]
    assert [f.seq & 0xFFFF for f in played] == [p.seq for p in packets]
    assert [f.timestamp & 0xFFFFFFFF for f in played] == [p.timestamp for p in packets]
    unwrapped = [f.timestamp for f in played]
    assert all(b - a == SAMPLES for a, b in itertools.pairwise(unwrapped))
    assert jb.stats().lost == 0


def test_marker_talkspurt_after_silence_restarts_without_concealing_the_gap() -> None:
    first = stream(50)
    # 2 s of silence (no packets), then a new talkspurt: contiguous seq, marker, ts jumped.
    second = stream(50, first_seq=1050, first_ts=50_000 + 50 * SAMPLES + 2 * RATE, start=3.0)
    second[0].marker = True
    jb = JitterBuffer(RATE)
    results = run(jb, first + second, 5.0)
    assert missing(results) == []
    played = frames(results)
    assert [f.seq for f in played] == list(range(1000, 1100))
    restart = next(t for t, r in results if isinstance(r, Frame) and r.marker)
    # Re-anchored at the target delay after the talkspurt's first arrival.
    assert second[0].arrival + jb.target_delay <= restart < second[0].arrival + 0.15
    stats = jb.stats()
    assert stats.lost == 0 and stats.concealed == 0


def test_silence_gap_without_marker_is_not_concealed_either() -> None:
    first = stream(30)
    second = stream(30, first_seq=1030, first_ts=50_000 + 30 * SAMPLES + RATE, start=1.6)
    jb = JitterBuffer(RATE)
    results = run(jb, first + second, 3.0)
    assert missing(results) == []
    assert len(frames(results)) == 60


def test_ssrc_style_restart_resynchronises_after_two_consistent_packets() -> None:
    first = stream(40)
    second = stream(40, first_seq=40_000, first_ts=7, start=0.8)
    jb = JitterBuffer(RATE)
    results = run(jb, first + second, 3.0)
    stats = jb.stats()
    assert stats.resyncs == 1
    assert stats.rejected == 1  # the first packet of the new stream, unconfirmed
    played = frames(results)
    assert [f.seq for f in played if f.seq >= 40_000] == list(range(40_001, 40_040))
    assert stats.received == accounted(stats)


def test_timestamps_restarting_backwards_resynchronise() -> None:
    first = stream(40)
    second = stream(40, first_seq=1040, first_ts=100, start=0.8)
    jb = JitterBuffer(RATE)
    results = run(jb, first + second, 3.0)
    stats = jb.stats()
    assert stats.resyncs == 1
    assert [f.seq for f in frames(results)][-39:] == list(range(1041, 1080))


def test_a_lone_stray_packet_is_rejected_without_disturbing_playout() -> None:
    packets = stream(60)
    packets.append(Packet(0.5, 30_000, 123, payload=b"stray"))
    jb = JitterBuffer(RATE)
    played = frames(run(jb, packets, 2.5))
    assert [f.seq for f in played] == list(range(1000, 1060))
    assert jb.stats().rejected == 1 and jb.stats().resyncs == 0


def test_overflow_drops_the_oldest_when_playout_stalls() -> None:
    jb = JitterBuffer(RATE, capacity=0.5, max_delay=0.2)
    for p in stream(100):
        jb.push(p.seq, p.timestamp, p.payload, p.arrival)
    stats = jb.stats()
    assert stats.overflow_drops == 100 - 25
    assert jb.buffered <= 0.5
    first = jb.pop(10.0)
    assert isinstance(first, Frame) and first.seq == 1075


@pytest.mark.parametrize("hint", [None, 0.060])
def test_variable_ptime_through_timestamps(hint: float | None) -> None:
    # 60 ms packets; the consumer pops only when its 20 ms PCM runs out.
    packets = stream(30, ptime=0.060)
    packets[10:] = [p for p in packets[10:] if p.seq != 1012]  # one loss
    jb = JitterBuffer(RATE, packet_duration=hint)
    pending = sorted(packets)
    index, tick, pcm = 0, 0.003, 0
    outputs: list[Playout] = []
    while tick < 2.5:
        while index < len(pending) and pending[index].arrival <= tick:
            p = pending[index]
            jb.push(p.seq, p.timestamp, p.payload, p.arrival)
            index += 1
        if pcm <= 0:
            result = jb.pop(tick)
            outputs.append(result)
            pcm += result.duration if isinstance(result, Frame | Missing) else SAMPLES
        pcm -= SAMPLES
        tick += PTIME
    played = [r for r in outputs if isinstance(r, Frame)]
    assert len(played) == 29
    # Without the hint, the first packet is played before its successor taught 60 ms.
    assert {f.duration for f in played[0 if hint else 1 :]} == {480}
    holes = [r for r in outputs if isinstance(r, Missing)]
    assert [(m.seq, m.duration) for m in holes] == [(1012, 480)]
    assert jb.packet_samples == 480


def test_ptime_change_mid_stream_is_learned() -> None:
    first = stream(20)
    second = stream(20, first_seq=1020, first_ts=50_000 + 20 * SAMPLES, start=0.4, ptime=0.040)
    jb = JitterBuffer(RATE)
    results = run(jb, first + second, 3.0)
    played = frames(results)
    assert [f.seq for f in played] == list(range(1000, 1040))
    assert played[-2].duration == 320
    assert jb.packet_samples == 320
    assert missing(results) == []


def drifting_arrivals(seconds: float, drift: float, seed: int, jitter: float) -> list[Packet]:
    """A sender whose clock runs ``drift`` fast, over a jittery path."""
    rng = random.Random(seed)
    speed = 1.0 + drift
    return [
        Packet(i * PTIME / speed + 0.05 + rng.random() * jitter, i % 65536, i * SAMPLES % 2**32)
        for i in range(int(seconds * speed / PTIME))
    ]


@pytest.mark.parametrize("drift", [0.01, -0.01])
def test_clock_drift_over_five_minutes_keeps_the_level_bounded(drift: float) -> None:
    seconds = 300.0
    jb = JitterBuffer(RATE)
    pending = drifting_arrivals(seconds, drift, seed=7, jitter=0.02)
    index, tick, worst = 0, 0.003, 0.0
    while tick < seconds:
        while index < len(pending) and pending[index].arrival <= tick:
            p = pending[index]
            jb.push(p.seq, p.timestamp, p.payload, p.arrival)
            index += 1
        jb.pop(tick)
        if tick > 2.0:
            worst = max(worst, jb.buffered)
        tick += PTIME
    stats = jb.stats()
    # Without correction the level would drift by 3 s; it stays within a few packets.
    assert worst <= 0.12
    assert abs(stats.current_delay_ms - stats.target_delay_ms) < 40
    expected_corrections = seconds * abs(drift) / PTIME  # 150 frames
    corrections = stats.drift_drops if drift > 0 else stats.inserted + stats.underruns
    assert 0.8 * expected_corrections <= corrections <= 1.3 * expected_corrections
    assert stats.late + stats.lost <= 0.002 * stats.received
    assert stats.received == accounted(stats)


def test_drift_shrinks_prefer_frames_marked_silent() -> None:
    pending = drifting_arrivals(60.0, 0.01, seed=3, jitter=0.01)
    for p in pending:
        p.silent = p.seq % 10 == 0
    jb = JitterBuffer(RATE)
    played = {f.seq for f in frames(run(jb, pending, 60.0))}
    dropped = set(range(max(played))) - played
    assert len(dropped) == jb.stats().drift_drops >= 20
    assert all(seq % 10 == 0 for seq in dropped)


def test_target_delay_grows_monotonically_with_jittersize() -> None:
    targets = []
    for size in JitterSize:
        jb = JitterBuffer(RATE, jittersize=size)
        run(jb, drifting_arrivals(10.0, 0.0, seed=11, jitter=0.06), 10.0)
        targets.append(jb.target_delay)
    assert targets == sorted(targets)
    assert targets[0] < targets[3] < targets[-1] == 0.5


def test_jittersize_can_change_at_run_time() -> None:
    jb = JitterBuffer(RATE, jittersize=JitterSize.SMALL)
    run(jb, drifting_arrivals(5.0, 0.0, seed=2, jitter=0.04), 5.0)
    small = jb.target_delay
    jb.jittersize = JitterSize.EXTRA_BIG
    assert jb.target_delay > small
    with pytest.raises(LocalProtocolError):
        jb.jittersize = 7


def test_bigger_jitter_gives_a_bigger_target() -> None:
    calm, rough = JitterBuffer(RATE), JitterBuffer(RATE)
    run(calm, drifting_arrivals(5.0, 0.0, seed=5, jitter=0.005), 5.0)
    run(rough, drifting_arrivals(5.0, 0.0, seed=5, jitter=0.08), 5.0)
    assert rough.target_delay > calm.target_delay + 0.04
    assert rough.stats().jitter_ms > calm.stats().jitter_ms


def test_misuse_raises() -> None:
    with pytest.raises(LocalProtocolError):
        JitterBuffer(0)
    with pytest.raises(LocalProtocolError):
        JitterBuffer(RATE, jittersize=9)
    with pytest.raises(LocalProtocolError):
        JitterBuffer(RATE, min_delay=0.3, max_delay=0.1)
    jb = JitterBuffer(RATE)
    with pytest.raises(LocalProtocolError):
        jb.push(65536, 0, b"", 0.0)
    with pytest.raises(LocalProtocolError):
        jb.push(0, 2**32, b"", 0.0)


def test_reset_flushes_and_counts() -> None:
    jb = JitterBuffer(RATE)
    for p in stream(5):
        assert jb.push(p.seq, p.timestamp, p.payload, p.arrival) is Arrival.BUFFERED
    jb.reset()
    stats = jb.stats()
    assert (stats.flushed, stats.buffered, stats.resyncs) == (5, 0, 1)
    assert isinstance(jb.pop(1.0), Empty)
    assert jb.push(9, 9, b"", 1.0) is Arrival.BUFFERED


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.integers(0, 65535),
            st.integers(0, 2**32 - 1),
            st.booleans(),
            st.floats(0, 0.1),
        ),
        st.tuples(st.just("near"), st.integers(-5, 8), st.integers(-3, 6), st.booleans()),
        st.tuples(st.just("pop"), st.floats(0, 0.1)),
    ),
    max_size=200,
)


@settings(max_examples=examples(150))
@given(operations, st.sampled_from(list(JitterSize)), st.sampled_from([10, 20, 60]))
def test_random_pushes_and_pops_never_crash_and_keep_the_books(
    ops: list[tuple[object, ...]], size: JitterSize, ptime_ms: int
) -> None:
    jb = JitterBuffer(RATE, ptime_ms / 1000, jittersize=size, max_delay=0.2, capacity=0.4)
    now, seq, ts = 0.0, 0, 0
    last_stamp: int | None = None
    epoch = 0
    for op in ops:
        if op[0] == "push":
            _, new_seq, new_ts, marker, dt = op
            assert isinstance(new_seq, int) and isinstance(new_ts, int)
            assert isinstance(dt, float)
            seq, ts, now = new_seq, new_ts, now + dt
            jb.push(seq, ts, b"p", now, marker=bool(marker))
        elif op[0] == "near":  # a plausible next packet: small steps from the last one
            _, dseq, dframes, marker = op
            assert isinstance(dseq, int) and isinstance(dframes, int)
            seq, ts = (seq + dseq) % 65536, (ts + dframes * SAMPLES) % 2**32
            jb.push(seq, ts, b"n", now, marker=bool(marker))
        else:
            dt = op[1]
            assert isinstance(dt, float)
            now += dt
            result = jb.pop(now)
            if jb.stats().resyncs != epoch:
                epoch, last_stamp = jb.stats().resyncs, None
            if isinstance(result, Frame | Missing):
                assert result.duration > 0
                assert last_stamp is None or result.timestamp > last_stamp
                last_stamp = result.timestamp
        stats = jb.stats()
        assert stats.received == accounted(stats)
        assert stats.buffered * jb.packet_samples <= 0.4 * RATE or stats.buffered == 1


@settings(max_examples=examples(100))
@given(operations, st.sampled_from(list(JitterSize)))
def test_pop_payload_plays_what_pop_plays(ops: list[tuple[object, ...]], size: JitterSize) -> None:
    """pop_payload is pop without the Frame: the payload of each frame, the rest as is."""
    full, bare = (JitterBuffer(RATE, jittersize=size, max_delay=0.2) for _ in range(2))
    now, seq, ts = 0.0, 0, 0
    for op in ops:
        if op[0] == "pop":
            dt = op[1]
            assert isinstance(dt, float)
            now += dt
            result, payload = full.pop(now), bare.pop_payload(now)
            assert payload == (result.payload if isinstance(result, Frame) else result)
            continue
        if op[0] == "push":
            _, new_seq, new_ts, marker, dt = op
            assert isinstance(new_seq, int) and isinstance(new_ts, int)
            assert isinstance(dt, float)
            seq, ts, now = new_seq, new_ts, now + dt
        else:
            _, dseq, dframes, marker = op
            assert isinstance(dseq, int) and isinstance(dframes, int)
            seq, ts = (seq + dseq) % 65536, (ts + dframes * SAMPLES) % 2**32
        data = seq.to_bytes(2, "big")
        arrival = full.push(seq, ts, data, now, marker=bool(marker))
        assert bare.push(seq, ts, data, now, marker=bool(marker)) is arrival
    assert full.stats() == bare.stats()


@settings(max_examples=examples(100))
@given(st.lists(st.tuples(st.integers(0, 40), st.floats(0, 0.08)), min_size=1, max_size=120))
def test_output_timestamps_strictly_increase(arrivals: list[tuple[int, float]]) -> None:
    """Any arrival order of one stream's packets: output strictly increasing, never repeated."""
    jb = JitterBuffer(RATE)
    packets = sorted(
        Packet(index * PTIME + extra, index, index * SAMPLES) for index, extra in arrivals
    )
    results = run(jb, packets, 2.0)
    stamps = [r.timestamp for _, r in results if isinstance(r, Frame | Missing)]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    played = [r.seq for _, r in results if isinstance(r, Frame)]
    assert len(played) == len(set(played)) == jb.stats().played
    stats = jb.stats()
    assert stats.received == len(arrivals) == accounted(stats)
    assert stats.played + stats.buffered <= len({index for index, _ in arrivals})


def test_a_played_packet_sent_again_is_a_duplicate_within_the_misorder_window() -> None:
    jb = JitterBuffer(RATE)
    packets = stream(1100)
    assert len(frames(run(jb, packets, 1110 * PTIME))) == 1100
    now = 1110 * PTIME
    for back in (1, 99):  # played, and within 100 of the highest sequence number
        again = packets[1099 - back]
        assert jb.push(again.seq, again.timestamp, b"", now) is Arrival.DUPLICATE
    stray = packets[1099 - 101]
    assert jb.push(stray.seq, stray.timestamp, b"", now) is Arrival.REJECTED
    stats = jb.stats()
    assert (stats.duplicates, stats.late, stats.rejected) == (2, 0, 1)


@pytest.mark.parametrize(
    ("size", "expected"), [(JitterSize.NONE, 0.0), (JitterSize.NORMAL, 0.030)]
)  # fmt: skip
def test_the_target_follows_the_percentile_of_the_transit_spread(
    size: JitterSize, expected: float
) -> None:
    packets = stream(200, delay=0.005)
    for i, packet in enumerate(packets):
        if i % 10 == 3:  # one packet in ten is 10 ms later than the rest
            packet.arrival += 0.010
    jb = JitterBuffer(RATE, jittersize=size)
    run(jb, packets, 4.0)
    # NONE: the median spread (0), no base; NORMAL: one packet (20 ms) + the 95th (10 ms)
    assert jb.target_delay == pytest.approx(expected, abs=1e-9)
    jb.jittersize = JitterSize.EXTRA_SMALL  # half a packet + the 80th percentile (0)
    assert jb.target_delay == pytest.approx(0.010, abs=1e-9)
