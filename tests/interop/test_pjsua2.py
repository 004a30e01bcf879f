"""Calls between sansip and PJSUA2 (PJSIP's own Python binding, pip
``pjsua2-python``, run by ``tests/interop/pjsua2_peer.py``) on 127.0.0.1,
no proxy: an attended transfer with Replaces (RFC 3891, RFC 5589), which
baresip 1.0 cannot do (see ``test_baresip.py``) and PJSIP can; DTMF sent
by PJSUA2 in SIP INFO requests (application/dtmf-relay, application/dtmf)
to ``sansip answer``; SDES-SRTP (RFC 4568) both ways, each side's tone
heard by the other and only SRTP on the wire, and a plain PJSUA2 refused
by a sansip that requires SRTP."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from sansip.sdp.sdes import SDES_SUITES
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
from tests.interop.test_baresip import (
    LoopbackCapture,
    TracedSdp,
    assert_tone,
    capture_lo,
    check_srtp_on_wire,
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


# PJSIP's log (level 5) of a message it sent or received: this line, the
# message, then a line "--end msg--".
_PJSIP_TX = re.compile(r"\bTX \d+ bytes Request msg (\w+)/cseq=(\d+) \(\w+\) to \w+ ([\d.]+:\d+):$")
_PJSIP_RX = re.compile(
    r"\bRX \d+ bytes Response msg (\d+)/(\w+)/cseq=(\d+) \(\w+\) from \w+ ([\d.]+:\d+):$"
)


def _pjsip_wire(log: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """From PJSIP's own log: the requests it sent (method, cseq, to, the
    message's lines) and the responses it received (status, method, cseq,
    from), in order."""
    sent: list[dict[str, Any]] = []
    received: list[dict[str, Any]] = []
    lines = log.read_text(errors="replace").splitlines()
    for index, line in enumerate(lines):
        if tx := _PJSIP_TX.search(line):
            message = []
            for text in lines[index + 1 :]:
                if text == "--end msg--":
                    break
                message.append(text)
            sent.append({"method": tx[1], "cseq": int(tx[2]), "to": tx[3], "message": message})
        elif rx := _PJSIP_RX.search(line):
            received.append({"status": int(rx[1]), "method": rx[2], "cseq": int(rx[3]),
                             "from": rx[4]})  # fmt: skip
    return sent, received


def _info_digit(content_type: str, body: str) -> str | None:
    """The digit an INFO body of ``content_type`` carries (its ``Signal=``
    for application/dtmf-relay, the body itself for application/dtmf)."""
    if content_type == "application/dtmf-relay":
        fields = dict(line.partition("=")[::2] for line in body.splitlines() if "=" in line)
        return fields.get("Signal", "").strip() or None
    if content_type == "application/dtmf":
        return body.strip() or None
    return None


def _pjsua2_sends_dtmf_by_info(tmp_path: Path, *, relay: str, plain: str,
                               expected: str) -> None:  # fmt: skip
    """alice (PJSUA2) calls bob (``sansip answer --count 1 --json``); once
    the call is up she sends ``relay`` by SIP INFO with ``Call.sendDtmf``
    (PJSUA_DTMF_METHOD_SIP_INFO: one INFO a digit, application/dtmf-relay),
    then, once those are answered, each ``plain`` digit in an INFO with an
    application/dtmf body; a second after the last answer she hangs up.
    bob's call record must list ``expected`` as the DTMF received; that
    they came by INFO (no RFC 4733: PJSUA2 sends none with the SIP INFO
    method) is checked on PJSUA2's side, from its events and from PJSIP's
    own log of the wire: exactly those INFOs went to bob, each answered 200
    by him."""
    bob_port = free_udp_port()
    alice_port = free_udp_port()
    while alice_port == bob_port:
        alice_port = free_udp_port()
    bob_log = tmp_path / "bob.log"
    bob_uri = f"sip:bob@127.0.0.1:{bob_port}"
    bob = start(sansip("answer", "--listen", f"127.0.0.1:{bob_port}", "--count", "1",
                       "--json", "-p", "username=bob"), bob_log)  # fmt: skip
    bob_status: int | None = None
    try:
        wait_listening(bob_port, bob, seconds=30)
        alice = start_pjsua2(tmp_path, alice_port, user="alice", call=bob_uri, dtmf_info=relay,
                             dtmf_info_plain=plain, hangup_after=1.0)  # fmt: skip
        try:
            with contextlib.suppress(subprocess.TimeoutExpired):
                bob_status = bob.wait(90)  # his one call ended: he is done
            _wait(lambda: any(e["event"] == "call_state" and e["state"] == "DISCONNECTED"
                              for e in pjsua2_events(tmp_path)), 30)  # fmt: skip
        finally:
            stop(alice)
    finally:
        stop(bob)

    events = pjsua2_events(tmp_path)
    records = _records(bob_log)
    sent, received = _pjsip_wire(tmp_path / "pjsua2.log")
    log = (f"bob: {bob_log.read_text(errors='replace')}\n"
           "alice: " + "\n".join(json.dumps(e) for e in events))  # fmt: skip

    # alice: her one call to bob, up, then hung up by her after the INFOs
    invites = [e for e in events if e["event"] == "invite_sent"]
    assert len(invites) == 1 and invites[0]["request_uri"] == bob_uri, log
    callid = invites[0]["callid"]
    states = _states(events, callid)
    assert "CONFIRMED" in states and states[-1] == "DISCONNECTED", log
    kinds = [e["event"] for e in events if e.get("callid") == callid]
    assert kinds.count("hangup") == 1, log
    asked = [(e["digits"], e["content_type"]) for e in events if e["event"] == "dtmf_info"]
    wanted = [(relay, "application/dtmf-relay")] if relay else []
    assert asked == wanted + [(digit, "application/dtmf") for digit in plain], log

    # the INFOs she sent, in CSeq order: one a digit, each answered 200 by bob
    infos = sorted((e for e in events if e["event"] == "info_sent"), key=lambda e: e["cseq"])
    types = ["application/dtmf-relay"] * len(relay) + ["application/dtmf"] * len(plain)
    assert [e["content_type"] for e in infos] == types, log
    assert [_info_digit(e["content_type"], e["body"]) for e in infos] == list(relay + plain), log
    answers = {e["cseq"]: (e["status"], e["reason"]) for e in events
               if e["event"] == "info_answered"}  # fmt: skip
    assert answers == {e["cseq"]: (200, "OK") for e in infos}, log
    assert kinds.index("hangup") > max(i for i, k in enumerate(kinds) if k == "info_answered"), log

    # ... as PJSIP's own log has them on the wire: those INFOs to bob's
    # port and nothing else carrying DTMF; his 200s from there
    wire = [m for m in sent if m["method"] == "INFO"]
    assert [(m["cseq"], m["to"]) for m in wire] == [(e["cseq"], f"127.0.0.1:{bob_port}")
                                                     for e in infos], log  # fmt: skip
    for message, info in zip(wire, infos, strict=True):
        assert message["message"][0] == f"INFO {bob_uri} SIP/2.0", log
        assert f"Content-Type: {info['content_type']}" in message["message"], log
        assert f"Call-ID: {callid}" in message["message"], log
    info_answers = [(r["status"], r["cseq"], r["from"]) for r in received if r["method"] == "INFO"]
    assert sorted(info_answers) == [(200, e["cseq"], f"127.0.0.1:{bob_port}") for e in infos], log

    # bob: that one call, from alice, ended by her BYE; the digits received in order
    assert bob_status == 0, log
    assert len(records) == 1, log
    record = records[0]
    assert (record["callid"], record["peername"]) == (callid, "alice"), log
    assert (record["status"], record["reason"]) == (200, "bye received"), log
    assert record["dtmf_received"] == expected, log
    assert alice.returncode == 0, log  # PJSUA2 stopped cleanly


@pytest.mark.timeout(180)
def test_pjsua2_sends_dtmf_by_sip_info(tmp_path: Path) -> None:
    """PJSUA2's own SIP INFO DTMF (``sendDtmf``, application/dtmf-relay,
    one INFO a digit, all five at once): sansip gets "1234#", in order."""
    _pjsua2_sends_dtmf_by_info(tmp_path, relay="1234#", plain="", expected="1234#")


@pytest.mark.timeout(180)
def test_pjsua2_sends_dtmf_by_sip_info_as_application_dtmf(tmp_path: Path) -> None:
    """sendDtmf's INFO body type is fixed (application/dtmf-relay); an INFO
    with an application/dtmf body (the digit alone) sent with PJSUA2's
    ``Call.sendRequest`` after sendDtmf's: sansip gets both kinds, in order."""
    _pjsua2_sends_dtmf_by_info(tmp_path, relay="1234#", plain="5", expected="1234#5")


