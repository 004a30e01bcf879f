"""Routing helpers of the proxy: which URIs name this server, flow tokens in
Record-Route, and removing the first value of a Via or Route header.

A Record-Route this proxy writes carries a *flow token* in its user part
(RFC 5626 §5.3): the address the dialog-creating request came from.  A
request within the dialog that arrives from anywhere else goes back to that
address, so the caller is reached over the flow it used even when its
Contact is unreachable (a NAT, a TCP connection it opened).
"""

from __future__ import annotations

from sansip.message import Headers, NameAddr, SipURI, canonical_key
from sansip.message.address import parse_name_addr_list
from sansip.message.uri import URI
from sansip.message.via import parse_via_list
from sansip.transport.types import DEFAULT_PORTS, Address, Transport

__all__ = [
    "drop_first_value",
    "flow_token",
    "is_local",
    "parse_flow_token",
    "record_route",
]


def is_local(uri: URI, sent_by: Address, transport: Transport, domains: frozenset[str]) -> bool:
    """Whether ``uri`` names this server: its own address and port, or one
    of ``domains`` (any port)."""
    if not isinstance(uri, SipURI):
        return False
    host = uri.host.lower()
    if host in domains:
        return True
    port = uri.port or DEFAULT_PORTS[Transport.TLS if uri.secure else transport]
    return host == sent_by[0].lower() and port == sent_by[1]


def flow_token(addr: Address) -> str:
    """The Record-Route user part that names the flow from ``addr``."""
    return "f" + f"{addr[0]} {addr[1]}".encode().hex()


def parse_flow_token(user: str | None) -> Address | None:
    """The address a :func:`flow_token` names, or None if it is not one."""
    if not user or user[0] != "f":
        return None
    try:
        host, _, port = bytes.fromhex(user[1:]).decode().rpartition(" ")
        number = int(port)
    except ValueError:
        return None
    return (host, number) if host and 0 < number < 65536 else None


def record_route(sent_by: Address, transport: Transport, source: Address) -> NameAddr:
    """The Record-Route this proxy adds (loose routing, the flow token of ``source``)."""
    params: dict[str, str | None] = {}
    if transport is not Transport.UDP:
        params["transport"] = transport.value.lower()
    params["lr"] = None
    host, port = sent_by
    return NameAddr(SipURI(host, flow_token(source), port=port, params=params))


def drop_first_value(headers: Headers, name: str) -> bool:
    """Remove the first value of the Via or Route header ``name`` (a field
    may hold several, comma-separated); False when there is none.  Raises
    ``ParseError`` when that field does not parse."""
    key = canonical_key(name)
    fields = headers.items()
    index = next((i for i, (n, _) in enumerate(fields) if canonical_key(n) == key), None)
    if index is None:
        return False
    field_name, value = fields[index]
    rest: list[str] = []
    if "," in value:
        if key == "via":
            rest = [str(v) for v in parse_via_list(value)[1:]]
        else:
            rest = [str(r) for r in parse_name_addr_list(value, field_name)[1:]]
    headers.remove_first(name)
    if rest:
        headers.insert(index, field_name, ", ".join(rest))
    return True
