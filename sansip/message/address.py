"""name-addr / addr-spec values: From, To, Contact, Route, Record-Route,
Refer-To, Referred-By, P-Asserted-Identity, Remote-Party-ID.

The parameters after the address are *header* parameters (``tag``,
``expires``, ``q``); parameters inside ``<...>`` belong to the URI
(RFC 4475 cparam01/cparam02).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

from sansip.message._grammar import (
    QUOTED_RE,
    TOKEN,
    LazyParams,
    find_simple_param,
    is_number,
    parse_params,
    quote,
    split_list,
    unquote,
)
from sansip.message.errors import ParseError
from sansip.message.uri import EMPTY_PARAMS, URI, SipURI, parse_uri

__all__ = ["NameAddr", "parse_contact_list", "parse_name_addr", "parse_name_addr_list"]

# display-name = *(token LWS) / quoted-string  (RFC 4475 lwsdisp: no LWS before '<' is tolerated)
_TOKEN_DISPLAY_RE: Final = re.compile(rf"{TOKEN}(?:[ \t]+{TOKEN})*")


class NameAddr(LazyParams):
    """An address with an optional display name and header parameters.

    ``display_name`` is unquoted (``None`` when absent); ``params`` are the
    header parameters with lower-case names, values as written.  A parsed
    address decodes its URI on first access of :attr:`uri` (raising
    :class:`ParseError` then if the URI is malformed); reading the tag or
    other parameters never needs the URI.  Values are immutable: use
    :meth:`with_params` / :meth:`with_tag` to derive a changed copy.
    """

    __slots__ = ("_uri", "_uri_text", "display_name")

    def __init__(
        self,
        uri: URI | str,
        display_name: str | None = None,
        params: Mapping[str, str | None] = EMPTY_PARAMS,
    ) -> None:
        if isinstance(uri, str):
            self._uri: URI | None = None
            self._uri_text: str | None = uri
        else:
            self._uri = uri
            self._uri_text = None
        self.display_name = display_name
        self._params = params
        self._params_text = None

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse one ``name-addr`` or ``addr-spec`` with its parameters."""
        return parse_name_addr(text.strip(" \t"), "address")

    @property
    def uri(self) -> URI:
        """The address URI (decoded on first access)."""
        uri = self._uri
        if uri is None:
            assert self._uri_text is not None
            uri = self._uri = parse_uri(self._uri_text)
        return uri

    def __str__(self) -> str:
        uri = self._uri_text if self._uri is None else str(self._uri)
        params = self._params_str()
        if self.display_name is None:
            return f"<{uri}>{params}"
        return f"{quote(self.display_name)} <{uri}>{params}"

    def __repr__(self) -> str:
        return f"NameAddr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (
            self.display_name == other.display_name
            and dict(self.params) == dict(other.params)
            and self.uri == other.uri
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To), or None."""
        if self._params is None:
            return find_simple_param(self._params_text, ";tag=")  # type: ignore[arg-type]
        return self._params.get("tag")

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter, or None if absent or not a number.

        Values above 2**32-1 are clamped to 2**32-1 (RFC 4475 scalar02).
        """
        value = self.params.get("expires")
        if value is None or not is_number(value):
            return None
        return min(int(value), 2**32 - 1)

    @property
    def q(self) -> float | None:
        """The Contact ``q`` preference in [0, 1], or None."""
        value = self.params.get("q")
        if value is None:
            return None
        try:
            q = float(value)
        except ValueError:
            return None
        return q if 0.0 <= q <= 1.0 else None

    @property
    def sip_uri(self) -> SipURI:
        """The URI as a :class:`SipURI`; raise ParseError (416) for other schemes."""
        uri = self.uri
        if isinstance(uri, SipURI):
            return uri
        raise ParseError(f"unsupported URI scheme {uri.scheme!r}", 416)

    def with_tag(self, tag: str) -> NameAddr:
        """A copy with the ``tag`` parameter set."""
        return self.with_params(tag=tag)

    def with_params(self, **params: str | None) -> NameAddr:
        """A copy with the given header parameters set."""
        merged = dict(self.params)
        merged.update(params)
        return NameAddr(self.uri, self.display_name, merged)


# The common form: "<uri>" plus simple parameters, no display name.
_PLAIN_RE: Final = re.compile(
    r'(?:"([^"\\\r\n]*)"[ \t]*)?'
    r"<([A-Za-z][A-Za-z0-9+\-.]*:[^<>\s\"]*)>((?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[^;=\s\",<>]+)?)*)"
)
# URI text inside <> or as addr-spec: no LWS, no brackets or quotes, a scheme.
_URI_TEXT_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:[^\s<>\"]*")


_new = object.__new__


def _uri_text(text: str, what: str) -> str:
    if _URI_TEXT_RE.fullmatch(text) is None:
        raise ParseError(f"malformed URI in {what}")
    return text


def parse_name_addr(value: str, what: str) -> NameAddr:
    """Parse a stripped ``(name-addr / addr-spec) *(SEMI param)`` value."""
    m = _PLAIN_RE.fullmatch(value)
    if m is not None:
        na = _new(NameAddr)
        na._uri = None
        na.display_name, na._uri_text, params_text = m.groups()
        if params_text:
            na._params = None
            na._params_text = params_text
        else:
            na._params = EMPTY_PARAMS
            na._params_text = None
        return na
    if not value:
        raise ParseError(f"empty {what}")
    display: str | None = None
    if value[0] == '"':
        qm = QUOTED_RE.match(value)
        if qm is None:
            raise ParseError(f"unterminated quoted display name in {what}")
        display = unquote(qm.group())
        lt = qm.end()
        while lt < len(value) and value[lt] in " \t":
            lt += 1
        if lt >= len(value) or value[lt] != "<":
            raise ParseError(f"quoted display name without <URI> in {what}")
    else:
        lt = value.find("<")
    if lt >= 0:
        if display is None and lt > 0:
            text = value[:lt].rstrip(" \t")
            if _TOKEN_DISPLAY_RE.fullmatch(text) is None:
                raise ParseError(f"display name is neither a token list nor quoted in {what}")
            display = text
        gt = value.find(">", lt)
        if gt < 0:
            raise ParseError(f"unterminated '<' in {what}")
        uri_text = _uri_text(value[lt + 1 : gt], what)
        pos = gt + 1
    else:
        semi = value.find(";")
        uri_text = value if semi < 0 else value[:semi]
        uri_text = uri_text.rstrip(" \t")
        if "?" in uri_text or "," in uri_text:
            raise ParseError(f"URI with '?' or ',' must be enclosed in <> in {what}")
        uri_text = _uri_text(uri_text, what)
        pos = len(value) if semi < 0 else semi
    if pos < len(value):
        return NameAddr(uri_text, display, parse_params(value, pos, what))
    return NameAddr(uri_text, display, EMPTY_PARAMS)


def parse_name_addr_list(value: str, what: str) -> list[NameAddr]:
    """Parse a comma-separated list of addresses (Route, Record-Route, ...)."""
    return [parse_name_addr(item, what) for item in split_list(value, what)]


def parse_contact_list(value: str) -> list[NameAddr] | Literal["*"]:
    """Parse a Contact header value: ``*`` or a list of addresses."""
    if value == "*":
        return "*"
    return parse_name_addr_list(value, "Contact")
