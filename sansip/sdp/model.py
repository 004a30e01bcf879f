"""The SDP session model (RFC 8866): immutable dataclasses with typed accessors.

Attributes are kept as raw :class:`Attribute` lines, in order, so unknown
ones survive a parse/serialize round trip; the accessors (``rtpmaps()``,
``direction``, ``candidates()``, ...) parse the typed values on demand and
skip a malformed attribute instead of failing (use the ``parse_*``
functions of :mod:`sansip.sdp.attributes` for strict parsing).  Lines of
an unknown type are kept in ``extra_lines``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sansip.errors import RemoteProtocolError
from sansip.sdp.attributes import (
    Attribute,
    Candidate,
    Crypto,
    Direction,
    Fingerprint,
    Fmtp,
    Group,
    RtcpAttribute,
    RtpMap,
    Setup,
    Ssrc,
    parse_candidate,
    parse_crypto,
    parse_fingerprint,
    parse_fmtp,
    parse_group,
    parse_ice_options,
    parse_ptime,
    parse_rtcp,
    parse_rtpmap,
    parse_setup,
    parse_ssrc,
)

__all__ = ["Bandwidth", "Connection", "MediaDescription", "Origin", "SessionDescription", "Timing"]

T = TypeVar("T")

_UNSPECIFIED = frozenset({"0.0.0.0", "::", "0:0:0:0:0:0:0:0"})


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>``."""

    username: str
    session_id: str
    session_version: int
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.session_version} "
                f"{self.nettype} {self.addrtype} {self.address}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <address>``; ``address`` may carry ``/ttl[/count]``."""

    nettype: str
    addrtype: str
    address: str

    @classmethod
    def for_host(cls, host: str) -> Connection:
        """``IN IP4 host`` or ``IN IP6 host`` (for an address containing ``:``)."""
        return cls("IN", "IP6" if ":" in host else "IP4", host)

    @property
    def host(self) -> str:
        """The address without a multicast ``/ttl`` or ``/count`` suffix."""
        return self.address.split("/", 1)[0]

    @property
    def is_unspecified(self) -> bool:
        """``0.0.0.0`` or ``::``: old-style hold (RFC 3264 §8.4)."""
        return self.host in _UNSPECIFIED

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (kbps for ``AS``/``CT``, bps for ``TIAS``)."""

    type: str
    value: int

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start> <stop>`` with its ``r=`` lines kept as text."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()


def _lenient(attributes: Iterable[Attribute], name: str, parse: Callable[[str], T]) -> list[T]:
    """Typed values of every ``name`` attribute that parses; others are skipped."""
    folded = name.lower()
    values: list[T] = []
    for attr in attributes:
        if attr.name.lower() == folded and attr.value is not None:
            try:
                values.append(parse(attr.value))
            except RemoteProtocolError:
                continue
    return values


class _Attributes:
    """Accessors shared by the session and media levels (over ``attributes``)."""

    __slots__ = ()
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        """The first attribute called ``name`` (case-insensitive), or None."""
        folded = name.lower()
        return next((a for a in self.attributes if a.name.lower() == folded), None)

    def values(self, name: str) -> list[str | None]:
        """The values of every attribute called ``name``, in order."""
        folded = name.lower()
        return [a.value for a in self.attributes if a.name.lower() == folded]

    def has(self, name: str) -> bool:
        """Whether an attribute called ``name`` is present."""
        return self.attribute(name) is not None

    @property
    def direction(self) -> Direction | None:
        """The direction attribute given at this level, or None."""
        for attr in self.attributes:
            if attr.value is None:
                try:
                    return Direction(attr.name.lower())
                except ValueError:
                    continue
        return None

    def _first(self, name: str, parse: Callable[[str], T]) -> T | None:
        found = _lenient(self.attributes, name, parse)
        return found[0] if found else None

    @property
    def fingerprint(self) -> Fingerprint | None:
        """``a=fingerprint``, or None."""
        return self._first("fingerprint", parse_fingerprint)

    @property
    def setup(self) -> Setup | None:
        """``a=setup``, or None."""
        return self._first("setup", parse_setup)

    @property
    def ice_ufrag(self) -> str | None:
        """``a=ice-ufrag``, or None."""
        return self._first("ice-ufrag", str.strip)

    @property
    def ice_pwd(self) -> str | None:
        """``a=ice-pwd``, or None."""
        return self._first("ice-pwd", str.strip)

    @property
    def ice_options(self) -> tuple[str, ...]:
        """``a=ice-options`` tags (empty when absent)."""
        return self._first("ice-options", parse_ice_options) or ()

    def groups(self) -> list[Group]:
        """Every ``a=group``."""
        return _lenient(self.attributes, "group", parse_group)


@dataclass(frozen=True, slots=True)
class MediaDescription(_Attributes):
    """One ``m=`` section: ``m=<media> <port>[/<count>] <proto> <fmt> ...``."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    title: str | None = None
    connections: tuple[Connection, ...] = ()
    bandwidths: tuple[Bandwidth, ...] = ()
    key: str | None = None
    attributes: tuple[Attribute, ...] = ()
    extra_lines: tuple[tuple[str, str], ...] = ()

    @property
    def connection(self) -> Connection | None:
        """The first media-level ``c=``, or None."""
        return self.connections[0] if self.connections else None

    @property
    def payload_types(self) -> list[int]:
        """The formats that are RTP payload type numbers, in order."""
        return [int(f) for f in self.formats if f.isascii() and f.isdigit() and len(f) <= 3]

    def rtpmaps(self) -> dict[int, RtpMap]:
        """``a=rtpmap`` by payload type (the first one wins)."""
        found: dict[int, RtpMap] = {}
        for rtpmap in _lenient(self.attributes, "rtpmap", parse_rtpmap):
            found.setdefault(rtpmap.payload_type, rtpmap)
        return found

    def fmtps(self) -> dict[int, Fmtp]:
        """``a=fmtp`` by payload type (the first one wins)."""
        found: dict[int, Fmtp] = {}
        for fmtp in _lenient(self.attributes, "fmtp", parse_fmtp):
            found.setdefault(fmtp.payload_type, fmtp)
        return found

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in milliseconds, or None."""
        return self._first("ptime", parse_ptime)

    @property
    def maxptime(self) -> int | None:
        """``a=maxptime`` in milliseconds, or None."""
        return self._first("maxptime", parse_ptime)

    @property
    def rtcp(self) -> RtcpAttribute | None:
        """``a=rtcp``, or None."""
        return self._first("rtcp", parse_rtcp)

    @property
    def rtcp_mux(self) -> bool:
        """Whether ``a=rtcp-mux`` is present."""
        return self.has("rtcp-mux")

    @property
    def mid(self) -> str | None:
        """``a=mid``, or None."""
        return self._first("mid", str.strip)

    def ssrcs(self) -> list[Ssrc]:
        """Every ``a=ssrc``."""
        return _lenient(self.attributes, "ssrc", parse_ssrc)

    def cryptos(self) -> list[Crypto]:
        """Every ``a=crypto``, in order of preference."""
        return _lenient(self.attributes, "crypto", parse_crypto)

    def candidates(self) -> list[Candidate]:
        """Every ``a=candidate``."""
        return _lenient(self.attributes, "candidate", parse_candidate)


@dataclass(frozen=True, slots=True)
class SessionDescription(_Attributes):
    """A whole SDP body (``v=0`` is implied)."""

    origin: Origin
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    timings: tuple[Timing, ...] = field(default=(Timing(),))
    zone: str | None = None
    key: str | None = None
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    extra_lines: tuple[tuple[str, str], ...] = ()

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The ``c=`` that applies to ``media`` (its own, else the session's)."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """The direction of ``media`` (its own, else the session's, else sendrecv)."""
        return media.direction or self.direction or Direction.SENDRECV

    def to_bytes(self) -> bytes:
        """The SDP text with CRLF line ends (see :func:`sansip.sdp.serialize_sdp`)."""
        from sansip.sdp.parse import serialize_sdp  # noqa: PLC0415 (parse imports model)

        return serialize_sdp(self)
