"""Transaction keys: which transaction a message belongs to.

* Client side (§17.1.3): a response matches the client transaction whose
  request had the same top-Via branch and whose method equals the
  response's CSeq method.  A CANCEL has its own transaction (same branch,
  method CANCEL); the ACK for a non-2xx belongs to the INVITE's.
* Server side (§17.2.3): a request whose branch starts with the magic
  cookie ``z9hG4bK`` matches on branch, top-Via sent-by and method, an ACK
  matching the INVITE.  Otherwise (RFC 2543 peers) it matches on
  Request-URI, To tag, From tag, Call-ID, CSeq and top Via.
* :func:`cancel_target_key` names the INVITE transaction a CANCEL cancels
  (§9.2), and :func:`merge_key` finds merged requests (§8.2.2.2, answered
  with 482 Loop Detected).

Key functions read the top Via, CSeq, Call-ID, From and To; every message
``parse`` returns has them (a hand-built message without them makes the
functions raise :class:`~sansip.errors.RemoteProtocolError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sansip.message import Request, Response, Via

__all__ = [
    "ClientKey",
    "LegacyServerKey",
    "MergeKey",
    "ServerKey",
    "TransactionKey",
    "cancel_target_key",
    "client_key",
    "merge_key",
    "server_key",
]


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A client transaction: the branch it sent and its method (§17.1.3)."""

    branch: str
    method: str


@dataclass(frozen=True, slots=True)
class ServerKey:
    """A server transaction created by an RFC 3261 request (§17.2.3):
    branch, top-Via sent-by (host lower-cased) and method (INVITE for ACK)."""

    branch: str
    sent_by: str
    method: str


@dataclass(frozen=True, slots=True)
class LegacyServerKey:
    """A server transaction created by an RFC 2543 request (no magic cookie).

    ``to_tag`` is None for INVITE transactions: the ACK for a non-2xx
    carries the tag the server chose, which the INVITE did not have, so the
    INVITE, its retransmissions, its ACK and its CANCEL share one key (the
    From tag, Call-ID, CSeq and top Via still tell INVITEs apart).
    """

    request_uri: str
    to_tag: str | None
    from_tag: str | None
    call_id: str
    cseq: int
    method: str
    via: str


@dataclass(frozen=True, slots=True)
class MergeKey:
    """What two copies of a forked request share (§8.2.2.2): From tag,
    Call-ID and CSeq."""

    from_tag: str | None
    call_id: str
    cseq: int
    method: str


#: Any transaction key.
TransactionKey: TypeAlias = ClientKey | ServerKey | LegacyServerKey


def client_key(message: Request | Response) -> ClientKey:
    """The client transaction key of a request we send or a response we got.

    For a response the method is its CSeq method; an ACK maps to the INVITE
    (the ACK for a non-2xx is part of the INVITE transaction).  A missing
    branch gives ``""``, which matches nothing we sent.
    """
    branch = message.top_via.branch or ""
    if isinstance(message, Response):
        return ClientKey(branch, message.cseq.method)
    method = message.method
    return ClientKey(branch, "INVITE" if method == "ACK" else method)


def _sent_by(via: Via) -> str:
    host = via.host.lower()
    return host if via.port is None else f"{host}:{via.port}"


def _server_key(request: Request, method: str) -> ServerKey | LegacyServerKey:
    via = request.top_via
    branch = via.branch
    if branch is not None and via.is_rfc3261_branch:
        return ServerKey(branch, _sent_by(via), method)
    return LegacyServerKey(
        request_uri=str(request.uri),
        to_tag=None if method == "INVITE" else request.to.tag,
        from_tag=request.from_.tag,
        call_id=request.call_id,
        cseq=request.cseq.seq,
        method=method,
        via=str(via),
    )


def server_key(request: Request) -> ServerKey | LegacyServerKey:
    """The server transaction key of a received request (§17.2.3); an ACK
    gets the key of the INVITE transaction it acknowledges."""
    method = request.method
    return _server_key(request, "INVITE" if method == "ACK" else method)


def cancel_target_key(cancel: Request) -> ServerKey | LegacyServerKey:
    """The key of the INVITE server transaction a CANCEL targets (§9.2): the
    CANCEL's own key with method INVITE (a CANCEL of a non-INVITE request
    has no effect, so only INVITEs are looked for)."""
    return _server_key(cancel, "INVITE")


def merge_key(request: Request) -> MergeKey | None:
    """The merged-request key (§8.2.2.2) of a request outside a dialog
    (no To tag), or None: in-dialog requests and ACKs are never merged."""
    if request.method == "ACK" or request.to.tag is not None:
        return None
    cseq = request.cseq
    return MergeKey(request.from_.tag, request.call_id, cseq.seq, cseq.method)
