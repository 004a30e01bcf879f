"""Via processing at the transport layer: RFC 3261 §18.1.1, §18.2.1 and RFC 3581.

Server side, :func:`add_received` records where a request really came from
in its top Via (``received``, and ``rport`` when the client asked for it),
so that the response finds its way back through NATs.  Client side,
:func:`make_via` and :func:`new_branch` build the Via a request is sent with.
"""

from __future__ import annotations

import ipaddress
from typing import Final, Protocol

from sansip.message import Headers, Request, canonical_key
from sansip.message.via import BRANCH_MAGIC_COOKIE, Via, parse_via_list
from sansip.transport.types import Address, Transport

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "RandomSource",
    "add_received",
    "is_ip_address",
    "make_via",
    "new_branch",
    "received_via",
    "replace_top_via",
]

#: Random bits in a branch made by :func:`new_branch` (32 hex digits).
BRANCH_BITS: Final = 128


class RandomSource(Protocol):
    """What :func:`new_branch` needs of its random generator.

    ``random.Random`` (seeded, for simulation) and ``random.SystemRandom`` /
    ``secrets.SystemRandom`` (for real use) both fit.
    """

    def getrandbits(self, k: int, /) -> int:
        """Return an integer with ``k`` random bits."""
        ...


def new_branch(rng: RandomSource) -> str:
    """A fresh RFC 3261 branch: the magic cookie and 32 random hex digits.

    The randomness comes only from ``rng``, so a seeded generator gives a
    reproducible sequence.  128 random bits make collisions negligible.
    """
    return f"{BRANCH_MAGIC_COOKIE}{rng.getrandbits(BRANCH_BITS):032x}"


def make_via(
    transport: Transport | str,
    sent_by_host: str,
    sent_by_port: int | None,
    branch: str,
    rport: bool = True,
) -> Via:
    """The Via a client puts on top of a request it sends (RFC 3261 §18.1.1).

    ``sent_by_host`` is where responses should come back to (an IPv6
    address without brackets); ``sent_by_port`` may be None for the
    transport's default.  ``rport=True`` adds a valueless ``rport``
    (RFC 3581 §3) so that servers answer to the address the request
    really came from.  Raises ValueError on an impossible port or an empty
    host or branch.
    """
    if not sent_by_host:
        raise ValueError("sent-by host must not be empty")
    if sent_by_port is not None and not 0 < sent_by_port <= 65535:
        raise ValueError(f"sent-by port {sent_by_port} is out of range")
    if not branch:
        raise ValueError("branch must not be empty")
    name = transport.value if isinstance(transport, Transport) else transport.upper()
    params: dict[str, str | None] = {"branch": branch}
    if rport:
        params["rport"] = None
    return Via(name, sent_by_host, sent_by_port, params)


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 literal (brackets allowed), not a name."""
    return _ip(host) is not None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if host[:1] == "[" and host[-1:] == "]":
        host = host[1:-1]
    host = host.partition("%")[0]  # an IPv6 zone is local to the host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reporting an IPv4 peer
    return address


def received_via(via: Via, source: Address) -> Via:
    """``via`` as a server records it after receiving a request from ``source``.

    RFC 3261 §18.2.1: ``received`` is added when the sent-by host is a name
    or an IP address other than the packet's source.  RFC 3581 §4: when
    ``rport`` is present, ``received`` is always added and ``rport`` gets the
    source port (also over a value already there: only the observed port
    can route the response).  An existing ``received`` is overwritten when
    one is needed and otherwise left alone.  Returns ``via`` itself when
    nothing changes.

    The source host is written in its canonical form (an IPv4-mapped IPv6
    address as IPv4, without a zone).  A source host that is not an IP
    address (a simulator's name) is written as given.
    """
    host, port = source
    source_ip = _ip(host)
    received = host if source_ip is None else str(source_ip)
    if via.rport_requested:
        return via.with_params(received=received, rport=str(port))
    sent_by_ip = _ip(via.host)
    if sent_by_ip is not None and source_ip is not None and sent_by_ip == source_ip:
        return via
    if sent_by_ip is None and source_ip is None and via.host.lower() == host.lower():
        return via
    return via.with_params(received=received)


def add_received(request: Request, source: Address) -> Request:
    """Record the source of a received request in its top Via (in place).

    Applies :func:`received_via` to the top Via and returns ``request``
    itself.  When nothing changes, the request keeps its original bytes.
    Raises ``ParseError`` if the request has no valid top Via (a parsed
    request always has one).
    """
    top = request.top_via
    updated = received_via(top, source)
    if updated is not top:
        replace_top_via(request.headers, updated)
    return request


def replace_top_via(headers: Headers, via: Via) -> None:
    """Replace the first Via value of ``headers`` by ``via``, in place.

    The other values of the first Via field (``Via: a, b``) and the other
    Via fields are kept; the field keeps its position and name.  Raises
    ``ParseError`` if the first Via field does not parse, and ValueError if
    there is no Via field.
    """
    fields = headers.items()
    index = next((i for i, (n, _) in enumerate(fields) if canonical_key(n) == "via"), None)
    if index is None:
        raise ValueError("no Via header to replace")
    name, value = fields[index]
    rest = parse_via_list(value)[1:] if "," in value else []
    text = ", ".join(str(v) for v in (via, *rest))
    headers.remove_first("via")
    headers.insert(index, name, text)
