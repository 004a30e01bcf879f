"""``sansip registrar`` on real sockets: two sansip endpoints register and
call through it over UDP and TCP (the flow of the Kamailio interop tests),
and the embedded API answers in a running loop."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sansip.cli.registrar import describe, load_users, start_registrar
from sansip.message import Response, parse
from sansip.server import BindingAdded, ServerConfig, ServerEvent
from sansip.transport.types import Transport
from tests.interop.peers import free_udp_port, sansip, start, stop, wait_listening, wait_tcp


def _records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _wait_for(log: Path, text: bytes, proc: subprocess.Popen[bytes], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in log.read_bytes():
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {log}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_two_endpoints_register_and_call_through_the_registrar(
    tmp_path: Path, transport: str
) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# test users\nalice:alice123\n\nbob:bob123\n")
    port, bob_port = free_udp_port(), free_udp_port()
    server_log, bob_log = tmp_path / "registrar.log", tmp_path / "bob.log"
    registrar = start(sansip("registrar", "--listen", f"127.0.0.1:{port}", "--transport",
                             transport, "--users", str(users), "--json"), server_log)  # fmt: skip
    bob: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(server_log, b"listening", registrar)
        bob = start(
            sansip("answer", "--listen", f"127.0.0.1:{bob_port}", "--transport", transport,
                   "--count", "2", "--json", "-p", f"serveraddress=127.0.0.1:{port}",
                   "-p", "username=bob", "-p", "password=bob123"),
            bob_log,
        )  # fmt: skip
        (wait_listening if transport == "udp" else wait_tcp)(bob_port, bob)
        _wait_for(bob_log, b"listening", bob)  # printed once registered
        target = f"sip:bob@127.0.0.1:{port}"
        options = ["-p", f"transport={transport}", "--duration", "0.3", "--json"]
        as_alice = ["-p", "username=alice", "-p", "password=alice123"]
        calls = [
            subprocess.run(
                sansip("call", target, *options, *extra),
                capture_output=True,
                timeout=40,
                check=False,
            )
            for extra in ([], as_alice)
        ]
        bob.wait(20)
        # A wrong password is refused, and the registrar says so.
        wrong = subprocess.run(
            sansip("register", "-p", f"serveraddress=127.0.0.1:{port}", "-p", "username=alice",
                   "-p", "password=nope", "-p", f"transport={transport}", "--json",
                   "--timeout", "10"),
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        registrar.send_signal(signal.SIGINT)
        assert registrar.wait(10) == 0
    finally:
        if bob is not None:
            stop(bob)
        stop(registrar)
    for call in calls:
        assert call.returncode == 0, call.stderr.decode()
        record = json.loads(call.stdout)
        assert record["status"] == 200
        # The driver carrying SIP (UDP, or TCP) runs the call's RTP too.
        assert record["rtp"]["received"] > 3 and record["rtp"]["sent"] > 3
    answered = [r for r in _records(bob_log) if "reason" in r]
    assert [r["reason"] for r in answered] == ["bye received"] * 2
    assert wrong.returncode == 1
    records = _records(server_log)
    events = [(r["event"], r.get("method"), r.get("status")) for r in records]
    assert events[0] == ("registered", None, None)
    assert events.count(("proxied", "INVITE", 200)) == 2
    assert events.count(("proxied", "BYE", 200)) == 2
    assert ("auth-failed", "REGISTER", 401) in events
    assert ("unregistered", None, None) in events  # bob left when done
    assert records[0]["transport"] == transport


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    bad_users = tmp_path / "users.txt"
    bad_users.write_text("alice\n")
    cases = [
        ["--transport", "sctp"],
        ["--users", str(bad_users)],
        ["--users", str(tmp_path / "absent")],
        ["--listen", "127.0.0.1:70000"],
    ]
    for args in cases:
        done = subprocess.run(sansip("registrar", *args), capture_output=True, timeout=30,
                              check=False)  # fmt: skip
        assert done.returncode == 2, (args, done.stderr.decode())


def test_users_file_format(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# comment\n\n alice : a:b:c\nbob:\n")
    assert load_users(path) == {"alice": " a:b:c", "bob": ""}


def test_embedded_registrar_answers_in_a_running_loop() -> None:
    async def scenario() -> tuple[Response, list[ServerEvent]]:
        events: list[ServerEvent] = []
        running = await start_registrar(("127.0.0.1", 0), transport=Transport.UDP,
                                        config=ServerConfig(), on_event=events.append)  # fmt: skip
        host, port = running.address
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            me = sock.getsockname()
            register = (
                f"REGISTER sip:{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {me[0]}:{me[1]};branch=z9hG4bKemb;rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:dave@{host}>;tag=1\r\nTo: <sip:dave@{host}>\r\n"
                f"Call-ID: emb\r\nCSeq: 1 REGISTER\r\nContact: <sip:dave@{me[0]}:{me[1]}>\r\n"
                f"Expires: 300\r\nContent-Length: 0\r\n\r\n"
            )
            await loop.sock_sendto(sock, register.encode(), (host, port))
            data = await asyncio.wait_for(loop.sock_recv(sock, 65535), 5)
        await running.close()
        response = parse(data)
        assert isinstance(response, Response)
        return response, events

    response, events = asyncio.run(scenario())
    assert response.status == 200 and response.contacts[0].expires == 300
    added = [e for e in events if isinstance(e, BindingAdded)]
    assert len(added) == 1 and added[0].aor == "dave"
    assert describe(added[0]) == {
        "event": "registered", "aor": "dave", "contact": added[0].contact, "expires": 300,
        "source": f"{added[0].source[0]}:{added[0].source[1]}", "transport": "udp",
    }  # fmt: skip
