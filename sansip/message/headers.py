"""The header collection of a SIP message, and the table of known headers.

:class:`Headers` keeps every field in the order received with its name as
written; look-ups are case-insensitive and understand compact forms
(``v`` = ``Via``).  A field's typed value is decoded on first read through
its :class:`HeaderSpec` and cached until the field changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Final, Generic, TypeVar, cast

from sansip.message import fields as f
from sansip.message._grammar import COMPACT_FORMS, split_list
from sansip.message.address import (
    NameAddr,
    parse_contact_list,
    parse_name_addr,
    parse_name_addr_list,
)
from sansip.message.auth import Challenge, Credentials
from sansip.message.errors import LocalProtocolError
from sansip.message.via import Via, parse_via_list

__all__ = ["HEADER_SPECS", "HeaderSpec", "Headers", "canonical_key"]

T = TypeVar("T")


def canonical_key(name: str) -> str:
    """The look-up key of a header name: lower-case, compact forms expanded."""
    key = name.strip(" \t").lower()
    return COMPACT_FORMS.get(key, key) if len(key) == 1 else key


class HeaderSpec(Generic[T]):
    """How to decode one header: its canonical name and value parser.

    For a list header (``multi=True``) the parser decodes one field's value
    into a list and the lists of all fields are concatenated; otherwise the
    first field is decoded.
    """

    __slots__ = ("key", "multi", "name", "parser")

    def __init__(self, name: str, parser: Callable[[str], T], *, multi: bool = False) -> None:
        self.name = name
        self.key = name.lower()
        self.parser = parser
        self.multi = multi

    def __repr__(self) -> str:
        return f"HeaderSpec({self.name!r})"


def _list_of(parser: Callable[[str], T], what: str) -> Callable[[str], list[T]]:
    def parse_list(value: str) -> list[T]:
        return [parser(item) for item in split_list(value, what)]

    return parse_list


def _contacts(value: str) -> list[NameAddr]:
    parsed = parse_contact_list(value)
    return [] if parsed == "*" else parsed


def _name_addr(what: str) -> Callable[[str], NameAddr]:
    def parse(value: str) -> NameAddr:
        return parse_name_addr(value, what)

    return parse


def _name_addr_list(what: str) -> Callable[[str], list[NameAddr]]:
    def parse(value: str) -> list[NameAddr]:
        return parse_name_addr_list(value, what)

    return parse


VIA: Final = HeaderSpec[list[Via]]("Via", parse_via_list, multi=True)
FROM: Final = HeaderSpec[NameAddr]("From", _name_addr("From"))
TO: Final = HeaderSpec[NameAddr]("To", _name_addr("To"))
CALL_ID: Final = HeaderSpec[str]("Call-ID", f.parse_call_id)
CSEQ: Final = HeaderSpec[f.CSeq]("CSeq", f.parse_cseq)
MAX_FORWARDS: Final = HeaderSpec[int]("Max-Forwards", f.parse_max_forwards)
CONTACT: Final = HeaderSpec[list[NameAddr]]("Contact", _contacts, multi=True)
ROUTE: Final = HeaderSpec[list[NameAddr]]("Route", _name_addr_list("Route"), multi=True)
RECORD_ROUTE: Final = HeaderSpec[list[NameAddr]](
    "Record-Route", _name_addr_list("Record-Route"), multi=True
)
PATH: Final = HeaderSpec[list[NameAddr]]("Path", _name_addr_list("Path"), multi=True)
SERVICE_ROUTE: Final = HeaderSpec[list[NameAddr]](
    "Service-Route", _name_addr_list("Service-Route"), multi=True
)
CONTENT_LENGTH: Final = HeaderSpec[int]("Content-Length", f.parse_delta_seconds)
CONTENT_TYPE: Final = HeaderSpec[f.MediaType]("Content-Type", f.parse_media_type)
ACCEPT: Final = HeaderSpec[list[f.MediaType]]("Accept", f.parse_media_type_list, multi=True)
EXPIRES: Final = HeaderSpec[int]("Expires", f.parse_delta_seconds)
MIN_EXPIRES: Final = HeaderSpec[int]("Min-Expires", f.parse_delta_seconds)
REQUIRE: Final = HeaderSpec[list[str]]("Require", f.parse_token_list, multi=True)
PROXY_REQUIRE: Final = HeaderSpec[list[str]]("Proxy-Require", f.parse_token_list, multi=True)
SUPPORTED: Final = HeaderSpec[list[str]]("Supported", f.parse_token_list, multi=True)
UNSUPPORTED: Final = HeaderSpec[list[str]]("Unsupported", f.parse_token_list, multi=True)
ALLOW: Final = HeaderSpec[list[str]]("Allow", f.parse_token_list, multi=True)
ALLOW_EVENTS: Final = HeaderSpec[list[str]]("Allow-Events", f.parse_token_list, multi=True)
WWW_AUTHENTICATE: Final = HeaderSpec[list[Challenge]](
    "WWW-Authenticate", lambda v: [Challenge.parse(v)], multi=True
)
PROXY_AUTHENTICATE: Final = HeaderSpec[list[Challenge]](
    "Proxy-Authenticate", lambda v: [Challenge.parse(v)], multi=True
)
AUTHORIZATION: Final = HeaderSpec[list[Credentials]](
    "Authorization", lambda v: [Credentials.parse(v)], multi=True
)
PROXY_AUTHORIZATION: Final = HeaderSpec[list[Credentials]](
    "Proxy-Authorization", lambda v: [Credentials.parse(v)], multi=True
)
EVENT: Final = HeaderSpec[f.Event]("Event", f.parse_event)
SUBSCRIPTION_STATE: Final = HeaderSpec[f.SubscriptionState](
    "Subscription-State", f.parse_subscription_state
)
REFER_TO: Final = HeaderSpec[NameAddr]("Refer-To", _name_addr("Refer-To"))
REFERRED_BY: Final = HeaderSpec[NameAddr]("Referred-By", _name_addr("Referred-By"))
REPLACES: Final = HeaderSpec[f.Replaces]("Replaces", f.parse_replaces)
RSEQ: Final = HeaderSpec[int]("RSeq", f.parse_rseq)
RACK: Final = HeaderSpec[f.RAck]("RAck", f.parse_rack)
SESSION_EXPIRES: Final = HeaderSpec[f.SessionExpires]("Session-Expires", f.parse_session_expires)
MIN_SE: Final = HeaderSpec[int]("Min-SE", f.parse_min_se)
REASON: Final = HeaderSpec[list[f.Reason]]("Reason", f.parse_reason_list, multi=True)
WARNING: Final = HeaderSpec[list[f.Warning]]("Warning", f.parse_warning_list, multi=True)
P_ASSERTED_IDENTITY: Final = HeaderSpec[list[NameAddr]](
    "P-Asserted-Identity", _name_addr_list("P-Asserted-Identity"), multi=True
)
P_PREFERRED_IDENTITY: Final = HeaderSpec[list[NameAddr]](
    "P-Preferred-Identity", _name_addr_list("P-Preferred-Identity"), multi=True
)
REMOTE_PARTY_ID: Final = HeaderSpec[list[NameAddr]](
    "Remote-Party-ID", _name_addr_list("Remote-Party-ID"), multi=True
)
PRIVACY: Final = HeaderSpec[list[str]]("Privacy", f.parse_privacy)
DATE: Final = HeaderSpec[datetime]("Date", f.parse_date)

HEADER_SPECS: Final[dict[str, HeaderSpec[object]]] = {
    spec.key: cast(HeaderSpec[object], spec)
    for spec in (
        VIA, FROM, TO, CALL_ID, CSEQ, MAX_FORWARDS, CONTACT, ROUTE, RECORD_ROUTE, PATH,
        SERVICE_ROUTE, CONTENT_LENGTH, CONTENT_TYPE, ACCEPT, EXPIRES, MIN_EXPIRES, REQUIRE,
        PROXY_REQUIRE, SUPPORTED, UNSUPPORTED, ALLOW, ALLOW_EVENTS, WWW_AUTHENTICATE,
        PROXY_AUTHENTICATE, AUTHORIZATION, PROXY_AUTHORIZATION, EVENT, SUBSCRIPTION_STATE,
        REFER_TO, REFERRED_BY, REPLACES, RSEQ, RACK, SESSION_EXPIRES, MIN_SE, REASON, WARNING,
        P_ASSERTED_IDENTITY, P_PREFERRED_IDENTITY, REMOTE_PARTY_ID, PRIVACY, DATE,
    )
}  # fmt: skip

# Headers whose grammar is a comma-separated list, so a field may hold several values.
LIST_HEADERS: Final = frozenset(
    spec.key for spec in HEADER_SPECS.values() if spec.multi and spec.key not in
    {"www-authenticate", "proxy-authenticate", "authorization", "proxy-authorization"}
) | {
    "accept-encoding", "accept-language", "content-encoding", "content-language",
    "in-reply-to", "alert-info", "call-info", "error-info", "history-info", "security-client",
    "security-server", "security-verify", "accept-contact", "reject-contact",
    "request-disposition", "p-associated-uri", "p-visited-network-id", "accept-resource-priority",
    "resource-priority",
}  # fmt: skip


class Headers:
    """Ordered, case-insensitive SIP header fields.

    Iterating yields ``(name, value)`` pairs as written.  Values are the
    unfolded field values; ``parsed(SPEC)`` decodes a known header.  Every
    change marks the collection modified, so the message it belongs to is
    serialized from its fields instead of its original bytes.
    """

    __slots__ = (
        "_cache", "_first", "_index", "_keys", "_lines", "_names", "_values", "modified",
    )  # fmt: skip

    # Parsed messages share the parser's tuples (values not yet stripped of
    # the LWS around them); the first change turns them into lists.  _lines
    # holds each field's line as received (None for a field added or changed
    # since); it stays None while the tuples themselves are the received text.
    _names: Sequence[str]
    _keys: list[str]
    _values: Sequence[str]
    _lines: list[str | None] | None

    def __init__(self, items: Iterable[tuple[str, object]] = ()) -> None:
        self._names = []
        self._keys = []
        self._values = []
        self._lines = []
        self._index: dict[str, list[int]] | None = None
        self._first: dict[str, int] | None = None
        self._cache: dict[str, object] = {}
        self.modified = False
        for name, value in items:
            self.add(name, value)
        self.modified = False

    @classmethod
    def _from_fields(
        cls,
        names: Sequence[str],
        keys: list[str],
        values: Sequence[str],
        lines: list[str | None] | None = None,
    ) -> Headers:
        self = cls.__new__(cls)
        self._names = names
        self._keys = keys
        self._values = values
        self._lines = lines
        self._index = None
        self._first = None
        self._cache = {}
        self.modified = False
        return self

    def _get_index(self) -> dict[str, list[int]]:
        index = self._index
        if index is None:
            index = {}
            for i, key in enumerate(self._keys):
                if key in index:
                    index[key].append(i)
                else:
                    index[key] = [i]
            self._index = index
        return index

    def _lists(self) -> tuple[list[str], list[str], list[str], list[str | None]]:
        names, values, lines = self._names, self._values, self._lines
        if lines is None:
            lines = self._lines = [f"{n}:{v}" for n, v in zip(names, values, strict=True)]
        if not isinstance(names, list):
            names = self._names = list(names)
        if not isinstance(values, list):
            values = self._values = [v.strip(" \t") for v in values]
        return names, self._keys, values, lines

    def _line(self, i: int) -> str | None:
        """Field ``i`` as received (without CRLF), or None if it was changed."""
        lines = self._lines
        if lines is None:
            return f"{self._names[i]}:{self._values[i]}"
        return lines[i]

    def _changed(self, key: str) -> None:
        self._index = None
        self._first = None
        self._cache.pop(key, None)
        self._cache.pop(key + "/top", None)  # a partial decode (the top Via)
        self.modified = True

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_key(name) in self._keys

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._keys == other._keys and [v.strip(" \t") for v in self._values] == [
            v.strip(" \t") for v in other._values
        ]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"

    def items(self) -> list[tuple[str, str]]:
        """All fields as ``(name, value)`` pairs, in order."""
        return [(n, v.strip(" \t")) for n, v in zip(self._names, self._values, strict=True)]

    def names(self) -> list[str]:
        """The field names as written, in order."""
        return list(self._names)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first field called ``name``, or ``default``."""
        key = canonical_key(name)
        first = self._first
        if first is not None:
            i = first.get(key)
            return default if i is None else self._values[i].strip(" \t")
        keys = self._keys
        if key in keys:
            return self._values[keys.index(key)].strip(" \t")
        return default

    def get_all(self, name: str) -> list[str]:
        """The values of every field called ``name``, one per field line."""
        positions = self._get_index().get(canonical_key(name), ())
        return [self._values[i].strip(" \t") for i in positions]

    def count(self, name: str) -> int:
        """How many field lines are called ``name``."""
        return self._keys.count(canonical_key(name))

    def values(self, name: str) -> list[str]:
        """Every value of ``name``; list headers are split at their commas."""
        raw = self.get_all(name)
        if canonical_key(name) not in LIST_HEADERS:
            return raw
        return [item for value in raw for item in split_list(value, name)]

    def parsed(self, spec: HeaderSpec[T]) -> T | None:
        """The typed value of a known header (cached), or None if absent.

        Raises :class:`ParseError` if the value is malformed.
        """
        cache = self._cache
        key = spec.key
        if key in cache:
            return cast(T, cache[key])
        if key not in self._keys:
            return None
        values = self._values
        if spec.multi:
            parser = cast("Callable[[str], list[object]]", spec.parser)
            out: list[object] = []
            for i in self._get_index()[key]:
                out += parser(values[i].strip(" \t"))
            value = cast(T, out)
        else:
            value = spec.parser(values[self._keys.index(key)].strip(" \t"))
        cache[key] = value
        return value

    def add(self, name: str, value: object) -> None:
        """Append a field.  ``value`` may be a string or a typed value."""
        text = self._text(value)
        key = canonical_key(name)
        names, keys, values, lines = self._lists()
        names.append(name)
        keys.append(key)
        values.append(text)
        lines.append(None)
        self._changed(key)

    def insert(self, position: int, name: str, value: object) -> None:
        """Insert a field before the field at ``position`` (0 = first)."""
        text = self._text(value)
        key = canonical_key(name)
        names, keys, values, lines = self._lists()
        names.insert(position, name)
        keys.insert(position, key)
        values.insert(position, text)
        lines.insert(position, None)
        self._changed(key)

    def prepend(self, name: str, value: object) -> None:
        """Insert a field before the first field of the same name (Via, Route),
        or first of all if there is none."""
        key = canonical_key(name)
        self.insert(self._keys.index(key) if key in self._keys else 0, name, value)

    def set(self, name: str, value: object) -> None:
        """Replace every field called ``name`` by one field (in place of the first)."""
        key = canonical_key(name)
        text = self._text(value)
        if key not in self._keys:
            self.add(name, text)
            return
        names, keys, values, lines = self._lists()
        positions = [i for i, k in enumerate(keys) if k == key]
        values[positions[0]] = text
        lines[positions[0]] = None
        for i in reversed(positions[1:]):
            del names[i], keys[i], values[i], lines[i]
        self._changed(key)

    def remove(self, name: str) -> int:
        """Remove every field called ``name``; return how many were removed."""
        key = canonical_key(name)
        if key not in self._keys:
            return 0
        names, keys, values, lines = self._lists()
        positions = [i for i, k in enumerate(keys) if k == key]
        for i in reversed(positions):
            del names[i], keys[i], values[i], lines[i]
        self._changed(key)
        return len(positions)

    def remove_first(self, name: str) -> str | None:
        """Remove the first field called ``name`` and return its value."""
        key = canonical_key(name)
        if key not in self._keys:
            return None
        names, keys, values, lines = self._lists()
        i = keys.index(key)
        value = values[i]
        del names[i], keys[i], values[i], lines[i]
        self._changed(key)
        return value

    def copy(self) -> Headers:
        """An independent, unmodified copy."""
        lines = None if self._lines is None else list(self._lines)
        return Headers._from_fields(list(self._names), list(self._keys), list(self._values), lines)

    @staticmethod
    def _text(value: object) -> str:
        text = value if isinstance(value, str) else str(value)
        if "\r" in text or "\n" in text:
            raise LocalProtocolError("header values must not contain CR or LF")
        try:
            text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise LocalProtocolError("header value is not encodable as UTF-8") from None
        return text.strip(" \t")
