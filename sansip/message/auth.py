"""Values of the SIP authentication header fields (RFC 3261 §25.1, RFC 7616).

``Challenge`` is the value of a WWW-Authenticate or Proxy-Authenticate header
field, ``Credentials`` the value of an Authorization or Proxy-Authorization
header field.  Both hold an auth scheme and an ordered mapping of auth-params
whose names are stored in lowercase and whose values are stored unquoted and
unescaped.  ``str()`` gives the canonical text, ``parse()`` reads it back.

The grammar accepted is the one of RFC 3261 (``auth-scheme LWS auth-param
*(COMMA auth-param)``) with two leniencies taken from HTTP (RFC 7235): a
scheme other than Digest may be alone or followed by a single token68, and
empty list elements (``a=1, , b=2``) are skipped.  The input is an unfolded
header value: CR and LF are never accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import ClassVar, Self

from sansip.errors import LocalProtocolError
from sansip.message.errors import ParseError

__all__ = ["Challenge", "Credentials"]

# RFC 3261 token characters.
_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_TOKEN_RE = re.compile(f"[{_TOKEN_CHARS}]+")
# HTTP token68 (RFC 7235), widened to every SIP token character.
_TOKEN68_RE = re.compile(f"[{_TOKEN_CHARS}/]+=*")
_LWS_RE = re.compile(r"[ \t]*")
# The body of a quoted-string after its opening DQUOTE, up to and including the
# closing DQUOTE.  Unrolled so that it never backtracks more than linearly.
_QUOTED_BODY_RE = re.compile(r'([^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*)"')
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
# Characters that must be escaped inside a quoted-string on output: DQUOTE,
# backslash and the controls that qdtext does not allow (CR and LF are refused).
_NEEDS_ESCAPE_RE = re.compile(r'["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_LWS = " \t"

_DIGEST = "Digest"

# RFC 7616 §3.3/§3.4 (and RFC 3261 §25.1): parameters a sender MUST NOT quote.
_UNQUOTED_CHALLENGE = frozenset({"algorithm", "stale", "userhash", "charset"})
_UNQUOTED_CREDENTIALS = frozenset({"algorithm", "qop", "nc", "userhash", "charset"})
# Parameters a sender MUST quote.
_QUOTED_CHALLENGE = frozenset({"realm", "domain", "nonce", "opaque", "qop"})
_QUOTED_CREDENTIALS = frozenset(
    {"username", "realm", "nonce", "uri", "response", "cnonce", "opaque"}
)


def _is_token(value: str) -> bool:
    return _TOKEN_RE.fullmatch(value) is not None


def _quote(value: str) -> str:
    return '"' + _NEEDS_ESCAPE_RE.sub(lambda m: "\\" + m.group(), value) + '"'


def _short(name: str) -> str:
    """A param name fit for a reason phrase (tokens are ASCII already)."""
    return repr(name if len(name) <= 32 else name[:32] + "...")


def _skip_lws(text: str, pos: int) -> int:
    match = _LWS_RE.match(text, pos)
    assert match is not None  # matches the empty string at worst
    return match.end()


def _parse(kind: str, value: str) -> tuple[str, list[tuple[str, str]], str | None]:
    """Split ``value`` into its scheme, its auth-params and its token68."""
    text = value.strip(_LWS)
    match = _TOKEN_RE.match(text)
    if match is None:
        raise ParseError(f"{kind}: missing auth-scheme")
    scheme = match.group()
    pos = match.end()
    if pos == len(text):
        if scheme.lower() == "digest":
            raise ParseError(f"{kind}: Digest without parameters")
        return scheme, [], None
    if text[pos] not in _LWS:
        raise ParseError(f"{kind}: invalid character after auth-scheme")
    pos = _skip_lws(text, pos)
    if scheme.lower() != "digest":
        token68 = _TOKEN68_RE.fullmatch(text, pos)
        if token68 is not None:
            return scheme, [], token68.group()

    params: list[tuple[str, str]] = []
    seen: set[str] = set()
    end = len(text)
    while True:
        pos = _skip_lws(text, pos)
        if pos == end:
            break
        if text[pos] == ",":  # empty list element
            pos += 1
            continue
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ParseError(f"{kind}: invalid auth-param name")
        name = match.group().lower()
        pos = _skip_lws(text, match.end())
        if pos == end or text[pos] != "=":
            raise ParseError(f"{kind}: auth-param {_short(name)} without '='")
        pos = _skip_lws(text, pos + 1)
        if pos < end and text[pos] == '"':
            match = _QUOTED_BODY_RE.match(text, pos + 1)
            if match is None:
                raise ParseError(f"{kind}: unterminated quoted-string in {_short(name)}")
            param_value = _QUOTED_PAIR_RE.sub(lambda m: m.group(1), match.group(1))
        else:
            match = _TOKEN_RE.match(text, pos)
            if match is None:
                raise ParseError(f"{kind}: invalid value of auth-param {_short(name)}")
            param_value = match.group()
        pos = _skip_lws(text, match.end())
        if pos < end and text[pos] != ",":
            raise ParseError(f"{kind}: expected ',' after auth-param {_short(name)}")
        if name in seen:
            raise ParseError(f"{kind}: duplicate auth-param {_short(name)}")
        seen.add(name)
        params.append((name, param_value))
    if not params and scheme.lower() == "digest":
        raise ParseError(f"{kind}: Digest without parameters")
    return scheme, params, None


class _AuthValue:
    """Shared implementation of ``Challenge`` and ``Credentials``."""

    __slots__ = ("_params", "_scheme", "_token68")

    _KIND: ClassVar[str] = "auth value"
    _UNQUOTED: ClassVar[frozenset[str]] = frozenset()
    _QUOTED: ClassVar[frozenset[str]] = frozenset()

    _scheme: str
    _params: Mapping[str, str]
    _token68: str | None

    def __init__(
        self,
        scheme: str = _DIGEST,
        params: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        token68: str | None = None,
    ) -> None:
        if not isinstance(scheme, str) or not _is_token(scheme):
            raise LocalProtocolError(f"invalid auth-scheme {scheme!r}")
        is_digest = scheme.lower() == "digest"
        items = params.items() if isinstance(params, Mapping) else params
        store: dict[str, str] = {}
        for name, value in items:
            if not isinstance(name, str) or not _is_token(name):
                raise LocalProtocolError(f"invalid auth-param name {name!r}")
            if not isinstance(value, str) or "\r" in value or "\n" in value:
                raise LocalProtocolError(f"invalid value of auth-param {_short(name)}")
            key = name.lower()
            if key in store:
                raise LocalProtocolError(f"duplicate auth-param {key!r}")
            store[key] = value
        if token68 is not None:
            if store or is_digest:
                raise LocalProtocolError("token68 excludes auth-params and Digest")
            if not isinstance(token68, str) or _TOKEN68_RE.fullmatch(token68) is None:
                raise LocalProtocolError(f"invalid token68 {token68!r}")
        if is_digest and not store:
            raise LocalProtocolError("Digest needs at least one auth-param")
        object.__setattr__(self, "_scheme", _DIGEST if is_digest else scheme)
        object.__setattr__(self, "_params", MappingProxyType(store))
        object.__setattr__(self, "_token68", token68)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # For pickle and copy: the text form round-trips exactly.
        return (type(self).parse, (str(self),))

    @classmethod
    def parse(cls, value: str) -> Self:
        """Parse a header field value; raise ``ParseError`` (400) on bad syntax."""
        scheme, params, token68 = _parse(cls._KIND, value)
        return cls(scheme, params, token68=token68)

    @classmethod
    def digest(cls, **params: str) -> Self:
        """A Digest value with ``params`` in the order given."""
        return cls(_DIGEST, params)

    @property
    def scheme(self) -> str:
        """The auth-scheme; ``"Digest"`` whatever its case in the input."""
        return self._scheme

    @property
    def params(self) -> Mapping[str, str]:
        """The auth-params in order: lowercase names, unquoted values."""
        return self._params

    @property
    def token68(self) -> str | None:
        """The lone token of a non-Digest scheme (``Scheme token``), if any."""
        return self._token68

    @property
    def is_digest(self) -> bool:
        """Whether the scheme is Digest."""
        return self._scheme == _DIGEST

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of auth-param ``name`` (any case), or ``default``."""
        return self._params.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._params

    def _format_param(self, name: str, value: str) -> str:
        if self.is_digest:
            if name in self._QUOTED:
                return f"{name}={_quote(value)}"
            if name in self._UNQUOTED and _is_token(value):
                return f"{name}={value}"
        return f"{name}={value}" if _is_token(value) else f"{name}={_quote(value)}"

    def __str__(self) -> str:
        if self._token68 is not None:
            return f"{self._scheme} {self._token68}"
        if not self._params:
            return self._scheme
        body = ", ".join(self._format_param(k, v) for k, v in self._params.items())
        return f"{self._scheme} {body}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.parse({str(self)!r})"

    def _key(self) -> tuple[str, tuple[tuple[str, str], ...], str | None]:
        return (self._scheme.lower(), tuple(sorted(self._params.items())), self._token68)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _AuthValue)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    # Shared convenience accessors.
    @property
    def realm(self) -> str | None:
        """The ``realm`` parameter."""
        return self._params.get("realm")

    @property
    def nonce(self) -> str | None:
        """The ``nonce`` parameter."""
        return self._params.get("nonce")

    @property
    def opaque(self) -> str | None:
        """The ``opaque`` parameter."""
        return self._params.get("opaque")

    @property
    def algorithm(self) -> str | None:
        """The ``algorithm`` parameter as sent (absent means MD5)."""
        return self._params.get("algorithm")

    @property
    def userhash(self) -> bool:
        """Whether ``userhash=true`` (RFC 7616 §3.4.4)."""
        return self._params.get("userhash", "").lower() == "true"


