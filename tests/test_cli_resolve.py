"""``sansip call``, ``answer`` and ``register`` with host names (RFC 3263):
SRV and A records from a small DNS server on 127.0.0.1, failover to the
next SRV target.  Nothing leaves the machine: every command gets
``-p dnsserver=127.0.0.1:PORT``."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from sansip.message import Request, make_response, parse
from tests.conftest import REPO

A, SRV, NAPTR = 1, 33, 35


def _name(text: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".") if p) + b"\0"


def srv(priority: int, port: int, target: str) -> tuple[int, bytes]:
    return SRV, struct.pack("!HHH", priority, 0, port) + _name(target)


def a(address: str) -> tuple[int, bytes]:
    return A, socket.inet_aton(address)


class UdpServer:
    """A thread answering datagrams on 127.0.0.1 with ``answer(data)``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def answer(self, data: bytes) -> bytes | None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received.append(data)
            reply = self.answer(data)
            if reply is not None:
                self.sock.sendto(reply, addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


class FakeDns(UdpServer):
    """Answers from ``zone`` ((name, type) -> records); empty answers otherwise."""

    def __init__(self) -> None:
        self.zone: dict[tuple[str, int], list[tuple[int, bytes]]] = {}
        self.questions: list[tuple[str, int]] = []
        super().__init__()

    def answer(self, data: bytes) -> bytes:
        query_id = struct.unpack_from("!H", data)[0]
        pos, labels = 12, []
        while data[pos]:
            labels.append(data[pos + 1 : pos + 1 + data[pos]].decode())
            pos += data[pos] + 1
        qname, qtype = ".".join(labels), struct.unpack_from("!H", data, pos + 1)[0]
        self.questions.append((qname, qtype))
        records = self.zone.get((qname, qtype), [])
        answer = b"".join(_name(qname) + struct.pack("!HHIH", t, 1, 60, len(r)) + r
                          for t, r in records)  # fmt: skip
        header = struct.pack("!HHHHHH", query_id, 0x8180, 1, len(records), 0, 0)
        return header + _name(qname) + struct.pack("!HH", qtype, 1) + answer


class SipStub(UdpServer):
    """Answers every SIP request with ``status`` (a REGISTER's 200 binds for 60 s)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__()

    def answer(self, data: bytes) -> bytes | None:
        request = parse(data)
        if not isinstance(request, Request) or request.method == "ACK":
            return None
        headers: list[tuple[str, object]] = []
        if self.status == 200 and request.method == "REGISTER":
            headers = [("Contact", c.with_params(expires=str(60 if request.expires else 0)))
                       for c in request.contacts]  # fmt: skip
        return bytes(make_response(request, self.status, to_tag="stub", headers=headers))

    def methods(self) -> list[str]:
        out = []
        for data in self.received:
            message = parse(data)
            if isinstance(message, Request):
                out.append(message.method)
        return out


@pytest.fixture
def dns() -> Iterator[FakeDns]:
    server = FakeDns()
    yield server
    server.close()


def sansip(*args: str) -> list[str]:
    return [sys.executable, "-m", "sansip.cli.main", *args]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sansip(*args), capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, check=False)  # fmt: skip


class Answerer:
    """``sansip answer`` on 127.0.0.1 (a free port), for one call."""

    def __init__(self, transport: str = "udp") -> None:
        self.proc = subprocess.Popen(
            sansip("answer", "--listen", "127.0.0.1:0", "--transport", transport,
                   "--count", "1", "--json", "--duration", "60"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert "listening on 127.0.0.1:" in line, line
        self.port = int(line.rsplit(":", 1)[1].split("/")[0])

    def finish(self) -> list[dict[str, object]]:
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return [json.loads(line) for line in out.splitlines()]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: a connection there is refused


@pytest.mark.timeout(60)
def test_call_a_host_name_through_srv(dns: FakeDns) -> None:
    bob = Answerer()
    try:
        dns.zone[("_sip._udp.pbx.test", SRV)] = [srv(10, bob.port, "bob.pbx.test")]
        dns.zone[("bob.pbx.test", A)] = [a("127.0.0.1")]
        done = run("call", "sip:bob@pbx.test", "-p", f"dnsserver=127.0.0.1:{dns.port}",
                   "--duration", "0.3", "--json", "--timeout", "20")  # fmt: skip
        records = bob.finish()
    finally:
        bob.kill()
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == 200 and record["peername"] == "bob"
    assert records[0]["status"] == 200
    assert dns.questions[:2] == [("pbx.test", NAPTR), ("_sip._udp.pbx.test", SRV)]


@pytest.mark.timeout(60)
def test_a_refused_tcp_target_fails_over_to_the_next_srv(dns: FakeDns) -> None:
    bob = Answerer("tcp")
    try:
        dns.zone[("_sip._tcp.pbx.test", SRV)] = [
            srv(10, _free_tcp_port(), "dead.pbx.test"),
            srv(20, bob.port, "bob.pbx.test"),
        ]
        dns.zone[("dead.pbx.test", A)] = [a("127.0.0.1")]
        dns.zone[("bob.pbx.test", A)] = [a("127.0.0.1")]
        done = run("call", "sip:bob@pbx.test", "-p", "transport=tcp",
                   "-p", f"dnsserver=127.0.0.1:{dns.port}",
                   "--duration", "0.3", "--json", "--timeout", "20")  # fmt: skip
        records = bob.finish()
    finally:
        bob.kill()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == 200
    assert records[0]["status"] == 200
    # transport=tcp names the transport: straight to its SRV, no NAPTR (RFC 3263 §4.1).
    assert dns.questions[0] == ("_sip._tcp.pbx.test", SRV)
    # With the dead target alone the call fails at once (the connection is
    # refused): a transport error counts as a 503 (RFC 3261 §8.1.3.1).
    del dns.zone[("_sip._tcp.pbx.test", SRV)][1]
    alone = run("call", "sip:bob@pbx.test", "-p", "transport=tcp",
                "-p", f"dnsserver=127.0.0.1:{dns.port}", "--json", "--timeout", "20")  # fmt: skip
    assert alone.returncode == 1
    assert json.loads(alone.stdout)["status"] == 503


@pytest.mark.timeout(60)
def test_a_503_fails_over_to_the_next_srv_target(dns: FakeDns) -> None:
    busy, bob = SipStub(503), Answerer()
    try:
        dns.zone[("_sip._udp.pbx.test", SRV)] = [
            srv(10, busy.port, "busy.pbx.test"),
            srv(20, bob.port, "bob.pbx.test"),
        ]
        dns.zone[("busy.pbx.test", A)] = [a("127.0.0.1")]
        dns.zone[("bob.pbx.test", A)] = [a("127.0.0.1")]
        done = run("call", "sip:bob@pbx.test", "-p", f"dnsserver=127.0.0.1:{dns.port}",
                   "--duration", "0.3", "--json", "--timeout", "20")  # fmt: skip
        bob.finish()
    finally:
        bob.kill()
        busy.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == 200
    assert busy.methods() == ["INVITE", "ACK"]


@pytest.mark.timeout(60)
def test_a_port_means_a_records_only(dns: FakeDns) -> None:
    bob = Answerer()
    try:
        dns.zone[("bob.pbx.test", A)] = [a("127.0.0.1")]
        done = run("call", f"sip:bob@bob.pbx.test:{bob.port}",
                   "-p", f"dnsserver=127.0.0.1:{dns.port}",
                   "--duration", "0.3", "--json", "--timeout", "20")  # fmt: skip
        bob.finish()
    finally:
        bob.kill()
    assert done.returncode == 0, done.stderr
    assert {q for q, _ in dns.questions} == {"bob.pbx.test"}  # A and AAAA, no SRV


@pytest.mark.timeout(60)
def test_register_to_a_host_name_fails_over_on_503(dns: FakeDns) -> None:
    busy, registrar = SipStub(503), SipStub(200)
    try:
        dns.zone[("_sip._udp.reg.test", SRV)] = [
            srv(10, busy.port, "a.reg.test"),
            srv(20, registrar.port, "b.reg.test"),
        ]
        dns.zone[("a.reg.test", A)] = [a("127.0.0.1")]
        dns.zone[("b.reg.test", A)] = [a("127.0.0.1")]
        done = run("register", "-p", "serveraddress=reg.test", "-p", "username=alice",
                   "-p", f"dnsserver=127.0.0.1:{dns.port}",
                   "--json", "--timeout", "20")  # fmt: skip
    finally:
        busy.close()
        registrar.close()
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["registered", "unregistered"]
    assert busy.methods() == ["REGISTER"]
    assert registrar.methods() == ["REGISTER", "REGISTER"]  # the binding, then its removal
    to = parse(registrar.received[0]).headers.get("To")
    assert to is not None and "sip:alice@reg.test" in to


@pytest.mark.timeout(60)
def test_names_that_resolve_to_nothing_exit_1(dns: FakeDns) -> None:
    server = f"dnsserver=127.0.0.1:{dns.port}"
    call = run("call", "sip:bob@nowhere.test", "-p", server, "--timeout", "5")
    assert call.returncode == 1
    assert "sansip call: cannot resolve nowhere.test" in call.stderr
    reg = run("register", "-p", "serveraddress=nowhere.test", "-p", server, "--timeout", "5")
    assert reg.returncode == 1
    assert "sansip register: cannot resolve nowhere.test" in reg.stderr
    proxy = run("call", "sip:bob@127.0.0.1", "-p", "proxyaddress=proxy.test:5060",
                "-p", server, "--timeout", "5")  # fmt: skip
    assert proxy.returncode == 1 and "cannot resolve proxy.test" in proxy.stderr
    answer = run("answer", "--listen", "127.0.0.1:0", "-p", "serveraddress=nowhere.test",
                 "-p", server, "--duration", "1")  # fmt: skip
    assert answer.returncode == 1 and "sansip answer: cannot resolve" in answer.stderr