# SDES-SRTP (RFC 4568) between sansip and PJSUA2, PCMU only so that the
# packets on the wire can be read: PJSUA2 (``--srtp``, SDES over plain UDP
# SIP: ``srtpSecureSignaling`` 0) sends a 440 Hz tone from a PJMEDIA tone
# generator and records what it decodes; sansip sends 1000 Hz and records.
# A capture on ``lo`` (AF_PACKET, root) decrypted with the keys of the SDP
# must hold each side's tone, the bytes as sent must not, and every packet
# between the two media ports must be SRTP (or SRTCP) under those keys.

PJSUA2_TONE = 440.0
SANSIP_TONE = 1000.0
SRTP_CALL_SECONDS = 3.0

_PJSIP_MESSAGE = re.compile(
    r"\b(TX|RX) \d+ bytes (?:Request|Response) msg \S+ \(\w+\) (?:to|from) \w+ [\d.]+:\d+:$"
)


def _pjsip_sdps(log: Path) -> list[tuple[TracedSdp, int | None]]:
    """The SDP bodies of the SIP messages in PJSIP's own log, in order: each
    as a :class:`TracedSdp` (sender "pjsua2" for what it sent, "peer" for
    what it received; its audio m= line's port and protocol and its
    ``a=crypto`` lines) with the port of its ``a=rtcp`` line (None if none)."""
    found = []
    lines = log.read_text(errors="replace").splitlines()
    for index, line in enumerate(lines):
        head = _PJSIP_MESSAGE.search(line)
        if head is None:
            continue
        message = []
        for text in lines[index + 1 :]:
            if text == "--end msg--":
                break
            message.append(text)
        body = "\n".join(message)
        media = re.search(r"^m=audio (\d+) (\S+) ", body, re.MULTILINE)
        if media is None:
            continue
        cryptos = [
            (int(tag), suite, base64.b64decode(key))
            for tag, suite, key in re.findall(
                r"^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)", body, re.MULTILINE
            )
        ]
        rtcp = re.search(r"^a=rtcp:(\d+)", body, re.MULTILINE)
        sender = "pjsua2" if head[1] == "TX" else "peer"
        sdp = TracedSdp(sender, message[0], int(media[1]), media[2], cryptos)
        found.append((sdp, int(rtcp[1]) if rtcp else None))
    return found


