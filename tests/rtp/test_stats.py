"""Receive statistics (RFC 3550 §A.1, §A.3, §A.8) and the E-model MOS estimate."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.rtp import SourceStatistics, mos_from_r, r_factor
from tests.conftest import examples

RATE = 8000


def feed(stats: SourceStatistics, seqs: list[int], start_ts: int = 1000) -> None:
    """Packets at 20 ms spacing whose timestamps follow their sequence numbers."""
    for i, seq in enumerate(seqs):
        stats.on_packet(seq & 0xFFFF, (start_ts + 160 * seq) & 0xFFFFFFFF, i * 0.02, 160)


def test_probation_then_counting() -> None:
    stats = SourceStatistics(1, 100, RATE)
    validity = []
    for seq in (100, 101):
        validity.append(stats.valid)
        feed(stats, [seq])
    validity.append(stats.valid)
    assert validity == [False, False, True]
    assert (stats.expected, stats.lost, stats.received) == (1, 0, 1)


def test_a_jump_during_probation_restarts_it() -> None:
    stats = SourceStatistics(1, 100, RATE)
    feed(stats, [100, 500, 501])
    assert stats.valid
    assert stats.base_seq == 501


@pytest.mark.parametrize("drop_every", [2, 5, 10])
def test_loss_and_fraction_lost(drop_every: int) -> None:
    stats = SourceStatistics(1, 0, RATE)
    seqs = [s for s in range(0, 201) if s < 2 or s % drop_every]
    feed(stats, seqs)
    # Counting starts at the packet that ended probation (seq 1).
    expected = max(seqs) - 1 + 1
    received = sum(1 for s in seqs if s >= 1)
    assert stats.expected == expected
    assert stats.lost == expected - received
    block = stats.report_block(5.0)
    assert block.cumulative_lost == expected - received
    assert block.fraction_lost == ((expected - received) << 8) // expected
    assert block.highest_sequence == max(seqs)
    # A second interval with no loss reports fraction 0 but keeps the cumulative count.
    feed(stats, list(range(max(seqs) + 1, 251)))
    block = stats.report_block(6.0)
    assert block.fraction_lost == 0
    assert block.cumulative_lost == expected - received


def test_wraparound_extends_the_sequence_number() -> None:
    stats = SourceStatistics(1, 65530, RATE)
    feed(stats, [65530 + i for i in range(12)])
    assert stats.cycles == 1 << 16
    assert stats.extended_max == (1 << 16) + 5
    assert stats.lost == 0


def test_duplicates_and_reordering() -> None:
    stats = SourceStatistics(1, 10, RATE)
    feed(stats, [10, 11, 12, 14, 13, 13, 14, 15, 15])
    assert stats.duplicates == 3
    assert stats.out_of_order == 1
    assert stats.lost == 0
    assert stats.packets == 6


def test_restart_after_a_big_jump_needs_two_sequential_packets() -> None:
    stats = SourceStatistics(1, 10, RATE)
    feed(stats, [10, 11, 12])
    assert not stats.on_packet(20000, 0, 1.0, 10)
    assert stats.on_packet(20001, 160, 1.02, 10)
    assert stats.base_seq == 20001


def reference_jitter(arrivals: list[float], timestamps: list[int]) -> float:
    """RFC 3550 §6.4.1: J += (|D(i-1, i)| - J) / 16 with D in timestamp units."""
    jitter = 0.0
    for i in range(1, len(arrivals)):
        d = (arrivals[i] - arrivals[i - 1]) * RATE - (timestamps[i] - timestamps[i - 1])
        jitter += (abs(d) - jitter) / 16
    return jitter


@settings(max_examples=examples(50))
@given(st.lists(st.floats(0.0, 0.05), min_size=2, max_size=60), st.integers(0, 0xFFFFFFFF))
def test_jitter_matches_the_rfc_formula(delays: list[float], ts0: int) -> None:
    stats = SourceStatistics(1, 0, RATE)
    arrivals = [i * 0.02 + delay for i, delay in enumerate(delays)]
    timestamps = [ts0 + 160 * i for i in range(len(delays))]
    for i, (arrival, ts) in enumerate(zip(arrivals, timestamps, strict=True)):
        stats.on_packet(i, ts & 0xFFFFFFFF, arrival, 160)
    assert stats.jitter == pytest.approx(reference_jitter(arrivals, timestamps), abs=1e-6)


def test_constant_delay_has_no_jitter_and_late_packets_are_counted() -> None:
    stats = SourceStatistics(1, 0, RATE, late_after=0.05)
    for i in range(50):
        stats.on_packet(i, 160 * i, 0.5 + 0.02 * i, 160)
    assert stats.jitter == 0.0
    stats.on_packet(50, 160 * 50, 0.5 + 0.02 * 50 + 0.2, 160)  # 200 ms later than the rest
    assert stats.late == 1
    assert stats.jitter == pytest.approx(0.2 * RATE / 16)


def test_random_loss_pattern() -> None:
    rng = random.Random(7)
    stats = SourceStatistics(1, 0, RATE)
    kept = [0, 1] + [s for s in range(2, 1000) if rng.random() > 0.1]
    feed(stats, kept)
    assert stats.lost == max(kept) - (len(kept) - 1)


def test_e_model() -> None:
    assert r_factor(0.0, 0.0) == pytest.approx(93.2)
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.01)
    assert mos_from_r(-5) == 1.0
    assert mos_from_r(120) == 4.5
    # Delay impairment above 177.3 ms adds the second term.
    d = 0.3
    expected_id = 0.024 * 300 + 0.11 * (300 - 177.3)
    assert r_factor(d, 0.0) == pytest.approx(93.2 - expected_id)
    # Loss with Bpl: Ie_eff = (95 - Ie) * Ppl / (Ppl + Bpl).
    assert r_factor(0.0, 0.05, "PCMA") == pytest.approx(93.2 - 95 * 5 / (5 + 25.1))
    assert r_factor(0.0, 0.05, "opus") > r_factor(0.0, 0.05, "PCMU")
    assert mos_from_r(r_factor(0.1, 0.01)) > mos_from_r(r_factor(0.1, 0.05))
