"""Hypothesis: random input sequences never break a transaction machine.

Each machine gets responses of random status, retransmitted requests and
ACKs, TU commands, transport errors and timer firings at random times.
Invariants: peer inputs and timers never raise; a command either works or
raises LocalProtocolError without changing anything; every state change
follows the RFC table; ``Terminated`` comes once, last; a terminated
machine has no timer and sends nothing; ``get_timer()`` is pure and, right
after ``handle_timer(now)``, never at or before ``now``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.message import Request, Response
from sansip.transaction import (
    ICT_TRANSITIONS,
    IST_TRANSITIONS,
    NICT_TRANSITIONS,
    NIST_TRANSITIONS,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    StateChanged,
    Terminated,
    TimerConfig,
    TransactionLayer,
)
from tests.conftest import examples
from tests.transaction.helpers import UAC, UAS, ack_for, request, response

STATUSES = st.sampled_from([100, 180, 183, 200, 202, 299, 302, 404, 486, 487, 500, 603, 699])
TIMERS = st.sampled_from([TimerConfig(), TimerConfig(t1=0.1, t2=0.4, t4=1.0, timer_d=2.0)])
STEP = st.one_of(
    st.tuples(st.just("wait"), st.floats(0.0, 40.0)),
    st.tuples(st.just("deadline"), st.just(0)),
    st.tuples(st.just("response"), STATUSES),
    st.tuples(st.just("respond"), STATUSES),
    st.tuples(st.just("retransmit"), st.just(0)),
    st.tuples(st.just("ack"), st.just(0)),
    st.tuples(st.just("transport_error"), st.just(0)),
    st.tuples(st.just("command"), st.just(0)),
)
PROPERTY = settings(max_examples=examples(300), deadline=None)


@cache
def _request(method: str) -> Request:
    return request(method, branch="z9hG4bKprop")


@cache
def _response(method: str, status: int) -> Response:
    return response(_request(method), status)


def _make(kind: str, reliable: bool, timers: TimerConfig) -> tuple[Any, Mapping[Any, Any], str]:
    if kind == "ict":
        tx: Any = InviteClientTransaction(
            _request("INVITE"), UAS, reliable=reliable, now=0.0, timers=timers
        )
        return tx, ICT_TRANSITIONS, "INVITE"
    if kind == "nict":
        tx = NonInviteClientTransaction(
            _request("OPTIONS"), UAS, reliable=reliable, now=0.0, timers=timers
        )
        return tx, NICT_TRANSITIONS, "OPTIONS"
    if kind == "ist":
        tx = InviteServerTransaction(
            _request("INVITE"), UAC, reliable=reliable, now=0.0, timers=timers
        )
        return tx, IST_TRANSITIONS, "INVITE"
    tx = NonInviteServerTransaction(
        _request("OPTIONS"), UAC, reliable=reliable, now=0.0, timers=timers
    )
    return tx, NIST_TRANSITIONS, "OPTIONS"


def _run(kind: str, reliable: bool, timers: TimerConfig, steps: list[tuple[str, Any]]) -> None:
    tx, table, method = _make(kind, reliable, timers)
    client = kind in ("ict", "nict")
    now = 0.0
    state = tx.state
    terminated_seen = False
    for action, arg in steps:
        before = tx.state
        fired = False
        if action == "wait":
            now += arg
            tx.handle_timer(now)
            fired = True
        elif action == "deadline":
            at = tx.get_timer()
            if at is not None:
                now = max(now, at)
            tx.handle_timer(now)
            fired = True
        elif action == "response":
            if client:
                tx.receive_response(_response(method, arg), now)
        elif action == "respond":
            if not client:
                tx.datagrams_to_send(now)
                try:
                    tx.respond(_response(method, arg), now)
                except LocalProtocolError:
                    assert tx.state is before
                    assert tx.datagrams_to_send(now) == []  # nothing was queued
        elif action == "retransmit":
            if not client:
                tx.receive_request(_request(method), now)
        elif action == "ack":
            if kind == "ist":
                tx.receive_request(ack_for(_request("INVITE")), now)
        elif action == "transport_error":
            tx.transport_error(now)
        elif action == "command" and kind == "ict":
            try:
                tx.cancel_request()
            except LocalProtocolError:
                assert tx.state not in (type(tx.state).CALLING, type(tx.state).PROCEEDING)

        # Events: state changes follow the table, Terminated comes once, last.
        while (event := tx.next_event()) is not None:
            assert not terminated_seen, "event after Terminated"
            if isinstance(event, StateChanged):
                assert event.old is state
                assert event.new in table[event.old], f"{event.old} -> {event.new}"
                state = event.new
            elif isinstance(event, Terminated):
                assert state.name == "TERMINATED"
                terminated_seen = True
        assert tx.state is state
        # Timers: pure, never in the past after firing, none once terminated.
        timer = tx.get_timer()
        assert tx.get_timer() == timer
        if fired and timer is not None:
            assert timer > now
        out = tx.datagrams_to_send(now)
        assert all(dest == tx.dest for _, dest in out)
        if tx.terminated:
            assert timer is None
            if before.name == "TERMINATED":
                assert out == []
        if reliable and client:
            assert "A" not in tx.armed_timers and "E" not in tx.armed_timers
        if reliable and kind == "ist":
            assert "G" not in tx.armed_timers


@PROPERTY
@given(st.booleans(), TIMERS, st.lists(STEP, max_size=30))
def test_ict_random_inputs(reliable: bool, timers: TimerConfig, steps: list[Any]) -> None:
    _run("ict", reliable, timers, steps)


@PROPERTY
@given(st.booleans(), TIMERS, st.lists(STEP, max_size=30))
def test_nict_random_inputs(reliable: bool, timers: TimerConfig, steps: list[Any]) -> None:
    _run("nict", reliable, timers, steps)


@PROPERTY
@given(st.booleans(), TIMERS, st.lists(STEP, max_size=30))
def test_ist_random_inputs(reliable: bool, timers: TimerConfig, steps: list[Any]) -> None:
    _run("ist", reliable, timers, steps)


@PROPERTY
@given(st.booleans(), TIMERS, st.lists(STEP, max_size=30))
def test_nist_random_inputs(reliable: bool, timers: TimerConfig, steps: list[Any]) -> None:
    _run("nist", reliable, timers, steps)


@PROPERTY
@given(st.booleans(), TIMERS, st.lists(STEP, min_size=1, max_size=60))
def test_every_machine_terminates_when_time_runs_out(
    reliable: bool, timers: TimerConfig, steps: list[Any]
) -> None:
    """Whatever happened, once the TU has answered (servers) and enough time
    passes, no machine is left alive except a ringing INVITE client, which
    waits for the TU to CANCEL or abandon it."""
    for kind in ("ict", "nict", "ist", "nist"):
        tx, _, method = _make(kind, reliable, timers)
        _run_quiet(tx, kind, method, steps)
        if kind in ("ist", "nist") and tx.state.name in ("PROCEEDING", "TRYING"):
            tx.respond(_response(method, 500), 1000.0)
        if kind == "ict" and tx.state.name == "PROCEEDING":
            tx.abandon(1000.0)
        now = 1000.0
        for _ in range(100):
            at = tx.get_timer()
            if at is None:
                break
            now = max(now, at)
            tx.handle_timer(now)
        assert tx.terminated and tx.get_timer() is None


def _run_quiet(tx: Any, kind: str, method: str, steps: list[Any]) -> None:
    now = 0.0
    for action, arg in steps:
        if action == "wait":
            now += arg
            tx.handle_timer(now)
        elif action == "response" and kind in ("ict", "nict"):
            tx.receive_response(_response(method, arg), now)
        elif action == "respond" and kind in ("ist", "nist"):
            with contextlib.suppress(LocalProtocolError):
                tx.respond(_response(method, arg), now)
        elif action == "retransmit" and kind in ("ist", "nist"):
            tx.receive_request(_request(method), now)
        elif action == "ack" and kind == "ist":
            tx.receive_request(ack_for(_request("INVITE")), now)


BRANCHES = st.sampled_from(["z9hG4bKb1", "z9hG4bKb2", "z9hG4bKb3", None])
LAYER_STEP = st.one_of(
    st.tuples(st.just("send"), st.sampled_from(["INVITE", "OPTIONS"]), BRANCHES, st.booleans()),
    st.tuples(
        st.just("request"),
        st.sampled_from(["INVITE", "OPTIONS", "ACK", "CANCEL"]),
        BRANCHES,
        st.booleans(),
    ),
    st.tuples(
        st.just("response"), st.sampled_from(["INVITE", "OPTIONS", "CANCEL"]), BRANCHES, STATUSES
    ),
    st.tuples(st.just("respond"), st.integers(0, 10), STATUSES, st.just(0)),
    st.tuples(st.just("error"), st.integers(0, 10), st.just(0), st.just(0)),
    st.tuples(st.just("wait"), st.floats(0.0, 20.0), st.just(0), st.just(0)),
)


@cache
def _layer_request(method: str, branch: str | None) -> Request:
    return request(method, branch=branch)


@cache
def _layer_response(method: str, branch: str | None, status: int) -> Response:
    return response(_layer_request(method, branch), status)


@PROPERTY
@given(st.lists(LAYER_STEP, max_size=40))
def test_layer_random_inputs(steps: list[Any]) -> None:
    """The layer never raises on network input, its timer is the earliest
    child deadline, and terminated transactions are gone."""
    layer = TransactionLayer()
    keys: list[Any] = []
    now = 0.0
    for action, a, b, c in steps:
        if action == "send" and b is not None:
            with contextlib.suppress(LocalProtocolError):  # a branch already in use
                keys.append(layer.send_request(_layer_request(a, b), UAS, reliable=c, now=now))
        elif action == "request":
            key = layer.receive_request(_layer_request(a, b), UAC, reliable=c, now=now)
            if key is not None:
                keys.append(key)
        elif action == "response":
            layer.receive_response(_layer_response(a, b, c), now)
        elif action == "respond" and keys:
            key = keys[a % len(keys)]
            tx = layer.get(key)
            method = tx.request.method if tx is not None else "OPTIONS"
            with contextlib.suppress(LocalProtocolError):
                layer.respond(key, response(_layer_request(method, "z9hG4bKb1"), b), now)
        elif action == "error" and keys:
            layer.transport_error(keys[a % len(keys)], now)
        elif action == "wait":
            now += a
            layer.handle_timer(now)
        live = [tx for key in set(keys) if (tx := layer.get(key)) is not None]
        assert len(live) == len(layer)
        assert not any(tx.terminated for tx in live)
        deadlines = [t for tx in live if (t := tx.get_timer()) is not None]
        assert layer.get_timer() == min(deadlines, default=None)
        while (pair := layer.next_event()) is not None:
            if isinstance(pair[1], Terminated):
                assert pair[0] not in layer
        layer.datagrams_to_send(now)