def _sdes_exchange(log: Path, *, pjsua2_offers: bool) -> tuple[TracedSdp, TracedSdp, str]:
    """The offer and the answer in PJSIP's log (one each, in the INVITE and
    its 200) were RTP/SAVP with keys, the answer one a=crypto line naming
    a line of the offer (tag and suite); returns (sansip's SDP, PJSUA2's
    SDP, the suite)."""
    sdps = _pjsip_sdps(log)
    assert len(sdps) == 2, f"SDP bodies in PJSIP's log: {sdps}"
    (offer, _), (answer, _) = sdps
    assert offer.start_line.startswith("INVITE "), offer
    assert answer.start_line.startswith("SIP/2.0 200 "), answer
    senders = ("pjsua2", "peer") if pjsua2_offers else ("peer", "pjsua2")
    assert (offer.sender, answer.sender) == senders, sdps
    assert (offer.proto, answer.proto) == ("RTP/SAVP", "RTP/SAVP"), sdps
    assert offer.cryptos, f"an offer without a=crypto: {offer}"
    assert len(answer.cryptos) == 1, f"the answer keys one suite: {answer}"
    tag, suite, answer_key = answer.cryptos[0]
    offered = {line[0]: line for line in offer.cryptos}
    assert tag in offered and offered[tag][1] == suite, f"{answer} answers none of {offer}"
    assert len(answer_key) == len(offered[tag][2]) == SDES_SUITES[suite], sdps
    assert answer_key != offered[tag][2], "each side sends with a key of its own"
    # RTCP on the port after RTP (check_srtp_on_wire looks there for SRTCP)
    for sdp, rtcp in sdps:
        assert rtcp in (None, sdp.port + 1), (sdp, rtcp)
    sansip_sdp, pjsua2_sdp = (answer, offer) if pjsua2_offers else (offer, answer)
    # the key each sends with goes under the agreed tag in its own SDP
    for sdp in (sansip_sdp, pjsua2_sdp):
        mine = [line for line in sdp.cryptos if line[0] == tag]
        assert len(mine) == 1 and mine[0][1] == suite, (sdp, tag, suite)
    return sansip_sdp, pjsua2_sdp, suite


