"""SIP, SIPS and tel URIs, and opaque absolute URIs of any other scheme.

``parse_uri`` returns a :class:`SipURI` for ``sip:``/``sips:``, a
:class:`TelURI` for ``tel:`` and an :class:`AbsoluteURI` otherwise.  URI
values keep escapes exactly as written (``%41`` stays ``%41``); use
:func:`unescape` to decode a component and :meth:`SipURI.equivalent` to
compare two URIs with the rules of RFC 3261 §19.1.4.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple
from urllib.parse import quote as _pct_quote
from urllib.parse import unquote as _pct_unquote

from sansip.message._grammar import split_host_port
from sansip.message.errors import ParseError

__all__ = [
    "URI",
    "AbsoluteURI",
    "SipURI",
    "TelURI",
    "escape",
    "parse_uri",
    "unescape",
]

EMPTY_PARAMS: Final[Mapping[str, str | None]] = MappingProxyType({})
EMPTY_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
_new = object.__new__

# Escapes (%HH) are matched as plain '%' inside the character classes and
# checked separately (_BAD_ESCAPE_RE), which keeps the main expression fast.
# user = 1*( unreserved / escaped / user-unreserved )
_USER = r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+"
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
_PASSWORD = r"[A-Za-z0-9\-_.!~*'()&=+$,%]*"
# paramchar = param-unreserved / unreserved / escaped
_PCHARS = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+"
# hname / hvalue: hnv-unreserved / unreserved / escaped
_HCHARS = r"[A-Za-z0-9\-_.!~*'()\[\]/?:+$%]"
_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+"

# SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]  (scheme checked by caller)
_SIP_URI_RE: Final = re.compile(
    rf"(?:({_USER})(?::({_PASSWORD}))?@)?({_HOST})(?::([0-9]{{1,5}}))?"
    rf"((?:;{_PCHARS}(?:={_PCHARS})?)*)"
    rf"(?:\?({_HCHARS}+={_HCHARS}*(?:&{_HCHARS}+={_HCHARS}*)*))?"
)
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
# telephone-subscriber (RFC 3966), matched liberally: number then ;params
_TEL_URI_RE: Final = re.compile(
    r"(?i:tel):([0-9A-Fa-f*#+\-.()pwPW]+)((?:;[A-Za-z0-9\-]+(?:=[^;?\s]+)?)*)"
)
# absoluteURI = scheme ":" ( hier-part / opaque-part )
_ABSOLUTE_RE: Final = re.compile(
    r"([A-Za-z][A-Za-z0-9+\-.]*):([A-Za-z0-9\-_.!~*'()%;/?:@&=+$,\[\]#]+)"
)


def unescape(value: str) -> str:
    """Decode ``%HH`` escapes once (never recursively); ``%00`` stays a NUL."""
    if "%" not in value:
        return value
    return _pct_unquote(value, errors="surrogateescape")


_ESCAPE_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_RESERVED: Final = frozenset(";/?:@&=+$,%")  # and '%' itself, so %25XX stays literal


def _comparable(value: str) -> str:
    """Decode escapes of unreserved characters only (RFC 3261 §19.1.4);
    escapes of reserved characters stay, with upper-case hex digits."""
    if "%" not in value:
        return value

    def decode(m: re.Match[str]) -> str:
        char = chr(int(m[1], 16))
        return f"%{m[1].upper()}" if char in _RESERVED else char

    return _ESCAPE_RE.sub(decode, value)


def escape(value: str, safe: str = "-_.!~*'()&=+$,;?/") -> str:
    """Escape every character of ``value`` not in unreserved or ``safe``."""
    return _pct_quote(value, safe=safe, errors="surrogateescape")


def _parse_param_list(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        params.setdefault(name.lower(), value if eq else None)
    return params


def _parse_uri_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in text.split("&"):
        name, _, value = item.partition("=")
        headers[name] = value
    return headers


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class SipURI:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1).

    ``host`` holds an IPv6 address without its brackets.  Parameter names
    are lower-case; values and user/password keep their escapes.  A parsed
    URI decodes its parameters and headers on first use and serializes to
    the text it was parsed from.  Values are immutable: :meth:`replace`,
    :meth:`with_params` and :meth:`without_params` derive changed copies.
    ``==`` compares components exactly; :meth:`equivalent` applies the
    comparison rules of RFC 3261 §19.1.4.
    """

    __slots__ = (
        "_headers", "_headers_text", "_host", "_params", "_params_text", "_password",
        "_port", "_scheme", "_text", "_user",
    )  # fmt: skip

    _headers: Mapping[str, str] | None
    _headers_text: str | None
    _params: Mapping[str, str | None] | None
    _params_text: str | None
    _text: str | None

    def __init__(
        self,
        host: str,
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        *,
        params: Mapping[str, str | None] = EMPTY_PARAMS,
        headers: Mapping[str, str] = EMPTY_HEADERS,
        scheme: str = "sip",
    ) -> None:
        self._host: str = host
        self._user: str | None = user
        self._password: str | None = password
        self._port: int | None = port
        self._params = params
        self._params_text = None
        self._headers = headers
        self._headers_text = None
        self._scheme: str = scheme
        self._text = None

    @classmethod
    def parse(cls, text: str) -> SipURI:
        """Parse a SIP or SIPS URI; raise :class:`ParseError` if it is not one."""
        if text[:4] == "sip:":
            scheme, start = "sip", 4
        else:
            scheme = text[:5].lower()
            if scheme == "sips:":
                scheme, start = "sips", 5
            elif scheme[:4] == "sip:":
                scheme, start = "sip", 4
            else:
                raise ParseError("not a SIP URI")
        m = _SIP_URI_RE.fullmatch(text, start)
        if m is None:
            raise ParseError("malformed SIP URI")
        if "%" in text and _BAD_ESCAPE_RE.search(text, start):
            raise ParseError("bad %-escape in SIP URI")
        uri = _new(cls)
        uri._user, uri._password, host, port, params, headers = m.groups()
        if port is None and host[0] != "[":
            uri._host, uri._port = host, None
        else:
            uri._host, uri._port = split_host_port(host, port, "SIP URI")
        if params:
            uri._params, uri._params_text = None, params
        else:
            uri._params, uri._params_text = EMPTY_PARAMS, None
        if headers:
            uri._headers, uri._headers_text = None, headers
        else:
            uri._headers, uri._headers_text = EMPTY_HEADERS, None
        uri._scheme = scheme
        uri._text = text
        return uri

    @property
    def host(self) -> str:
        """The host (an IPv6 address without brackets)."""
        return self._host

    @property
    def user(self) -> str | None:
        """The user part as written, or None."""
        return self._user

    @property
    def password(self) -> str | None:
        """The password as written, or None."""
        return self._password

    @property
    def port(self) -> int | None:
        """The port, or None when absent."""
        return self._port

    @property
    def scheme(self) -> str:
        """``"sip"`` or ``"sips"``."""
        return self._scheme

    @property
    def params(self) -> Mapping[str, str | None]:
        """URI parameters: lower-case names, ``None`` for a valueless one."""
        params = self._params
        if params is None:
            assert self._params_text is not None
            params = self._params = _parse_param_list(self._params_text)
        return params

    @property
    def headers(self) -> Mapping[str, str]:
        """URI headers (``?name=value&...``), names and values as written."""
        headers = self._headers
        if headers is None:
            assert self._headers_text is not None
            headers = self._headers = _parse_uri_headers(self._headers_text)
        return headers

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        out = [self._scheme, ":"]
        if self._user is not None:
            out.append(self._user)
            if self._password is not None:
                out += (":", self._password)
            out.append("@")
        out.append(_format_host(self._host))
        if self._port is not None:
            out += (":", str(self._port))
        for name, value in self.params.items():
            out += (";", name) if value is None else (";", name, "=", value)
        if self.headers:
            out += ("?", "&".join(f"{k}={v}" for k, v in self.headers.items()))
        self._text = text = "".join(out)
        return text

    def _key(self) -> tuple[object, ...]:
        return (
            self._scheme, self._user, self._password, self._host, self._port,
            tuple(self.params.items()), tuple(self.headers.items()),
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipURI):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"SipURI({str(self)!r})"

    def replace(self, **changes: object) -> SipURI:
        """A copy with the named components (``host``, ``user``, ``password``,
        ``port``, ``params``, ``headers``, ``scheme``) replaced."""
        fields: dict[str, object] = {
            "host": self._host, "user": self._user, "password": self._password,
            "port": self._port, "params": self.params, "headers": self.headers,
            "scheme": self._scheme,
        }  # fmt: skip
        unknown = changes.keys() - fields.keys()
        if unknown:
            raise TypeError(f"unknown SipURI components: {sorted(unknown)}")
        fields.update(changes)
        return SipURI(**fields)  # type: ignore[arg-type]

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-cased, or None."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def secure(self) -> bool:
        """Whether this is a ``sips:`` URI."""
        return self.scheme == "sips"

    @property
    def lr(self) -> bool:
        """Whether the URI carries the loose-routing ``lr`` parameter."""
        return "lr" in self.params

    @property
    def hostport(self) -> str:
        """``host[:port]`` with IPv6 brackets, as it would appear in a Via."""
        host = _format_host(self.host)
        return host if self.port is None else f"{host}:{self.port}"

    def with_params(self, **params: str | None) -> SipURI:
        """A copy with the given URI parameters set (``None`` = valueless)."""
        merged = dict(self.params)
        merged.update(params)
        return self.replace(params=merged)

    def without_params(self, *names: str) -> SipURI:
        """A copy without the named URI parameters."""
        drop = {n.lower() for n in names}
        return self.replace(params={k: v for k, v in self.params.items() if k not in drop})

    def equivalent(self, other: object) -> bool:
        """Compare with the rules of RFC 3261 §19.1.4.

        User and password compare case-sensitively after unescaping, the host
        case-insensitively; ``user``, ``ttl``, ``method``, ``maddr`` and
        ``transport`` must agree when either side has them, other parameters
        only when both have them; URI headers must all agree.
        """
        if not isinstance(other, SipURI) or self.scheme != other.scheme:
            return False
        if _comparable(self.user or "") != _comparable(other.user or ""):
            return False
        if _comparable(self.password or "") != _comparable(other.password or ""):
            return False
        if self.host.lower() != other.host.lower() or self.port != other.port:
            return False
        mine = {k: _comparable(v).lower() if v else v for k, v in self.params.items()}
        theirs = {k: _comparable(v).lower() if v else v for k, v in other.params.items()}
        for name in ("user", "ttl", "method", "maddr", "transport"):
            if mine.get(name) != theirs.get(name):
                return False
        for name in mine.keys() & theirs.keys():
            if mine[name] != theirs[name]:
                return False
        my_headers = {k.lower(): _comparable(v) for k, v in self.headers.items()}
        their_headers = {k.lower(): _comparable(v) for k, v in other.headers.items()}
        return my_headers == their_headers


