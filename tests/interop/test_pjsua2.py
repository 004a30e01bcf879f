"""Calls between sansip and PJSUA2 (PJSIP's own Python binding, pip
``pjsua2-python``, run by ``tests/interop/pjsua2_peer.py``) on 127.0.0.1,
no proxy: an attended transfer with Replaces (RFC 3891, RFC 5589), which
baresip 1.0 cannot do (see ``test_baresip.py``) and PJSIP can."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.interop.peers import (
    free_udp_port,
    json_lines,
    pjsua2_events,
    sansip,
    start,
    start_pjsua2,
    stop,
    wait_listening,
)

pytestmark = pytest.mark.interop


def _wait(check: Callable[[], object], seconds: float) -> bool:
    """Wait until ``check()`` holds (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _records(log: Path) -> list[dict[str, Any]]:
    """The JSON call records ``sansip answer --json`` printed so far."""
    records = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line being written
    return records


def _states(events: list[dict[str, Any]], callid: object) -> list[str]:
    """The states PJSUA2's call with Call-ID ``callid`` went through."""
    return [e["state"] for e in events if e["event"] == "call_state" and e["callid"] == callid]


def _tags(replaces: str) -> tuple[str, dict[str, str]]:
    """A Replaces value's Call-ID and its parameters (to-tag, from-tag, ...)."""
    callid, *params = replaces.split(";")
    return callid.strip(), {
        name.strip().lower(): value.strip() for name, _, value in (p.partition("=") for p in params)
    }


@pytest.mark.timeout(240)
def test_pjsua2_follows_an_attended_transfer_with_replaces(tmp_path: Path) -> None:
    """alice (``sansip call --transfer-to carol --attended``) calls bob
    (PJSUA2, answering), then carol (``sansip answer``), then REFERs bob
    to carol with ``Refer-To: <carol?Replaces=alice-carol's dialog>``.
    PJSUA2 calls carol with that Replaces header; carol takes the call at
    once and ends her call with alice as replaced; bob NOTIFYs 200, alice
    reports the transfer done and hangs up; bob and carol stay in a call
    until bob is stopped (he hangs up)."""
    bob_port = free_udp_port()
    carol_port = free_udp_port()
    while carol_port == bob_port:
        carol_port = free_udp_port()
    carol_log = tmp_path / "carol.log"
    carol_uri = f"sip:carol@127.0.0.1:{carol_port}"
    bob = start_pjsua2(tmp_path, bob_port, user="bob", answer=True)
    carol: subprocess.Popen[bytes] | None = None
    carol_status: int | None = None
    try:
        carol = start(sansip("answer", "--listen", f"127.0.0.1:{carol_port}", "--count", "2",
                             "--json", "-p", "username=carol"), carol_log)  # fmt: skip
        wait_listening(carol_port, carol, seconds=30)
        alice = subprocess.run(
            sansip("call", f"sip:bob@127.0.0.1:{bob_port}", "--transfer-to", carol_uri,
                   "--attended", "--duration", "30", "--timeout", "60", "--json",
                   "-p", "username=alice"),
            capture_output=True, timeout=150, check=False,
        )  # fmt: skip

        def joined() -> bool:
            """bob's call to carol is up and carol's call with alice is over."""
            events = pjsua2_events(tmp_path)
            sent = [e for e in events if e["event"] == "invite_sent"]
            return (bool(sent) and "CONFIRMED" in _states(events, sent[-1]["callid"])
                    and len(_records(carol_log)) >= 1)  # fmt: skip

        _wait(joined, 30)
        time.sleep(1.5)  # bob and carol stay together, alice out of it
        during = pjsua2_events(tmp_path), _records(carol_log), carol.poll()
    finally:
        stop(bob)  # hangs up his calls first: a BYE to carol
        if carol is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                carol_status = carol.wait(30)  # done after her second call
            stop(carol)

    events, carol_then, carol_exit = during
    records = _records(carol_log)
    log = (
        f"alice: {alice.stdout.decode()} {alice.stderr.decode()}\n"
        f"carol: {carol_log.read_text(errors='replace')}\n"
        "bob: " + "\n".join(json.dumps(e) for e in pjsua2_events(tmp_path))
    )

    # alice: the transfer is done (the final NOTIFY says 200), her call with bob ended for it
    assert alice.returncode == 0, log
    reported = json_lines(alice)
    assert len(reported) == 1 and "transfer" in reported[0], log
    record = reported[0]
    assert record["transfer"] == "200 OK", log
    assert (record["status"], record["reason"]) == (200, "transfer done"), log
    first = record["callid"]

    # bob: answered alice, took her REFER (202) naming carol and alice-carol's dialog
    incoming = [e for e in events if e["event"] == "incoming_call"]
    assert [e["callid"] for e in incoming] == [first], log
    assert incoming[0]["replaces"] is None, log
    requests = [e for e in events if e["event"] == "transfer_request"]
    assert len(requests) == 1, log
    request = requests[0]
    assert (request["callid"], request["status"]) == (first, 202), log
    target, _, uri_headers = request["target"].strip("<>").partition("?")
    assert target == carol_uri, log
    name, _, quoted = uri_headers.partition("=")
    assert name.lower() == "replaces", log
    asked = unquote(quoted)

    # bob's INVITE to carol carries that very Replaces, naming alice-carol's call
    invites = [e for e in events if e["event"] == "invite_sent"]
    assert len(invites) == 1, log
    invite = invites[0]
    assert invite["request_uri"] == carol_uri, log
    assert invite["replaces"] == asked, log
    replaced_callid, params = _tags(invite["replaces"])
    assert params.get("to-tag") and params.get("from-tag"), log
    assert "early-only" not in params, log
    second = invite["callid"]
    assert _states(events, second)[-1:] == ["CONFIRMED"], log

    # ... while it is up, alice's call with bob is over and carol's with alice
    # ended as replaced (by bob's call: not taken as another call beside it)
    assert _states(events, first)[-1:] == ["DISCONNECTED"], log
    assert carol_exit is None, f"carol exited before bob hung up\n{log}"
    assert len(carol_then) == 1, log
    consultation = carol_then[0]
    assert consultation["callid"] == replaced_callid, log
    assert consultation["peername"] == "alice", log
    assert (consultation["status"], consultation["reason"]) == (200, "replaced"), log

    # carol: the replaced call with alice, then bob's call, ended by bob
    assert carol_status == 0 and len(records) == 2, log
    assert records[0] == consultation, log
    joined_call = records[1]
    assert joined_call["callid"] == second, log
    assert joined_call["peername"] == "bob", log
    assert joined_call["status"] == 200, log
    assert joined_call["reason"] == "bye received", log
    assert joined_call["duration"] >= 1000, log  # they talked while alice was gone
    assert _states(pjsua2_events(tmp_path), second)[-1:] == ["DISCONNECTED"], log
    assert bob.returncode == 0, log  # PJSUA2 stopped cleanly


@pytest.mark.timeout(240)
def test_attended_transfer_with_replaces_to_pjsua2(tmp_path: Path) -> None:
    """The other way round, PJSUA2 the transfer target: alice (``sansip
    call --transfer-to carol --attended``) calls bob (``sansip answer``),
    then carol (PJSUA2, answering), then REFERs bob to carol with Replaces;
    bob's INVITE to carol carries it, PJSUA2 replaces its call with alice
    by bob's (answered by itself, the old call ended), alice reports the
    transfer done, and bob and carol talk until carol is stopped."""
    bob_port = free_udp_port()
    carol_port = free_udp_port()
    while carol_port == bob_port:
        carol_port = free_udp_port()
    bob_log = tmp_path / "bob.log"
    carol = start_pjsua2(tmp_path, carol_port, user="carol", answer=True)
    bob: subprocess.Popen[bytes] | None = None
    try:
        bob = start(sansip("answer", "--listen", f"127.0.0.1:{bob_port}", "--duration", "120",
                           "--json", "-p", "username=bob"), bob_log)  # fmt: skip
        wait_listening(bob_port, bob, seconds=30)
        alice = subprocess.run(
            sansip("call", f"sip:bob@127.0.0.1:{bob_port}", "--transfer-to",
                   f"sip:carol@127.0.0.1:{carol_port}", "--attended", "--duration", "30",
                   "--timeout", "60", "--json", "-p", "username=alice"),
            capture_output=True, timeout=150, check=False,
        )  # fmt: skip

        def joined() -> bool:
            """carol's call from bob is up and her call with alice is over."""
            events = pjsua2_events(tmp_path)
            new = [e["new_call"] for e in events if e["event"] == "replaced"]
            return bool(new) and any(
                e["event"] == "call_state" and e["call"] == new[-1] and e["state"] == "CONFIRMED"
                for e in events
            ) and len(_records(bob_log)) >= 1  # fmt: skip

        _wait(joined, 30)
        time.sleep(1.5)  # bob and carol stay together, alice out of it
        during = pjsua2_events(tmp_path), bob.poll()
    finally:
        stop(carol)  # hangs up her calls: a BYE to bob
        if bob is not None:
            stop(bob)

    events, bob_exit = during
    log = (
        f"alice: {alice.stdout.decode()} {alice.stderr.decode()}\n"
        f"bob: {bob_log.read_text(errors='replace')}\n"
        "carol: " + "\n".join(json.dumps(e) for e in pjsua2_events(tmp_path))
    )

    # alice: the transfer is done, her call with bob ended for it
    assert alice.returncode == 0, log
    reported = json_lines(alice)
    assert len(reported) == 1 and "transfer" in reported[0], log
    assert (reported[0]["transfer"], reported[0]["reason"]) == ("200 OK", "transfer done"), log
    # bob: alice's call, ended by her (his call to carol is outgoing: no record)
    assert bob_exit is None, log
    records = _records(bob_log)
    assert len(records) == 1, log
    assert records[0]["callid"] == reported[0]["callid"], log
    assert (records[0]["peername"], records[0]["status"]) == ("alice", 200), log
    assert records[0]["reason"] == "bye received", log

    # carol: alice's call only came in as a call; bob's INVITE, from bob's
    # port, had a Replaces naming it (Call-ID and both tags) and replaced it
    incoming = [e for e in events if e["event"] == "incoming_call"]
    assert len(incoming) == 1 and incoming[0]["replaces"] is None, log
    assert incoming[0]["from"] == "<sip:alice@127.0.0.1>", log
    consultation = incoming[0]["callid"]
    requests = [e for e in events if e["event"] == "replace_request"]
    assert len(requests) == 1, log
    request = requests[0]
    assert (request["callid"], request["status"]) == (consultation, 200), log
    assert request["source"] == f"127.0.0.1:{bob_port}", log
    replaced_callid, params = _tags(request["replaces"])
    assert replaced_callid == consultation, log
    assert params.get("to-tag") and params.get("from-tag"), log
    replaced = [e for e in events if e["event"] == "replaced"]
    assert len(replaced) == 1 and replaced[0]["callid"] == consultation, log
    new_calls = {e["callid"] for e in events
                 if e["event"] == "call_state" and e["call"] == replaced[0]["new_call"]
                 and e["callid"] != consultation}  # fmt: skip
    assert new_calls == {request["callid_new"]}, log
    # while bob's call is up, alice's with carol is over
    assert _states(events, consultation)[-1:] == ["DISCONNECTED"], log
    assert _states(events, request["callid_new"])[-1:] == ["CONFIRMED"], log
    final = pjsua2_events(tmp_path)
    assert _states(final, request["callid_new"])[-1:] == ["DISCONNECTED"], log
    assert carol.returncode == 0, log  # PJSUA2 stopped cleanly