def _key(sdp: TracedSdp, suite: str) -> bytes:
    """The master key and salt ``sdp`` gives for ``suite``."""
    return next(key for _, name, key in sdp.cryptos if name == suite)


def _check_srtp_wire(
    capture: LoopbackCapture, ours: TracedSdp, theirs: TracedSdp, suite: str
) -> None:
    """Every RTP packet both ways is SRTP under its sender's SDP key, the
    tones are inside and unreadable as sent, no RTCP goes in the clear, and
    nothing else reached either side's media ports."""
    sansip_plain = check_srtp_on_wire(capture, ours, theirs, suite=suite,
                                      key=_key(ours, suite), hz=SANSIP_TONE,
                                      what="sansip -> pjsua2")  # fmt: skip
    assert sansip_plain == [], f"sansip sent RTCP in the clear: {[p.hex() for p in sansip_plain]}"
    pjsua2_plain = check_srtp_on_wire(capture, theirs, ours, suite=suite,
                                      key=_key(theirs, suite), hz=PJSUA2_TONE,
                                      what="pjsua2 -> sansip")  # fmt: skip
    assert pjsua2_plain == [], f"PJSUA2 sent RTCP in the clear: {[p.hex() for p in pjsua2_plain]}"
    # RTCP went both ways too (PJSUA2 and sansip report at the start and
    # at the end of a stream), every packet of it SRTCP as checked above
    for sender, receiver in ((ours, theirs), (theirs, ours)):
        assert capture.flow(sender.port + 1, receiver.port + 1), (sender, "sent no RTCP")
    # the flows checked are all there is on those ports
    for sender, receiver in ((ours, theirs), (theirs, ours)):
        for offset in (0, 1):
            strays = [(s, d, len(data)) for s, d, data in capture.datagrams
                      if d == receiver.port + offset and s != sender.port + offset]  # fmt: skip
            assert strays == [], f"other packets to port {receiver.port + offset}: {strays[:5]}"


def _pjsua2_stream(events: list[dict[str, Any]], callid: str) -> tuple[dict[str, Any], ...]:
    """PJSUA2's ``media`` and ``stream`` events of its call ``callid`` (one each)."""
    media = [e for e in events if e["event"] == "media" and e["callid"] == callid]
    streams = [e for e in events if e["event"] == "stream" and e["callid"] == callid]
    assert len(media) == 1 and len(streams) == 1, (media, streams)
    return media[0], streams[0]


