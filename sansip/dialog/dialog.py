"""Dialog state of RFC 3261 §12: pure bookkeeping, no I/O, no timers.

A :class:`Dialog` is made from the request that created it and the response
that answered it (:meth:`Dialog.from_uac`, :meth:`Dialog.from_uas`), then
fed what happens inside it: responses to the requests this UA sent
(:meth:`Dialog.update_from_response`), requests the peer sent
(:meth:`Dialog.receive_request`), responses this UA sent to the creating
request (:meth:`Dialog.update_from_sent_response`).  It builds the requests
this UA sends within the dialog (:meth:`Dialog.create_request`,
:meth:`Dialog.create_ack`); the transport layer adds their Via.

>>> from sansip.message import parse
>>> invite = parse(b"INVITE sip:bob@example.com SIP/2.0\\r\\n"
...     b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\\r\\n"
...     b"From: <sip:alice@example.com>;tag=a1\\r\\nTo: <sip:bob@example.com>\\r\\n"
...     b"Call-ID: c1\\r\\nCSeq: 1 INVITE\\r\\nContact: <sip:alice@127.0.0.1>\\r\\n\\r\\n")
>>> ok = parse(b"SIP/2.0 200 OK\\r\\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\\r\\n"
...     b"From: <sip:alice@example.com>;tag=a1\\r\\nTo: <sip:bob@example.com>;tag=b1\\r\\n"
...     b"Call-ID: c1\\r\\nCSeq: 1 INVITE\\r\\nContact: <sip:bob@127.0.0.2>\\r\\n\\r\\n")
>>> dialog = Dialog.from_uac(invite, ok)
>>> bye = dialog.create_request("BYE")
>>> str(bye.uri), str(bye.cseq)
('sip:bob@127.0.0.2', '2 BYE')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Final

from sansip.dialog.errors import DialogGone, RequestOutOfOrder
from sansip.dialog.ids import DialogId
from sansip.dialog.routing import request_target
from sansip.message.address import NameAddr
from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.fields import CSeq
from sansip.message.headers import canonical_key
from sansip.message.message import Message, Request, Response
from sansip.message.uri import URI, SipURI

__all__ = ["MAX_CSEQ", "MAX_FORWARDS", "TARGET_REFRESH_METHODS", "Dialog", "DialogState"]

#: The largest CSeq number (RFC 3261 §8.1.1.5: a 32-bit unsigned integer).
MAX_CSEQ: Final = 2**32 - 1
#: Methods whose request and 2xx replace the remote target (RFC 3261 §12.2,
#: RFC 3311 UPDATE, RFC 6665 SUBSCRIBE/NOTIFY).
TARGET_REFRESH_METHODS: Final = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"})
#: Max-Forwards of every request built here (RFC 3261 §8.1.1.6).
MAX_FORWARDS: Final = 70
# Headers the dialog writes itself; callers may not pass them.
_MANAGED: Final = frozenset({"via", "from", "to", "call-id", "cseq", "route"})


class DialogState(Enum):
    """The states of a dialog (RFC 3261 §12)."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def _untagged(address: NameAddr) -> NameAddr:
    """The address of a From/To header without its header parameters."""
    return NameAddr(address.uri, address.display_name)


def _is_sips(uri: URI) -> bool:
    return isinstance(uri, SipURI) and uri.secure


def _check_same(request: Request, response: Response) -> None:
    if response.call_id != request.call_id or response.cseq != request.cseq:
        raise LocalProtocolError("the response does not answer this request")
    if response.from_.tag != request.from_.tag:
        raise LocalProtocolError("the response's From tag differs from the request's")


