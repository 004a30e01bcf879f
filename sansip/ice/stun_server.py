"""A STUN Binding responder (RFC 8489 §6.3), sans-IO.

:func:`answer_binding` is the whole logic as a pure function: it takes the
bytes of a datagram and where it came from, and returns the answer (or
None) with a :class:`Verdict` saying what happened.  A Binding request is
answered with a success response carrying XOR-MAPPED-ADDRESS of the source
(and SOFTWARE if given); with a ``key_for`` lookup (short-term
credentials, as ICE uses them), a request without USERNAME and
MESSAGE-INTEGRITY gets 400, one with an unknown username or a wrong
MESSAGE-INTEGRITY gets 401, and the success response is protected with the
same key.  A request with unknown comprehension-required attributes gets
420 with UNKNOWN-ATTRIBUTES (after the credential check, as §6.3.1 orders);
another method gets 400.  Every answer carries FINGERPRINT.  Datagrams
that are not STUN, malformed, or not requests get no answer.

:class:`StunResponder` wraps it in the machine shape (so it runs on the
simulated network) and counts every verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from enum import Enum

from sansip.errors import LocalProtocolError
from sansip.ice.stun import (
    Integrity,
    MessageClass,
    Method,
    StunMessage,
    check_integrity,
    encode_message,
    is_stun,
    parse_message,
)
from sansip.ice.stun_attributes import (
    ErrorCode,
    Software,
    StunAttribute,
    StunError,
    UnknownAttributes,
    Username,
    XorMappedAddress,
)
from sansip.ice.stun_client import Address, Datagram

__all__ = ["KeyLookup", "StunResponder", "Verdict", "answer_binding"]

#: Given a USERNAME, the short-term key to check the request with, or None if unknown.
KeyLookup = Callable[[str], bytes | None]

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    420: "Unknown Attribute",
}


class Verdict(Enum):
    """What :func:`answer_binding` made of a datagram."""

    ANSWERED = "answered"  # a success response
    NOT_STUN = "not-stun"  # no answer: not a STUN message
    MALFORMED = "malformed"  # no answer: a STUN header, a broken body
    BAD_FINGERPRINT = "bad-fingerprint"  # no answer
    NOT_A_REQUEST = "not-a-request"  # no answer: an indication or a response
    UNMAPPABLE = "unmappable"  # no answer: the source is not an IP address
    UNSUPPORTED_METHOD = "unsupported-method"  # 400
    BAD_REQUEST = "bad-request"  # 400: credentials missing
    UNAUTHORIZED = "unauthorized"  # 401: unknown username or wrong integrity
    UNKNOWN_ATTRIBUTES = "unknown-attributes"  # 420


def _error(request: StunMessage, code: int, *extra: StunAttribute) -> StunMessage:
    return request.response(MessageClass.ERROR, (ErrorCode(code, _REASONS[code]), *extra))


def answer_binding(
    data: bytes,
    source: Address,
    *,
    key_for: KeyLookup | None = None,
    software: str | None = None,
) -> tuple[bytes | None, Verdict]:
    """The answer to the datagram ``data`` from ``source`` (None: drop it) and why."""
    if not is_stun(data):
        return None, Verdict.NOT_STUN
    try:
        request = parse_message(data)
    except StunError:
        return None, Verdict.MALFORMED
    if request.fingerprint_ok is False:
        return None, Verdict.BAD_FINGERPRINT
    if request.message_class is not MessageClass.REQUEST:
        return None, Verdict.NOT_A_REQUEST
    tail: tuple[StunAttribute, ...] = (Software(software),) if software is not None else ()
    if request.method != Method.BINDING:
        answer = _error(request, 400, *tail)
        return encode_message(answer, fingerprint=True), Verdict.UNSUPPORTED_METHOD
    key: bytes | None = None
    integrity = Integrity.SHA256 if request.has_sha256_integrity else Integrity.SHA1
    if key_for is not None:
        username = request.get(Username)
        if username is None or not request.has_integrity:
            return encode_message(_error(request, 400, *tail), fingerprint=True), (
                Verdict.BAD_REQUEST
            )
        key = key_for(username.value)
        if key is None or not check_integrity(request, key):
            return encode_message(_error(request, 401, *tail), fingerprint=True), (
                Verdict.UNAUTHORIZED
            )
    unknown = request.unknown_required
    if unknown:
        answer = _error(request, 420, UnknownAttributes(unknown), *tail)
        wire = encode_message(answer, key=key, integrity=integrity, fingerprint=True)
        return wire, Verdict.UNKNOWN_ATTRIBUTES
    try:
        mapped = XorMappedAddress(*source)
        success = request.response(MessageClass.SUCCESS, (mapped, *tail))
        wire = encode_message(success, key=key, integrity=integrity, fingerprint=True)
    except LocalProtocolError:
        return None, Verdict.UNMAPPABLE
    return wire, Verdict.ANSWERED


class StunResponder:
    """:func:`answer_binding` as a machine: datagrams in, answers out, every
    verdict counted in :attr:`counts` (what it refused in :attr:`refused`)."""

    def __init__(self, *, key_for: KeyLookup | None = None, software: str | None = None) -> None:
        self.key_for = key_for
        self.software = software
        #: How many datagrams got each verdict.
        self.counts: Counter[Verdict] = Counter()
        self._outbox: list[Datagram] = []

    @property
    def answered(self) -> int:
        """Binding requests answered with success."""
        return self.counts[Verdict.ANSWERED]

    @property
    def refused(self) -> int:
        """Datagrams dropped or answered with an error."""
        return self.counts.total() - self.answered

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Answer one datagram from ``addr`` (or drop it); never raises."""
        answer, verdict = answer_binding(data, addr, key_for=self.key_for, software=self.software)
        self.counts[verdict] += 1
        if answer is not None:
            self._outbox.append((answer, addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the answers: ``(data, destination)`` pairs."""
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        """Never: the responder keeps no state between datagrams."""
        return None

    def handle_timer(self, now: float) -> None:
        """Nothing to do (no timers)."""
