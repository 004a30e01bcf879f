"""The SIP grammar, sans-IO and pure: URIs, headers, requests, responses,
bodies and digest authentication.

>>> msg = parse(b"OPTIONS sip:bob@example.com SIP/2.0\\r\\n"
...             b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\\r\\n"
...             b"From: <sip:alice@example.com>;tag=1\\r\\nTo: <sip:bob@example.com>\\r\\n"
...             b"Call-ID: abc\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n")
>>> msg.method, msg.top_via.branch, msg.from_.tag, msg.cseq.seq
('OPTIONS', 'z9hG4bK1', '1', 1)
"""

from __future__ import annotations

from sansip.message._grammar import is_token
from sansip.message.address import NameAddr
from sansip.message.auth import Challenge, Credentials
from sansip.message.build import make_response
from sansip.message.checks import RequestRejected, check_request
from sansip.message.errors import LocalProtocolError, ParseError, RemoteProtocolError
from sansip.message.fields import (
    CSeq,
    Event,
    MediaType,
    RAck,
    Reason,
    Replaces,
    SessionExpires,
    SubscriptionState,
    Warning,
)
from sansip.message.headers import HEADER_SPECS, Headers, HeaderSpec, canonical_key
from sansip.message.message import Message, Request, Response, parse
from sansip.message.multipart import BodyPart, parse_multipart
from sansip.message.reasons import reason_phrase
from sansip.message.uri import URI, AbsoluteURI, SipURI, TelURI, escape, parse_uri, unescape
from sansip.message.via import Via

__all__ = [
    "HEADER_SPECS",
    "URI",
    "AbsoluteURI",
    "BodyPart",
    "CSeq",
    "Challenge",
    "Credentials",
    "Event",
    "HeaderSpec",
    "Headers",
    "LocalProtocolError",
    "MediaType",
    "Message",
    "NameAddr",
    "ParseError",
    "RAck",
    "Reason",
    "RemoteProtocolError",
    "Replaces",
    "Request",
    "RequestRejected",
    "Response",
    "SessionExpires",
    "SipURI",
    "SubscriptionState",
    "TelURI",
    "Via",
    "Warning",
    "canonical_key",
    "check_request",
    "escape",
    "is_token",
    "make_response",
    "parse",
    "parse_multipart",
    "parse_uri",
    "reason_phrase",
    "unescape",
]
