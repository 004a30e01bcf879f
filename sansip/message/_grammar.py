"""Character classes, regular expressions and small helpers for the SIP grammar.

Each expression quotes the RFC 3261 §25.1 rule it implements.  They are
written so that no input can make them backtrack more than linearly: every
repetition is over a character class disjoint from what follows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from sansip.message.errors import ParseError

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS: Final = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN: Final = f"[{TOKEN_CHARS}]+"
TOKEN_RE: Final = re.compile(TOKEN)

# LWS = [*WSP CRLF] 1*WSP; after unfolding only SP / HTAB remain.
LWS: Final = r"[ \t]*"

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
#   qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
#   quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
QUOTED: Final = r'"[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*"'
QUOTED_RE: Final = re.compile(QUOTED)

# generic-param = token [ EQUAL gen-value ];  gen-value = token / host / quoted-string.
# host may be an IPv6 reference; Via received= is also seen with bare IPv6
# (RFC 5118 §4.5), so ':' '[' ']' are allowed in unquoted values.
PARAM_VALUE: Final = f"[{TOKEN_CHARS}:\\[\\]]+|{QUOTED}"
HEADER_PARAM_RE: Final = re.compile(f"{LWS};{LWS}({TOKEN})(?:{LWS}={LWS}({PARAM_VALUE}))?")

# hostname = *( domainlabel "." ) toplabel [ "." ]; IPv4address; IPv6reference = "[" IPv6address "]"
# Hostnames are matched liberally ('_' is seen in the wild); the port is
# outside the brackets of an IPv6 reference (RFC 5118 §4.3).
HOST: Final = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+"
HOST_RE: Final = re.compile(HOST)

COMPACT_FORMS: Final[dict[str, str]] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}


# The common case: no LWS, no quoted strings, every parameter well formed.
_SIMPLE_PARAMS_RE: Final = re.compile(f"(?:;{TOKEN}(?:=[{TOKEN_CHARS}:\\[\\]]+)?)+")


def parse_params(text: str, pos: int, what: str) -> dict[str, str | None]:
    """Parse ``*( SEMI generic-param )`` from ``text[pos:]`` to the end.

    Names are lower-cased (they compare case-insensitively); values are kept
    as written, quoted strings with their quotes.  Trailing LWS is allowed.
    A name given twice (which RFC 3261 forbids) keeps its first value.
    """
    params: dict[str, str | None] = {}
    if _SIMPLE_PARAMS_RE.fullmatch(text, pos):
        return split_simple_params(text[pos:])
    end = len(text)
    match = HEADER_PARAM_RE.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            if text[pos:].strip(" \t"):
                raise ParseError(f"bad parameter in {what}")
            break
        params.setdefault(m[1].lower(), m[2])  # a repeated name: the first one wins
        pos = m.end()
    return params


def split_simple_params(text: str) -> dict[str, str | None]:
    """Decode ``;a=b;c`` text that a caller already matched as simple params."""
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        params.setdefault(name.lower(), value if eq else None)  # the first one wins
    return params


def find_simple_param(text: str, needle: str) -> str | None:
    """The value of one parameter of simple params text, decoding nothing else.

    ``needle`` is ``";name="`` with a lower-case name.  Returns None when
    the parameter is absent or has no value; a name written in another case
    is found too.
    """
    i = text.find(needle)
    if i < 0:
        if needle not in text.lower():
            return None
        return split_simple_params(text).get(needle[1:-1])
    start = i + len(needle)
    end = text.find(";", start)
    return text[start:] if end < 0 else text[start:end]


class LazyParams:
    """Header parameters decoded on first use (a base for Via and NameAddr).

    ``_params_text`` holds ``;a=b;c`` text already matched by a strict
    expression; ``_params`` the decoded mapping once someone asked for it.
    """

    __slots__ = ("_params", "_params_text")

    _params: Mapping[str, str | None] | None
    _params_text: str | None

    @property
    def params(self) -> Mapping[str, str | None]:
        """The parameters: lower-case names, ``None`` for a valueless one."""
        params = self._params
        if params is None:
            assert self._params_text is not None
            params = self._params = split_simple_params(self._params_text)
        return params

    def _params_str(self) -> str:
        if self._params is None:
            return self._params_text or ""
        return format_params(self._params)


def split_host_port(host: str, port: str | None, what: str) -> tuple[str, int | None]:
    """Remove IPv6 brackets and check the port range (0-65535)."""
    if host[0] == "[":
        host = host[1:-1]
    if port is None:
        return host, None
    number = int(port)
    if number > 65535:
        raise ParseError(f"port out of range in {what}")
    return host, number


def format_params(params: Mapping[str, str | None]) -> str:
    """Serialize parameters as ``;name=value`` pairs (``;name`` when valueless)."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def split_list(value: str, what: str) -> list[str]:
    """Split a comma-separated header value, honouring quotes and ``<...>``.

    Empty elements (``a,,b``) are a syntax error for the headers this is used
    on (RFC 3261 ``#element`` lists never hold empty elements in SIP).
    """
    if "," not in value:
        parts = [value]
    elif '"' not in value and "<" not in value:
        parts = value.split(",")
    else:
        parts = []
        start = 0
        i = 0
        n = len(value)
        while i < n:
            c = value[i]
            if c == '"':
                m = QUOTED_RE.match(value, i)
                if m is None:
                    raise ParseError(f"unterminated quoted string in {what}")
                i = m.end()
                continue
            if c == "<":
                j = value.find(">", i)
                if j < 0:
                    raise ParseError(f"unterminated '<' in {what}")
                i = j + 1
                continue
            if c == ",":
                parts.append(value[start:i])
                start = i + 1
            i += 1
        parts.append(value[start:])
    out = [p.strip(" \t") for p in parts]
    if "" in out:
        raise ParseError(f"empty element in {what}")
    return out


def unquote(value: str) -> str:
    """Remove the quotes of a quoted-string and resolve its quoted-pairs.

    A value without surrounding quotes is returned unchanged.
    """
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if "\\" not in inner:
            return inner
        out: list[str] = []
        i = 0
        while i < len(inner):
            c = inner[i]
            if c == "\\" and i + 1 < len(inner):
                out.append(inner[i + 1])
                i += 2
            else:
                out.append(c)
                i += 1
        return "".join(out)
    return value


def quote(value: str) -> str:
    """Make a quoted-string, escaping ``"`` and ``\\``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_number(value: str) -> bool:
    """Whether ``value`` is 1*DIGIT (ASCII digits only)."""
    return value.isascii() and value.isdigit()


def is_token(value: str) -> bool:
    """Whether ``value`` is a non-empty SIP token."""
    return TOKEN_RE.fullmatch(value) is not None
