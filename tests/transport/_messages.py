"""Messages built inline for the transport tests (documentation addresses only)."""

from __future__ import annotations


def request(
    method: str = "OPTIONS",
    *,
    body: bytes = b"",
    via: str = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9",
    call_id: str = "a84b4c76e66710@192.0.2.10",
    cseq: int = 1,
    extra: str = "",
    content_length: str | None = None,
) -> bytes:
    """One request's wire bytes.

    ``content_length=None`` writes the body length, ``""`` leaves the header out.
    """
    length = str(len(body)) if content_length is None else content_length
    head = (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl\r\n"
        "To: Bob <sip:bob@example.com>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"{extra}"
    )
    if content_length != "":
        head += f"Content-Length: {length}\r\n"
    return head.encode() + b"\r\n" + body


def response(status: int = 200, *, body: bytes = b"", cseq: int = 1) -> bytes:
    """One response's wire bytes."""
    return (
        f"SIP/2.0 {status} OK\r\n"
        "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK74bf9;received=192.0.2.10\r\n"
        "From: Alice <sip:alice@example.com>;tag=9fxced76sl\r\n"
        "To: Bob <sip:bob@example.com>;tag=8321234356\r\n"
        "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
        f"CSeq: {cseq} OPTIONS\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