class Challenge(_AuthValue):
    """The value of a WWW-Authenticate or Proxy-Authenticate header field.

    >>> str(Challenge.parse('digest REALM="x",nonce=y'))
    'Digest realm="x", nonce="y"'
    """

    __slots__ = ()

    _KIND = "challenge"
    _UNQUOTED = _UNQUOTED_CHALLENGE
    _QUOTED = _QUOTED_CHALLENGE

    @property
    def qop_options(self) -> list[str]:
        """The qop-options offered, lowercased, in order (empty: no qop)."""
        raw = self._params.get("qop")
        if raw is None:
            return []
        return [q.strip(_LWS).lower() for q in raw.split(",") if q.strip(_LWS)]

    @property
    def stale(self) -> bool:
        """Whether ``stale=true``: the nonce expired but the credentials were right."""
        return self._params.get("stale", "").lower() == "true"

    @property
    def domain(self) -> str | None:
        """The ``domain`` parameter: a space-separated list of URIs."""
        return self._params.get("domain")

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter (RFC 7616: only ``UTF-8`` is defined)."""
        return self._params.get("charset")


class Credentials(_AuthValue):
    """The value of an Authorization or Proxy-Authorization header field.

    >>> str(Credentials.digest(username="bob", qop="auth", nc="00000001"))
    'Digest username="bob", qop=auth, nc=00000001'
    """

    __slots__ = ()

    _KIND = "credentials"
    _UNQUOTED = _UNQUOTED_CREDENTIALS
    _QUOTED = _QUOTED_CREDENTIALS

    @property
    def username(self) -> str | None:
        """The ``username`` parameter (a hash of it when ``userhash`` is true)."""
        return self._params.get("username")

    @property
    def uri(self) -> str | None:
        """The ``uri`` (digest-uri) parameter."""
        return self._params.get("uri")

    @property
    def response(self) -> str | None:
        """The ``response`` parameter: the hex digest."""
        return self._params.get("response")

    @property
    def cnonce(self) -> str | None:
        """The ``cnonce`` parameter."""
        return self._params.get("cnonce")

    @property
    def qop(self) -> str | None:
        """The ``qop`` chosen by the client (``auth`` or ``auth-int``)."""
        return self._params.get("qop")

    @property
    def nc(self) -> str | None:
        """The ``nc`` (nonce count) parameter: 8 hex digits."""
        return self._params.get("nc")
