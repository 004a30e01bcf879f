"""Messages for the transaction tests, built by parsing byte strings (127.0.0.1 only)."""

from __future__ import annotations

from typing import Any

from sansip.message import Request, Response, make_response, parse
from sansip.transport import Address

UAC: Address = ("127.0.0.1", 5060)
UAS: Address = ("127.0.0.1", 5070)


def request(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bKabc1",
    cseq: int = 1,
    cseq_method: str | None = None,
    to_tag: str | None = None,
    from_tag: str = "ft1",
    call_id: str = "call-1@127.0.0.1",
    via_port: int = 5060,
    uri: str = "sip:bob@127.0.0.1:5070",
    routes: tuple[str, ...] = (),
) -> Request:
    """A parsed request; ``branch=None`` gives an RFC 2543 Via without a branch."""
    via_params = f";branch={branch}" if branch is not None else ""
    to = "<sip:bob@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{via_port}{via_params}",
        "Max-Forwards: 70",
        *(f"Route: {route}" for route in routes),
        f"From: Alice <sip:alice@127.0.0.1>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:alice@127.0.0.1:5060>",
        "Content-Length: 0",
    ]
    msg = parse(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def response(req: Request, status: int, *, to_tag: str | None = "tt1") -> Response:
    """A parsed response to ``req`` (To tag added unless it is a 100)."""
    msg = parse(make_response(req, status, to_tag=to_tag).encode())
    assert isinstance(msg, Response)
    return msg


def ack_for(req: Request, *, to_tag: str = "tt1") -> Request:
    """The ACK a UAC sends for a non-2xx final (same branch as ``req``)."""
    return request(
        "ACK",
        branch=req.top_via.branch,
        cseq=req.cseq.seq,
        to_tag=to_tag,
        from_tag=req.from_.tag or "",
        call_id=req.call_id,
        via_port=req.top_via.port or 5060,
        uri=str(req.uri),
    )


def drain(machine: Any) -> list[Any]:
    """Every queued event of a machine or layer."""
    out = []
    while (event := machine.next_event()) is not None:
        out.append(event)
    return out


def sent(machine: Any, now: float = 0.0) -> list[bytes]:
    """The payloads in a machine's outbox (drained)."""
    return [data for data, _ in machine.datagrams_to_send(now)]
