"""A small DNS client, sans-IO: the message codec (RFC 1035, with the A, AAAA,
CNAME, SRV (RFC 2782) and NAPTR (RFC 3403) records SIP needs) and a query
machine with retransmission over UDP.  The driver owns the socket.

>>> q = DnsQuery("_sip._udp.example.com", RecordType.SRV, [("127.0.0.53", 53)],
...              now=0.0, query_id=0x1234)
>>> [len(data) for data, addr in q.datagrams_to_send(0.0)]
[39]
"""

from __future__ import annotations

import ipaddress
import struct
from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.transport.types import Address, Datagram

__all__ = [
    "DnsAnswered",
    "DnsError",
    "DnsEvent",
    "DnsFailed",
    "DnsMessage",
    "DnsQuery",
    "NaptrRecord",
    "Record",
    "RecordType",
    "SrvRecord",
    "decode_message",
    "encode_query",
]

_HEADER: Final = struct.Struct("!HHHHHH")
_MAX_NAME: Final = 255
_MAX_POINTERS: Final = 64


class RecordType(IntEnum):
    """The record types sansip asks for."""

    A = 1
    CNAME = 5
    AAAA = 28
    SRV = 33
    NAPTR = 35


class DnsError(RemoteProtocolError):
    """A DNS message that does not decode."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 0)


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """An SRV target (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    """A NAPTR rule (RFC 3403); for SIP, ``service`` is e.g. ``SIP+D2U``."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


RecordData: TypeAlias = str | SrvRecord | NaptrRecord | bytes


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record; ``data`` is an address string for A/AAAA, a name
    for CNAME, an SrvRecord/NaptrRecord, or the raw bytes of other types."""

    name: str
    type: int
    ttl: int
    data: RecordData


@dataclass(frozen=True, slots=True)
class DnsMessage:
    """A decoded DNS response."""

    id: int
    rcode: int
    truncated: bool
    question: tuple[str, int] | None
    answers: tuple[Record, ...]
    additional: tuple[Record, ...]


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            raise LocalProtocolError(f"empty label in DNS name {name!r}")
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if len(raw) > 63:
            raise LocalProtocolError(f"DNS label longer than 63 octets in {name!r}")
        out += bytes([len(raw)]) + raw
    out.append(0)
    if len(out) > _MAX_NAME:
        raise LocalProtocolError(f"DNS name too long: {name!r}")
    return bytes(out)


def encode_query(query_id: int, name: str, rtype: int) -> bytes:
    """A standard recursive query (RD set) for one name and type."""
    if not 0 <= query_id <= 0xFFFF:
        raise LocalProtocolError("DNS query id must fit in 16 bits")
    return (
        _HEADER.pack(query_id, 0x0100, 1, 0, 0, 0)
        + _encode_name(name)
        + struct.pack("!HH", rtype, 1)
    )


def _decode_name(data: bytes, pos: int) -> tuple[str, int]:
    """Decode a possibly compressed name; return it and the offset after it."""
    labels: list[str] = []
    end = -1
    jumps = 0
    length = 0
    while True:
        if pos >= len(data):
            raise DnsError("DNS name runs past the message")
        size = data[pos]
        if size & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsError("truncated DNS name pointer")
            if end < 0:
                end = pos + 2
            jumps += 1
            if jumps > _MAX_POINTERS:
                raise DnsError("DNS name pointer loop")
            pos = ((size & 0x3F) << 8) | data[pos + 1]
            continue
        if size & 0xC0:
            raise DnsError("unsupported DNS label type")
        pos += 1
        if size == 0:
            break
        label = data[pos : pos + size]
        if len(label) != size:
            raise DnsError("DNS label runs past the message")
        length += size + 1
        if length > _MAX_NAME:
            raise DnsError("DNS name too long")
        labels.append(label.decode("ascii", "replace"))
        pos += size
    return ".".join(labels), (end if end >= 0 else pos)


def _decode_string(data: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(data):
        raise DnsError("DNS character-string runs past the record")
    size = data[pos]
    text = data[pos + 1 : pos + 1 + size]
    if len(text) != size:
        raise DnsError("DNS character-string runs past the record")
    return text.decode("ascii", "replace"), pos + 1 + size


def _decode_rdata(data: bytes, rtype: int, start: int, end: int) -> RecordData:
    rdata = data[start:end]
    if rtype == RecordType.A:
        if len(rdata) != 4:
            raise DnsError("A record of the wrong size")
        return str(ipaddress.IPv4Address(rdata))
    if rtype == RecordType.AAAA:
        if len(rdata) != 16:
            raise DnsError("AAAA record of the wrong size")
        return str(ipaddress.IPv6Address(rdata))
    if rtype == RecordType.CNAME:
        return _decode_name(data, start)[0]
    if rtype == RecordType.SRV:
        if len(rdata) < 7:
            raise DnsError("SRV record too short")
        priority, weight, port = struct.unpack_from("!HHH", data, start)
        return SrvRecord(priority, weight, port, _decode_name(data, start + 6)[0])
    if rtype == RecordType.NAPTR:
        if len(rdata) < 7:
            raise DnsError("NAPTR record too short")
        order, preference = struct.unpack_from("!HH", data, start)
        pos = start + 4
        flags, pos = _decode_string(data, pos)
        service, pos = _decode_string(data, pos)
        regexp, pos = _decode_string(data, pos)
        if pos > end:
            raise DnsError("NAPTR record runs past its length")
        replacement = _decode_name(data, pos)[0]
        return NaptrRecord(order, preference, flags, service, regexp, replacement)
    return rdata


def _decode_records(data: bytes, pos: int, count: int) -> tuple[list[Record], int]:
    records = []
    for _ in range(count):
        name, pos = _decode_name(data, pos)
        if pos + 10 > len(data):
            raise DnsError("DNS record header runs past the message")
        rtype, _rclass, ttl, rdlength = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        end = pos + rdlength
        if end > len(data):
            raise DnsError("DNS record data runs past the message")
        records.append(Record(name, rtype, ttl, _decode_rdata(data, rtype, pos, end)))
        pos = end
    return records, pos


def decode_message(data: bytes) -> DnsMessage:
    """Decode a DNS response; raise :class:`DnsError` if it is malformed."""
    if len(data) < _HEADER.size:
        raise DnsError("DNS message shorter than its header")
    query_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if not flags & 0x8000:
        raise DnsError("not a DNS response")
    pos = _HEADER.size
    question = None
    for i in range(qdcount):
        qname, pos = _decode_name(data, pos)
        if pos + 4 > len(data):
            raise DnsError("DNS question runs past the message")
        if i == 0:
            question = (qname.lower(), struct.unpack_from("!H", data, pos)[0])
        pos += 4
    answers, pos = _decode_records(data, pos, ancount)
    _, pos = _decode_records(data, pos, nscount)
    additional, pos = _decode_records(data, pos, arcount)
    return DnsMessage(
        query_id, flags & 0x000F, bool(flags & 0x0200), question, tuple(answers), tuple(additional)
    )


@dataclass(frozen=True, slots=True)
class DnsAnswered:
    """The query got an answer (possibly empty: NXDOMAIN or no data)."""

    name: str
    type: int
    records: tuple[Record, ...]
    additional: tuple[Record, ...]
    rcode: int


@dataclass(frozen=True, slots=True)
class DnsFailed:
    """No usable answer: every server timed out, or answered SERVFAIL/REFUSED."""

    name: str
    type: int
    reason: str


DnsEvent: TypeAlias = DnsAnswered | DnsFailed

#: Retransmission intervals per server (seconds); the total bounds the query.
DEFAULT_RETRIES: Final = (1.0, 2.0, 4.0)


class DnsQuery:
    """One DNS question asked over UDP of a list of servers, sans-IO.

    Sends to each server in turn, retransmitting after each interval of
    ``retries``; accepts only a response from a server it asked, with the
    same id and question.  Ends with one :class:`DnsAnswered` or
    :class:`DnsFailed` event.  A truncated answer is reported as answered
    with what it holds (SIP records fit in 512 octets in practice).
    """

    def __init__(
        self,
        name: str,
        rtype: int,
        servers: list[Address],
        *,
        now: float,
        query_id: int,
        retries: tuple[float, ...] = DEFAULT_RETRIES,
    ) -> None:
        if not servers:
            raise LocalProtocolError("a DNS query needs at least one server")
        self.name = name.rstrip(".").lower()
        self.type = rtype
        self._servers = list(servers)
        self._packet = encode_query(query_id, name, rtype)
        self._id = query_id
        self._plan = [(server, wait) for wait in retries for server in self._servers]
        self._step = 0
        self._outbox: list[Datagram] = []
        self._events: deque[DnsEvent] = deque()
        self._deadline: float | None = None
        self.done = False
        self._send(now)

    def _send(self, now: float) -> None:
        server, wait = self._plan[self._step]
        self._outbox.append((self._packet, server))
        self._deadline = now + wait

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Feed a datagram from the DNS socket; anything not ours is ignored."""
        if self.done or addr not in self._servers:
            return
        try:
            message = decode_message(data)
        except DnsError:
            return
        if message.id != self._id or message.question != (self.name, self.type):
            return
        if message.rcode in (2, 5):  # SERVFAIL, REFUSED: try the next server
            self._advance(now)
            return
        self._finish(DnsAnswered(self.name, self.type, message.answers, message.additional,
                                 message.rcode))  # fmt: skip

    def _advance(self, now: float) -> None:
        self._step += 1
        if self._step >= len(self._plan):
            self._finish(DnsFailed(self.name, self.type, "no DNS server answered"))
        else:
            self._send(now)

    def _finish(self, event: DnsEvent) -> None:
        self.done = True
        self._deadline = None
        self._events.append(event)

    def handle_timer(self, now: float) -> None:
        """Retransmit or give up when the current deadline has passed."""
        if self._deadline is not None and now >= self._deadline:
            self._advance(now)

    def get_timer(self) -> float | None:
        """The next retransmission deadline, or None when done."""
        return self._deadline

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Queries to send now."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> DnsEvent | None:
        """The result, once."""
        return self._events.popleft() if self._events else None
