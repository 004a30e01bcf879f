"""SIP transport: packet types, stream framing, Via and response routing (sans-IO)."""

from __future__ import annotations

from sansip.transport.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    KeepAlivePing,
    KeepAlivePong,
    MessageReceived,
    MessageRejected,
    StreamBroken,
    StreamEvent,
    StreamFramer,
)
from sansip.transport.routing import (
    ResponseTarget,
    address_of,
    default_port,
    response_target,
    uri_transport,
)
from sansip.transport.stateless import answer_malformed, error_response
from sansip.transport.types import DEFAULT_PORTS, Address, Datagram, Transport
from sansip.transport.via import (
    BRANCH_MAGIC_COOKIE,
    RandomSource,
    add_received,
    is_ip_address,
    make_via,
    new_branch,
    received_via,
    replace_top_via,
)

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_PORTS",
    "Address",
    "Datagram",
    "KeepAlivePing",
    "KeepAlivePong",
    "MessageReceived",
    "MessageRejected",
    "RandomSource",
    "ResponseTarget",
    "StreamBroken",
    "StreamEvent",
    "StreamFramer",
    "Transport",
    "add_received",
    "address_of",
    "answer_malformed",
    "default_port",
    "error_response",
    "is_ip_address",
    "make_via",
    "new_branch",
    "received_via",
    "replace_top_via",
    "response_target",
    "uri_transport",
]