class TelURI(NamedTuple):
    """A ``tel:`` URI (RFC 3966): a number and its parameters."""

    number: str
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @classmethod
    def parse(cls, text: str) -> TelURI:
        """Parse a tel URI; raise :class:`ParseError` if it is not one."""
        m = _TEL_URI_RE.fullmatch(text)
        if m is None:
            raise ParseError("malformed tel URI")
        number, params = m.groups()
        return cls(number, _parse_param_list(params) if params else EMPTY_PARAMS)

    @property
    def scheme(self) -> str:
        """Always ``"tel"``."""
        return "tel"

    @property
    def is_global(self) -> bool:
        """Whether the number is global (starts with ``+``)."""
        return self.number.startswith("+")

    def __str__(self) -> str:
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"tel:{self.number}{params}"


class AbsoluteURI(NamedTuple):
    """A URI of a scheme sansip does not interpret (``http:``, ``urn:``, ...)."""

    scheme: str
    rest: str

    @classmethod
    def parse(cls, text: str) -> AbsoluteURI:
        """Parse ``scheme:opaque``; raise :class:`ParseError` if malformed."""
        m = _ABSOLUTE_RE.fullmatch(text)
        if m is None:
            raise ParseError("malformed URI")
        return cls(m[1].lower(), m[2])

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


URI = SipURI | TelURI | AbsoluteURI


def parse_uri(text: str) -> URI:
    """Parse any URI: SIP/SIPS and tel are decoded, other schemes kept opaque."""
    if text[:4] == "sip:":
        return SipURI.parse(text)
    head = text[:5].lower()
    if head.startswith(("sip:", "sips:")):
        return SipURI.parse(text)
    if head.startswith("tel:"):
        return TelURI.parse(text)
    return AbsoluteURI.parse(text)
