"""The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 rport)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from sansip.message._grammar import (
    HOST,
    LWS,
    TOKEN,
    TOKEN_CHARS,
    LazyParams,
    find_simple_param,
    is_number,
    parse_params,
    split_host_port,
    split_list,
)
from sansip.message.errors import ParseError
from sansip.message.uri import EMPTY_PARAMS

__all__ = ["BRANCH_MAGIC_COOKIE", "Via", "parse_via_list"]

BRANCH_MAGIC_COOKIE: Final = "z9hG4bK"

# via-parm = sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol = protocol-name SLASH protocol-version SLASH transport
# sent-by = host [ COLON port ]
_VIA_RE: Final = re.compile(
    rf"({TOKEN}){LWS}/{LWS}({TOKEN}){LWS}/{LWS}({TOKEN})[ \t]+({HOST})"
    rf"(?:{LWS}:{LWS}([0-9]{{1,5}}))?"
)


# The common form: "SIP/2.0/UDP host:port;a=b;c" with no LWS inside.
_VIA_FAST_RE: Final = re.compile(
    rf"SIP/2\.0/([A-Za-z]+) ({HOST})(?::([0-9]{{1,5}}))?((?:;{TOKEN}(?:=[{TOKEN_CHARS}:\[\]]+)?)*)"
)
_new = object.__new__


class Via(LazyParams):
    """One Via value: transport, sent-by and parameters.

    ``transport`` is upper-case (``UDP``, ``TCP``, ``TLS``, ``WS``, ``WSS``,
    ``SCTP`` or any token); ``host`` holds an IPv6 address without brackets.
    Parameter names are lower-case.  A parsed Via decodes its parameters on
    first use; ``branch`` is found without decoding the others.  Values are
    immutable: :meth:`with_params` derives a changed copy.
    """

    __slots__ = ("host", "port", "protocol", "transport")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: Mapping[str, str | None] = EMPTY_PARAMS,
        protocol: str = "SIP/2.0",
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self._params = params
        self._params_text = None
        self.protocol = protocol

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm."""
        return parse_via(text.strip(" \t"))

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{self._params_str()}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return (
            self.transport == other.transport
            and self.host == other.host
            and self.port == other.port
            and self.protocol == other.protocol
            and dict(self.params) == dict(other.params)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def sent_by(self) -> str:
        """``host[:port]``, IPv6 in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter, or None."""
        if self._params is None:
            return find_simple_param(self._params_text, ";branch=")  # type: ignore[arg-type]
        return self._params.get("branch")

    @property
    def is_rfc3261_branch(self) -> bool:
        """Whether the branch starts with the magic cookie and has more after it."""
        branch = self.branch
        return (
            branch is not None
            and branch.startswith(BRANCH_MAGIC_COOKIE)
            and len(branch) > len(BRANCH_MAGIC_COOKIE)
        )

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (brackets of an IPv6 address removed)."""
        value = self.params.get("received")
        if value and value[0] == "[" and value[-1] == "]":
            return value[1:-1]
        return value

    @property
    def rport_requested(self) -> bool:
        """Whether the ``rport`` parameter is present (RFC 3581)."""
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        """The filled-in ``rport`` value, or None if absent or empty."""
        value = self.params.get("rport")
        return int(value) if value and is_number(value) else None

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, or None."""
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        """The ``ttl`` parameter (0-255), or None."""
        value = self.params.get("ttl")
        return int(value) if value and is_number(value) and int(value) <= 255 else None

    def with_params(self, **params: str | None) -> Via:
        """A copy with the given parameters set (``None`` = valueless)."""
        merged = dict(self.params)
        merged.update(params)
        return Via(self.transport, self.host, self.port, merged, self.protocol)


def parse_via(text: str) -> Via:
    """Parse one stripped via-parm; raise :class:`ParseError` if malformed."""
    fast = _VIA_FAST_RE.fullmatch(text)
    if fast is not None:
        transport, host, port, params_text = fast.groups()
        via = _new(Via)
        via.transport = transport if transport.isupper() else transport.upper()
        via.host, via.port = split_host_port(host, port, "Via")
        if params_text:
            via._params = None
            via._params_text = params_text
        else:
            via._params = EMPTY_PARAMS
            via._params_text = None
        via.protocol = "SIP/2.0"
        return via
    m = _VIA_RE.match(text)
    if m is None:
        raise ParseError("malformed Via")
    name, version, transport, host, port = m.groups()
    host, port_number = split_host_port(host, port, "Via")
    end = m.end()
    params = parse_params(text, end, "Via") if end < len(text) else {}
    protocol = "SIP/2.0" if name == "SIP" and version == "2.0" else f"{name.upper()}/{version}"
    return Via(transport.upper(), host, port_number, params, protocol)


def parse_via_list(value: str) -> list[Via]:
    """Parse a Via header value that may hold several comma-separated values."""
    if "," not in value:
        return [parse_via(value)]
    return [parse_via(item) for item in split_list(value, "Via")]
