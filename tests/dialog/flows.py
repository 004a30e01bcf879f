"""Realistic messages of one call: Alice (127.0.0.1) calls Bob (127.0.0.2)
through two record-routing proxies, p1.example.com then p2.example.com.

Bob receives the INVITE with the Record-Route the proxies added (the last
proxy on top); the responses carry the same Record-Route back to Alice.
"""

from __future__ import annotations

from sansip.message import Request, Response, parse

CALL_ID = "3848276298220188511@127.0.0.1"
ALICE_TAG = "9fxced76sl"
BOB_TAG = "314159"
RECORD_ROUTE = "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>"
ALICE_CONTACT = "<sip:alice@127.0.0.1:5060>"
BOB_CONTACT = "<sip:bob@127.0.0.2:5062>"


def _msg(start: str, *headers: str, body: str = "") -> bytes:
    lines = [start, *headers, f"Content-Length: {len(body)}", "", body]
    return "\r\n".join(lines).encode()


def invite(
    *,
    record_route: str | None = RECORD_ROUTE,
    uri: str = "sip:bob@example.com",
    contact: str | None = ALICE_CONTACT,
    cseq: int = 1,
) -> Request:
    """The INVITE as Bob receives it (Alice's own copy has no Record-Route,
    which the UAC side never reads from the request)."""
    headers = [
        "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2d4790.1",
        "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK2d4790.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK74bf9;rport",
        "Max-Forwards: 68",
        *([f"Record-Route: {record_route}"] if record_route else []),
        f'From: "Alice" <sip:alice@example.com>;tag={ALICE_TAG}',
        "To: Bob <sip:bob@example.com>",
        f"Call-ID: {CALL_ID}",
        f"CSeq: {cseq} INVITE",
        *([f"Contact: {contact}"] if contact else []),
        "Content-Type: application/sdp",
    ]
    req = parse(_msg(f"INVITE {uri} SIP/2.0", *headers, body="v=0\r\n"))
    assert isinstance(req, Request)
    return req


def response(
    status: int,
    reason: str,
    *,
    to_tag: str | None = BOB_TAG,
    record_route: str | None = RECORD_ROUTE,
    contact: str | None = BOB_CONTACT,
    cseq: str = "1 INVITE",
    from_tag: str = ALICE_TAG,
) -> Response:
    """A response from Bob to the INVITE, as Alice receives it."""
    to = "To: Bob <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    headers = [
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK74bf9;rport=5060",
        *([f"Record-Route: {record_route}"] if record_route else []),
        f'From: "Alice" <sip:alice@example.com>;tag={from_tag}',
        to,
        f"Call-ID: {CALL_ID}",
        f"CSeq: {cseq}",
        *([f"Contact: {contact}"] if contact else []),
    ]
    resp = parse(_msg(f"SIP/2.0 {status} {reason}", *headers))
    assert isinstance(resp, Response)
    return resp


def in_dialog_request(
    method: str, cseq: int, *, contact: str | None = None, from_uac: bool = True
) -> Request:
    """A request within the dialog as received by the other side: from Alice
    to Bob (``from_uac``) or from Bob to Alice."""
    if from_uac:
        uri, frm, to = (
            "sip:bob@127.0.0.2:5062",
            f"<sip:alice@example.com>;tag={ALICE_TAG}",
            (f"<sip:bob@example.com>;tag={BOB_TAG}"),
        )
    else:
        uri, frm, to = (
            "sip:alice@127.0.0.1:5060",
            f"<sip:bob@example.com>;tag={BOB_TAG}",
            (f"<sip:alice@example.com>;tag={ALICE_TAG}"),
        )
    headers = [
        "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKx1",
        f"From: {frm}",
        f"To: {to}",
        f"Call-ID: {CALL_ID}",
        f"CSeq: {cseq} {method}",
        *([f"Contact: {contact}"] if contact else []),
    ]
    req = parse(_msg(f"{method} {uri} SIP/2.0", *headers))
    assert isinstance(req, Request)
    return req


def with_via(request: Request) -> Request:
    """``request`` as the transport would send it (a Via on top), re-parsed."""
    request.headers.prepend("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtest")
    parsed = parse(bytes(request))
    assert isinstance(parsed, Request)
    return parsed