def _check_srtp_ends(
    record: dict[str, Any], events: list[dict[str, Any]], suite: str, sansip_wav: Path,
    pjsua2_wav: Path,
) -> None:  # fmt: skip
    """Both ends say the call ran PCMU over SRTP with ``suite``, both ways,
    nothing dropped, and each recorded the other's tone."""
    # sansip: the suite, packets both ways, none rejected (each authenticated)
    assert record["status"] == 200 and record["codec"] == "PCMU", record
    rtp = record["rtp"]
    assert rtp["srtp"] == suite, record
    assert rtp["received"] >= 100 and rtp["sent"] >= 100, record
    assert rtp["rejected"] == 0, record
    # PJSUA2: its stream was RTP/SAVP with SRTP active under that suite
    media, stream = _pjsua2_stream(events, record["callid"])
    assert (media["codec"], media["proto"]) == ("PCMU", "RTP/SAVP"), media
    assert (stream["srtp_status"], stream["srtp_suite"]) == ("Active", suite), stream
    assert stream["rx_packets"] >= 100 and stream["tx_packets"] >= 100, stream
    assert stream["rx_discard"] == 0, stream
    # ... and each decrypted the other's tone
    assert_tone(sansip_wav, PJSUA2_TONE)
    assert_tone(pjsua2_wav, SANSIP_TONE)


def _require_capture(capture: LoopbackCapture | None) -> LoopbackCapture:
    """The capture, or a skip (a failure in CI) when lo cannot be captured."""
    if capture is None:
        pytest.skip("capturing on lo needs root (CAP_NET_RAW)")
    return capture


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("pjsua2_suites", "suite"),
    [
        pytest.param("", "AES_CM_128_HMAC_SHA1_80", id="pjsip-default"),
        pytest.param("AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_32", id="sha1-32"),
    ],
)
def test_sansip_calls_pjsua2_over_srtp(tmp_path: Path, pjsua2_suites: str, suite: str) -> None:
    """sansip (``mediaencryption=2``) offers RTP/SAVP with its a=crypto
    lines to PJSUA2 answering with SRTP mandatory (all PJSIP's suites, or
    only ``pjsua2_suites``); PJSUA2 answers RTP/SAVP with one a=crypto
    line: ``suite``, sansip's first that PJSUA2 takes.  Both ends run SRTP
    with it, each hears the other's tone, and the wire carries SRTP only."""
    port = free_udp_port()
    sansip_wav, pjsua2_wav = tmp_path / "sansip.wav", tmp_path / "pjsua2.wav"
    with capture_lo() as capture:
        bob = start_pjsua2(tmp_path, port, user="bob", answer=True, srtp="mandatory",
                           srtp_crypto=pjsua2_suites, codec="PCMU", tone=PJSUA2_TONE,
                           record=pjsua2_wav)  # fmt: skip
        try:
            call = subprocess.run(
                sansip("call", f"sip:bob@127.0.0.1:{port}", "--duration", str(SRTP_CALL_SECONDS),
                       "--timeout", "60", "--tone", str(int(SANSIP_TONE)),
                       "--record", str(sansip_wav), "--json", "-p", "codec=PCMU",
                       "-p", "mediaencryption=2"),
                capture_output=True, timeout=90, check=False,
            )  # fmt: skip
            _wait(lambda: any(e["event"] == "stream" for e in pjsua2_events(tmp_path)), 30)
        finally:
            stop(bob)  # closes its recording
    events = pjsua2_events(tmp_path)
    log = (f"sansip: {call.stdout.decode()} {call.stderr.decode()}\n"
           "pjsua2: " + "\n".join(json.dumps(e) for e in events))  # fmt: skip
    assert call.returncode == 0, log
    records = json_lines(call)
    assert len(records) == 1, log
    record = records[0]
    assert record["reason"] == "User Hung Up" and record["duration"] >= 2000, log
    states = _states(events, record["callid"])
    assert "CONFIRMED" in states and states[-1] == "DISCONNECTED", log
    assert bob.returncode == 0, log  # PJSUA2 stopped cleanly

    # the SDP: sansip offered RTP/SAVP with keys for all its suites, in
    # order; PJSUA2 answered RTP/SAVP with one key, for ``suite``
    ours, theirs, agreed = _sdes_exchange(tmp_path / "pjsua2.log", pjsua2_offers=False)
    assert [name for _, name, _ in ours.cryptos] == list(SDES_SUITES), ours
    assert agreed == suite, (ours, theirs)
    _check_srtp_ends(record, events, suite, sansip_wav, pjsua2_wav)
    _check_srtp_wire(_require_capture(capture), ours, theirs, suite)