class Dialog:
    """The state of one dialog, from the side of this UA.

    Attributes (RFC 3261 §12 names): ``state``; ``call_id``; ``local_tag``
    and ``remote_tag`` (``""`` for a peer that sent none); ``local_party``
    and ``remote_party``, the From/To addresses without tags (``local_uri``
    and ``remote_uri`` give their URIs); ``remote_target``, the peer's
    Contact URI; ``local_target``, this UA's Contact, sent in target-refresh
    requests; ``route_set``, URIs in the order of the Route header;
    ``local_cseq``, the last CSeq number this UA used (None while empty, on
    the UAS side before its first request); ``remote_cseq``, the last CSeq
    number seen from the peer (None while empty); ``secure``; ``is_uac``,
    whether this UA sent the request that created the dialog.
    """

    __slots__ = (
        "_creating", "call_id", "is_uac", "local_cseq", "local_party", "local_tag",
        "local_target", "remote_cseq", "remote_party", "remote_tag", "remote_target",
        "route_set", "secure", "state",
    )  # fmt: skip

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_party: NameAddr,
        remote_party: NameAddr,
        remote_target: URI,
        route_set: Sequence[URI] = (),
        local_target: NameAddr | None = None,
        local_cseq: int | None = None,
        remote_cseq: int | None = None,
        secure: bool = False,
        state: DialogState = DialogState.CONFIRMED,
        is_uac: bool = True,
        creating: CSeq | None = None,
    ) -> None:
        """Usually made by :meth:`from_uac` or :meth:`from_uas`; ``creating``
        is the CSeq of the request that created the dialog (None if unknown)."""
        self.state = state
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_party = local_party
        self.remote_party = remote_party
        self.remote_target = remote_target
        self.local_target = local_target
        self.route_set: tuple[URI, ...] = tuple(route_set)
        self.local_cseq = local_cseq
        self.remote_cseq = remote_cseq
        self.secure = secure
        self.is_uac = is_uac
        self._creating = creating

    # -- creation ------------------------------------------------------------
    @classmethod
    def from_uac(
        cls, request: Request, response: Response, *, secure: bool | None = None
    ) -> Dialog:
        """The dialog a 101-299 ``response`` to our ``request`` creates (§12.1.2).

        The route set is the response's Record-Route reversed, the remote
        target its Contact (the Request-URI when it has none); a 1xx gives
        an early dialog, a 2xx a confirmed one.  ``secure`` defaults to
        whether the Request-URI is a SIPS URI (which the transport layer
        only sends over TLS).  Raises :class:`LocalProtocolError` when the
        response does not answer the request, is not 101-299, or is a 1xx
        without To tag (which creates no dialog); :class:`ParseError` when
        a header the dialog needs is malformed.
        """
        if not 101 <= response.status <= 299:
            raise LocalProtocolError("only a 101-299 response creates a dialog")
        _check_same(request, response)
        local_tag = request.from_.tag
        if not local_tag:
            raise LocalProtocolError("the request has no From tag")
        remote_tag = response.to.tag or ""  # a 2xx without tag: RFC 2543 "null" tag
        if not remote_tag and response.status < 200:
            raise LocalProtocolError("a provisional response without To tag creates no dialog")
        contact = response.contact
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_party=_untagged(request.from_),
            remote_party=_untagged(request.to),
            remote_target=request.uri if contact is None else contact.uri,
            route_set=[rr.uri for rr in reversed(response.record_routes)],
            local_target=request.contact,
            local_cseq=request.cseq.seq,
            secure=_is_sips(request.uri) if secure is None else secure,
            state=DialogState.EARLY if response.status < 200 else DialogState.CONFIRMED,
            is_uac=True,
            creating=request.cseq,
        )

    @classmethod
    def from_uas(
        cls, request: Request, response: Response, *, secure: bool | None = None
    ) -> Dialog:
        """The dialog our 101-299 ``response`` to the peer's ``request`` creates (§12.1.1).

        The response's To tag is the local tag; the route set is the
        request's Record-Route in order, the remote target its Contact.
        The local CSeq stays empty until this UA sends a request.  Raises
        :class:`LocalProtocolError` when the response does not answer the
        request, is not 101-299, has no To tag, or the request already had
        one (it is then inside a dialog); :class:`ParseError` (400) when the
        request has no Contact or a header the dialog needs is malformed.
        """
        if not 101 <= response.status <= 299:
            raise LocalProtocolError("only a 101-299 response creates a dialog")
        _check_same(request, response)
        local_tag = response.to.tag
        if not local_tag:
            raise LocalProtocolError("the response has no To tag")
        if request.to.tag:
            raise LocalProtocolError("the request is already inside a dialog")
        contact = request.contact
        if contact is None:
            raise ParseError("no Contact in a dialog-creating request")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local_party=_untagged(request.to),
            remote_party=_untagged(request.from_),
            remote_target=contact.uri,
            route_set=[rr.uri for rr in request.record_routes],
            local_target=response.contact,
            remote_cseq=request.cseq.seq,
            secure=_is_sips(request.uri) if secure is None else secure,
            state=DialogState.EARLY if response.status < 200 else DialogState.CONFIRMED,
            is_uac=False,
            creating=request.cseq,
        )

    # -- views -----------------------------------------------------------------
    @property
    def id(self) -> DialogId:
        """The dialog id (Call-ID, local tag, remote tag)."""
        return DialogId(self.call_id, self.local_tag, self.remote_tag)

    @property
    def local_uri(self) -> URI:
        """The local URI (of the From header of requests this UA sends)."""
        return self.local_party.uri

    @property
    def remote_uri(self) -> URI:
        """The remote URI (of the To header of requests this UA sends)."""
        return self.remote_party.uri

    @property
    def next_local_cseq(self) -> int:
        """The CSeq number the next request (other than ACK) will carry."""
        return 1 if self.local_cseq is None else self.local_cseq + 1

    def __repr__(self) -> str:
        return f"<Dialog {self.state.name} {self.id}>"

    # -- input -----------------------------------------------------------------
    def _check_ids(self, msg: Message, local_tag: str | None, remote_tag: str | None) -> None:
        if msg.call_id != self.call_id or local_tag != self.local_tag:
            raise LocalProtocolError("the message belongs to another dialog")
        if (remote_tag or "") != self.remote_tag:
            raise LocalProtocolError("the message belongs to another dialog")

    def receive_request(self, request: Request) -> None:
        """Account for a request the peer sent within this dialog (§12.2.2).

        Raises :class:`DialogGone` (481) if the dialog has terminated and
        :class:`RequestOutOfOrder` (500) if its CSeq is lower than the last
        one seen; otherwise records the CSeq, takes the Contact of a
        target-refresh request as the new remote target, and terminates the
        dialog on BYE.  ACK and CANCEL are not checked (they repeat the
        CSeq of the request they belong to).  Raises
        :class:`LocalProtocolError` if the request belongs to another
        dialog, :class:`ParseError` if a header it needs is malformed;
        nothing changes when it raises.
        """
        if self.state is DialogState.TERMINATED:
            raise DialogGone()
        self._check_ids(request, request.to.tag, request.from_.tag)
        method = request.method
        if method in ("ACK", "CANCEL"):
            return
        seq = request.cseq.seq
        if self.remote_cseq is not None and seq < self.remote_cseq:
            raise RequestOutOfOrder(f"CSeq {seq} is lower than {self.remote_cseq}")
        contact = request.contact if method in TARGET_REFRESH_METHODS else None
        target = None if contact is None else contact.uri
        self.remote_cseq = seq
        if target is not None:
            self.remote_target = target
        if method == "BYE":
            self.state = DialogState.TERMINATED

    def update_from_response(self, response: Response) -> None:
        """Account for a response to a request this UA sent (§12.1.2, §12.2.1.2).

        - a 2xx to a target-refresh request (and a 1xx/2xx to the creating
          request) with a Contact replaces the remote target;
        - a 2xx to the creating request confirms an early dialog and
          recomputes the route set from its Record-Route (§13.2.2.4);
        - a non-2xx final response to the creating request terminates an
          early dialog, whatever its To tag (the forks end with it);
        - 481 or 408 to a request within the dialog, or any final response
          to BYE, terminates it.

        A terminated dialog ignores responses; a 1xx without To tag (100
        Trying) changes nothing.  Raises :class:`LocalProtocolError` if the
        response belongs to another dialog, :class:`ParseError` if a header
        it needs is malformed; nothing changes when it raises.
        """
        if self.state is DialogState.TERMINATED:
            return
        status, cseq = response.status, response.cseq
        creating = self.is_uac and cseq == self._creating
        if creating and status >= 300:
            self._check_ids(response, response.from_.tag, self.remote_tag)
            if self.state is DialogState.EARLY:
                self.state = DialogState.TERMINATED
            return
        to_tag = response.to.tag
        if status < 200 and not to_tag:
            self._check_ids(response, response.from_.tag, self.remote_tag)
            return
        self._check_ids(response, response.from_.tag, to_tag)
        success = 200 <= status < 300
        contact = None
        if (success and cseq.method in TARGET_REFRESH_METHODS) or (creating and status < 200):
            contact = response.contact
        target = None if contact is None else contact.uri
        confirm = creating and success and self.state is DialogState.EARLY
        routes = [rr.uri for rr in reversed(response.record_routes)] if confirm else None
        if target is not None:
            self.remote_target = target
        if routes is not None:
            self.route_set = tuple(routes)
            self.state = DialogState.CONFIRMED
        if (status in (408, 481) and not creating) or (cseq.method == "BYE" and status >= 200):
            self.state = DialogState.TERMINATED

    def update_from_sent_response(self, response: Response) -> None:
        """Account for a final response this UA sent to the creating request.

        On the UAS side a 2xx confirms an early dialog and a non-2xx final
        response terminates it (§12.1.1, §12.3); other responses change
        nothing.  Raises :class:`LocalProtocolError` if the response belongs
        to another dialog.
        """
        if self.state is not DialogState.EARLY or self.is_uac:
            return
        if response.cseq != self._creating or response.status < 200:
            return
        self._check_ids(response, response.to.tag, response.from_.tag)
        ok = response.status < 300
        self.state = DialogState.CONFIRMED if ok else DialogState.TERMINATED

    def terminate(self) -> None:
        """End the dialog (after a transaction timeout, a BYE answered, ...)."""
        self.state = DialogState.TERMINATED

    # -- output ----------------------------------------------------------------
    def create_request(
        self, method: str, *, headers: Iterable[tuple[str, object]] = (), body: bytes = b""
    ) -> Request:
        """Build the next request this UA sends within the dialog (§12.2.1.1).

        Request-URI and Route come from the remote target and route set
        (loose routing when the first route has ``lr``, strict routing
        otherwise); From, To, Call-ID come from the dialog; the CSeq is the
        local CSeq plus one (1 if empty), which becomes the new local CSeq;
        Max-Forwards is 70 unless ``headers`` has one; target-refresh
        requests carry ``local_target`` as Contact unless ``headers`` has
        one.  ``headers`` are appended as given (Via, From, To, Call-ID,
        CSeq and Route are not allowed: the dialog and transport write
        them).  No Via is added.

        Raises :class:`LocalProtocolError` for ACK (see :meth:`create_ack`)
        and CANCEL (built from the INVITE by the transaction layer), on a
        terminated dialog, for BYE from the callee on an early dialog
        (§15), for a target-refresh request without a Contact to send, and
        when the CSeq would pass 2**32-1.
        """
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(f"{method} is not created with create_request")
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError("the dialog has terminated")
        if method == "BYE" and self.state is DialogState.EARLY and not self.is_uac:
            raise LocalProtocolError("the callee must not send BYE on an early dialog")
        seq = self.next_local_cseq
        if seq > MAX_CSEQ:
            raise LocalProtocolError("the local CSeq is exhausted")
        request = self._build(method, seq, headers, body)
        self.local_cseq = seq
        return request

    def create_ack(
        self, invite_cseq: int, *, headers: Iterable[tuple[str, object]] = (), body: bytes = b""
    ) -> Request:
        """Build the ACK for a 2xx to the INVITE sent with CSeq ``invite_cseq``
        (§13.2.2.4): built like any request within the dialog, with the
        INVITE's CSeq number.  The local CSeq does not change.

        Raises :class:`LocalProtocolError` on an early dialog (a 2xx confirms
        it) and for a CSeq this UA has not used.
        """
        if self.state is DialogState.EARLY:
            raise LocalProtocolError("an early dialog has no 2xx to acknowledge")
        if self.local_cseq is None or not 0 <= invite_cseq <= self.local_cseq:
            raise LocalProtocolError(f"CSeq {invite_cseq} was not used by this UA")
        return self._build("ACK", invite_cseq, headers, body)

    def request_target(self) -> tuple[URI, list[URI]]:
        """The Request-URI and Route URIs of the next request: see
        :func:`sansip.dialog.routing.request_target`."""
        return request_target(self.remote_target, self.route_set)

    def _build(
        self, method: str, seq: int, headers: Iterable[tuple[str, object]], body: bytes
    ) -> Request:
        extra = list(headers)
        keys = {canonical_key(name) for name, _ in extra}
        managed = keys & _MANAGED
        if managed:
            raise LocalProtocolError(f"the dialog writes {sorted(managed)} itself")
        contact = None
        if method in TARGET_REFRESH_METHODS and "contact" not in keys:
            if self.local_target is None:
                raise LocalProtocolError(f"{method} needs a Contact: set local_target")
            contact = self.local_target
        uri, routes = self.request_target()
        remote = self.remote_party
        fields: list[tuple[str, object]] = [("Route", f"<{route}>") for route in routes]
        if "max-forwards" not in keys:
            fields.append(("Max-Forwards", MAX_FORWARDS))
        fields += [
            ("From", self.local_party.with_tag(self.local_tag)),
            ("To", remote.with_tag(self.remote_tag) if self.remote_tag else remote),
            ("Call-ID", self.call_id),
            ("CSeq", CSeq(seq, method)),
        ]
        if contact is not None:
            fields.append(("Contact", contact))
        fields += extra
        return Request(method, uri, fields, body)
