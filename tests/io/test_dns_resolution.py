"""RFC 3263 resolution on asyncio against a small DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from sansip.io.dns import ResolutionError, resolve_targets, system_nameservers
from sansip.message import SipURI
from sansip.transport.resolve import Target
from sansip.transport.types import Transport


def _name(text: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".") if p) + b"\0"


ZONE: dict[tuple[str, int], list[tuple[int, bytes]]] = {
    ("_sip._udp.pbx.test", 33): [(33, struct.pack("!HHH", 0, 0, 5070) + _name("sip1.pbx.test"))],
    ("sip1.pbx.test", 1): [(1, bytes([127, 0, 0, 21]))],
}


class FakeDns(asyncio.DatagramProtocol):
    """Answers from ``zone`` (default ZONE); NXDOMAIN-like empty answers otherwise."""

    def __init__(self, zone: dict[tuple[str, int], list[tuple[int, bytes]]] | None = None) -> None:
        self.zone = ZONE if zone is None else zone

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.questions: list[tuple[str, int]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
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
        question = _name(qname) + struct.pack("!HH", qtype, 1)
        self.transport.sendto(header + question + answer, addr)  # type: ignore[attr-defined]


@pytest.mark.timeout(20)
def test_srv_then_a_through_a_real_socket() -> None:
    async def scenario() -> tuple[list[Target], list[tuple[str, int]]]:
        loop = asyncio.get_running_loop()
        transport, dns = await loop.create_datagram_endpoint(FakeDns, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            targets = await resolve_targets(
                SipURI("pbx.test", "alice"), servers=[("127.0.0.1", port)],
                transports=(Transport.UDP,),
            )  # fmt: skip
        finally:
            transport.close()
        return targets, dns.questions

    targets, questions = asyncio.run(scenario())
    assert targets == [Target(Transport.UDP, ("127.0.0.21", 5070), "sip1.pbx.test")]
    assert questions[0] == ("pbx.test", 35)  # NAPTR first, then SRV, then A


@pytest.mark.timeout(20)
def test_numeric_targets_need_no_server() -> None:
    targets = asyncio.run(resolve_targets(SipURI("127.0.0.1", port=5070), servers=[]))
    assert targets == [Target(Transport.UDP, ("127.0.0.1", 5070), "127.0.0.1")]


@pytest.mark.timeout(20)
def test_unknown_names_fail_cleanly() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(FakeDns, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            await resolve_targets(SipURI("nowhere.test"), servers=[("127.0.0.1", port)])
        finally:
            transport.close()

    with pytest.raises(ResolutionError):
        asyncio.run(scenario())


def test_system_nameservers_reads_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\noptions x\n")
    assert system_nameservers(str(conf)) == [("127.0.0.53", 53), ("fe80::1", 53)]
    assert system_nameservers(str(tmp_path / "missing")) == []
