"""The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 rport)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, NamedTuple

from sansip.message._grammar import (
    HOST,
    LWS,
    TOKEN,
    TOKEN_CHARS,
    format_params,
    parse_params,
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
_new = tuple.__new__


class Via(NamedTuple):
    """One Via value: transport, sent-by and parameters.

    ``transport`` is upper-case (``UDP``, ``TCP``, ``TLS``, ``WS``, ``WSS``,
    ``SCTP`` or any token); ``host`` holds an IPv6 address without brackets.
    """

    transport: str
    host: str
    port: int | None = None
    params: Mapping[str, str | None] = EMPTY_PARAMS
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm."""
        return parse_via(text.strip(" \t"))

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"

    @property
    def sent_by(self) -> str:
        """``host[:port]``, IPv6 in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter, or None."""
        return self.params.get("branch")

    @property
    def is_rfc3261_branch(self) -> bool:
        """Whether the branch starts with the magic cookie and has more after it."""
        branch = self.params.get("branch")
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
        return int(value) if value and value.isdigit() else None

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, or None."""
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        """The ``ttl`` parameter (0-255), or None."""
        value = self.params.get("ttl")
        return int(value) if value and value.isdigit() and int(value) <= 255 else None

    def with_params(self, **params: str | None) -> Via:
        """A copy with the given parameters set (``None`` = valueless)."""
        merged = dict(self.params)
        merged.update(params)
        return self._replace(params=merged)


def parse_via(text: str) -> Via:
    """Parse one stripped via-parm; raise :class:`ParseError` if malformed."""
    fast = _VIA_FAST_RE.fullmatch(text)
    if fast is not None:
        transport, host, port, params_text = fast.groups()
        params: dict[str, str | None] = {}
        if params_text:
            for item in params_text[1:].split(";"):
                name, eq, value = item.partition("=")
                params[name.lower()] = value if eq else None
        if host[0] == "[":
            host = host[1:-1]
        if port is None:
            port_number = None
        else:
            port_number = int(port)
            if port_number > 65535:
                raise ParseError("Via port out of range")
        return _new(Via, (transport.upper(), host, port_number, params, "SIP/2.0"))
    m = _VIA_RE.match(text)
    if m is None:
        raise ParseError("malformed Via")
    name, version, transport, host, port = m.groups()
    if host[0] == "[":
        host = host[1:-1]
    port_number = None
    if port is not None:
        port_number = int(port)
        if port_number > 65535:
            raise ParseError("Via port out of range")
    end = m.end()
    params = parse_params(text, end, "Via") if end < len(text) else {}
    protocol = "SIP/2.0" if name == "SIP" and version == "2.0" else f"{name.upper()}/{version}"
    return Via(transport.upper(), host, port_number, params, protocol)


def parse_via_list(value: str) -> list[Via]:
    """Parse a Via header value that may hold several comma-separated values."""
    if "," not in value:
        return [parse_via(value)]
    return [parse_via(item) for item in split_list(value, "Via")]