@pytest.mark.timeout(120)
def test_pjsua2_calls_sansip_over_srtp(tmp_path: Path) -> None:
    """PJSUA2 with SRTP mandatory offers RTP/SAVP with an a=crypto line for
    each suite PJSIP has; ``sansip answer -p mediaencryption=2`` answers
    RTP/SAVP with one: the first it keys (``SDES_SUITES``), under PJSIP's
    tag.  Both ends run SRTP with it, each hears the other's tone, the wire
    carries SRTP only; PJSUA2 hangs up after three seconds."""
    port = free_udp_port()
    pjsua2_port = free_udp_port()
    while pjsua2_port == port:
        pjsua2_port = free_udp_port()
    answer_log = tmp_path / "answer.log"
    sansip_wav, pjsua2_wav = tmp_path / "sansip.wav", tmp_path / "pjsua2.wav"
    answer_status: int | None = None
    with capture_lo() as capture:
        answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                              "--tone", str(int(SANSIP_TONE)), "--record", str(sansip_wav),
                              "--json", "-p", "codec=PCMU", "-p", "mediaencryption=2"),
                       answer_log)  # fmt: skip
        try:
            wait_listening(port, answer, seconds=30)
            alice = start_pjsua2(tmp_path, pjsua2_port, user="alice",
                                 call=f"sip:bob@127.0.0.1:{port}", srtp="mandatory",
                                 codec="PCMU", tone=PJSUA2_TONE, record=pjsua2_wav,
                                 hangup_after=SRTP_CALL_SECONDS)  # fmt: skip
            try:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    answer_status = answer.wait(90)  # its one call ended: it is done
                _wait(lambda: any(e["event"] == "stream" for e in pjsua2_events(tmp_path)), 30)
            finally:
                stop(alice)  # closes its recording
        finally:
            stop(answer)
    events = pjsua2_events(tmp_path)
    log = (f"sansip: {answer_log.read_text(errors='replace')}\n"
           "pjsua2: " + "\n".join(json.dumps(e) for e in events))  # fmt: skip
    assert answer_status == 0, log
    records = _records(answer_log)
    assert len(records) == 1, log
    record = records[0]
    invites = [e for e in events if e["event"] == "invite_sent"]
    assert len(invites) == 1 and invites[0]["callid"] == record["callid"], log
    assert (record["reason"], record["peername"]) == ("bye received", "alice"), log
    assert record["duration"] >= 2000, log
    states = _states(events, record["callid"])
    assert "CONFIRMED" in states and states[-1] == "DISCONNECTED", log
    assert [e["event"] for e in events].count("hangup") == 1, log
    assert alice.returncode == 0, log  # PJSUA2 stopped cleanly

    # the SDP: PJSUA2 offered RTP/SAVP with several suites, sansip answered
    # RTP/SAVP with the first of them it keys
    ours, theirs, suite = _sdes_exchange(tmp_path / "pjsua2.log", pjsua2_offers=True)
    offered = [name for _, name, _ in theirs.cryptos]
    assert len(offered) >= 2, theirs
    assert suite == next(name for name in offered if name in SDES_SUITES), (offered, suite)
    assert ours.cryptos[0][0] == next(t for t, name, _ in theirs.cryptos if name == suite), ours
    _check_srtp_ends(record, events, suite, sansip_wav, pjsua2_wav)
    _check_srtp_wire(_require_capture(capture), ours, theirs, suite)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("srtp", "suites", "proto"),
    [
        pytest.param("", "", "RTP/AVP", id="plain"),
        # keys, but only for a suite PJSIP has and sansip does not
        pytest.param("mandatory", "AES_256_CM_HMAC_SHA1_80", "RTP/SAVP", id="no-common-suite"),
    ],
)
def test_sansip_requiring_srtp_refuses_pjsua2_without_usable_keys(
    tmp_path: Path, srtp: str, suites: str, proto: str
) -> None:
    """PJSUA2 without SRTP offers plain RTP/AVP (no a=crypto) to ``sansip
    answer -p mediaencryption=2`` (or RTP/SAVP keyed only for a suite
    sansip does not have): sansip answers 488 (its record: srtp fail), the
    call never connects at either end, no media flows."""
    port = free_udp_port()
    pjsua2_port = free_udp_port()
    while pjsua2_port == port:
        pjsua2_port = free_udp_port()
    answer_log = tmp_path / "answer.log"
    answer_status: int | None = None
    with capture_lo(required=False) as capture:
        answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                              "--tone", str(int(SANSIP_TONE)), "--json", "-p", "codec=PCMU",
                              "-p", "mediaencryption=2"), answer_log)  # fmt: skip
        try:
            wait_listening(port, answer, seconds=30)
            alice = start_pjsua2(tmp_path, pjsua2_port, user="alice",
                                 call=f"sip:bob@127.0.0.1:{port}", srtp=srtp,
                                 srtp_crypto=suites, codec="PCMU", tone=PJSUA2_TONE,
                                 hangup_after=SRTP_CALL_SECONDS)  # fmt: skip
            try:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    answer_status = answer.wait(90)  # its one (refused) call counted
                _wait(lambda: any(e["event"] == "call_state" and e["state"] == "DISCONNECTED"
                                  for e in pjsua2_events(tmp_path)), 30)  # fmt: skip
                time.sleep(1.0)  # anything that would still flow
            finally:
                stop(alice)
        finally:
            stop(answer)
    events = pjsua2_events(tmp_path)
    log = (f"sansip: {answer_log.read_text(errors='replace')}\n"
           "pjsua2: " + "\n".join(json.dumps(e) for e in events))  # fmt: skip
    assert answer_status == 0, log
    records = _records(answer_log)
    assert len(records) == 1, log
    record = records[0]
    assert (record["status"], record["reason"]) == (488, "srtp fail"), log
    assert (record["codec"], record["rtp"], record["duration"]) == (None, None, 0), log

    # PJSUA2: its one call, never connected, ended by the 488
    invites = [e for e in events if e["event"] == "invite_sent"]
    assert len(invites) == 1 and invites[0]["callid"] == record["callid"], log
    states = _states(events, record["callid"])
    assert states and states[-1] == "DISCONNECTED", log
    assert not {"CONNECTING", "CONFIRMED"} & set(states), log
    ended = [e for e in events if e["event"] == "call_state" and e["state"] == "DISCONNECTED"]
    assert ended[-1]["status"] == 488, log
    assert not [e for e in events if e["event"] in ("media", "hangup")], log
    assert alice.returncode == 0, log

    # on the wire, as PJSIP logged it: the offer, a 488 for it, no answer SDP
    sdps = _pjsip_sdps(tmp_path / "pjsua2.log")
    assert len(sdps) == 1, sdps
    offer = sdps[0][0]
    assert offer.sender == "pjsua2" and offer.start_line.startswith("INVITE "), offer
    assert offer.proto == proto, offer
    assert [suite for _, suite, _ in offer.cryptos] == ([suites] if suites else []), offer
    _, received = _pjsip_wire(tmp_path / "pjsua2.log")
    assert [(r["status"], r["method"]) for r in received if r["status"] >= 200] == [
        (488, "INVITE")
    ], received
    if capture is not None:
        media = [d[:2] for d in capture.datagrams if offer.port in d[:2] or offer.port + 1 in d[:2]]
        assert media == [], f"packets on PJSUA2's media ports: {media[:5]}"
