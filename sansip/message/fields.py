"""Typed values of the smaller SIP headers.

Each ``parse_*`` function takes an unfolded, stripped header value and
returns a typed value or raises :class:`ParseError`; each value type
serializes canonically with ``str()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, NamedTuple

from sansip.message._grammar import (
    LWS,
    QUOTED,
    TOKEN,
    TOKEN_RE,
    format_params,
    is_number,
    parse_params,
    quote,
    split_list,
    unquote,
)
from sansip.message.errors import ParseError
from sansip.message.uri import EMPTY_PARAMS

__all__ = [
    "CSeq",
    "MediaType",
    "RAck",
    "Reason",
    "Replaces",
    "SessionExpires",
    "SubscriptionState",
    "Warning",
    "parse_call_id",
    "parse_cseq",
    "parse_date",
    "parse_delta_seconds",
    "parse_max_forwards",
    "parse_media_type",
    "parse_media_type_list",
    "parse_min_se",
    "parse_privacy",
    "parse_rack",
    "parse_reason_list",
    "parse_replaces",
    "parse_rseq",
    "parse_session_expires",
    "parse_subscription_state",
    "parse_token_list",
    "parse_warning_list",
]

MAX_SEQ: Final = 2**32 - 1

# callid = word [ "@" word ]; word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`"
#   / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID_RE: Final = re.compile(rf"{_WORD}(?:@{_WORD})?")
# CSeq = 1*DIGIT LWS Method
_CSEQ_RE: Final = re.compile(rf"([0-9]+)[ \t]+({TOKEN})")
# RAck = response-num LWS CSeq-num LWS Method
_RACK_RE: Final = re.compile(rf"([0-9]+)[ \t]+([0-9]+)[ \t]+({TOKEN})")
# m-type SLASH m-subtype *(SEMI m-parameter)
_MEDIA_RE: Final = re.compile(rf"({TOKEN}){LWS}/{LWS}({TOKEN})")
# warning-value = warn-code SP warn-agent SP warn-text
_WARNING_RE: Final = re.compile(rf"([0-9]{{3}})[ \t]+([^ \t]+)[ \t]+({QUOTED})")
# rfc1123-date = wkday "," SP date1 SP time SP "GMT"
_DATE_RE: Final = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]+([0-9]{2})[ \t]+"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+([0-9]{4})[ \t]+"
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})[ \t]+GMT"
)
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _int(digits: str) -> int:
    """The value of a string of ASCII digits, capped above 2**32-1: any
    number of digits is read (``int`` refuses more than a few thousand)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 11 else MAX_SEQ + 1


def _digits(value: str, what: str) -> int:
    if not is_number(value) or not value.isascii():
        raise ParseError(f"{what} is not a number")
    return _int(value)


def _token_and_params(value: str, what: str) -> tuple[str, Mapping[str, str | None]]:
    """``token *(SEMI generic-param)``, the shape of Event, Reason and more."""
    m = TOKEN_RE.match(value)
    if m is None:
        raise ParseError(f"malformed {what}")
    end = m.end()
    return m.group(), parse_params(value, end, what) if end < len(value) else EMPTY_PARAMS


def parse_call_id(value: str) -> str:
    """Validate a Call-ID (``word ["@" word]``) and return it."""
    if _CALL_ID_RE.fullmatch(value) is None:
        raise ParseError("malformed Call-ID")
    return value


class CSeq(NamedTuple):
    """The CSeq header: sequence number and method."""

    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


_COMMON_METHODS: Final = frozenset(
    ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "INFO", "UPDATE", "PRACK",
     "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH")
)  # fmt: skip


def parse_cseq(value: str) -> CSeq:
    """Parse ``1*DIGIT LWS Method``; the number must be at most 2**32-1."""
    number, _, method = value.partition(" ")
    if method in _COMMON_METHODS and number.isdigit() and number.isascii():
        seq = _int(number)
        if seq <= MAX_SEQ:
            return tuple.__new__(CSeq, (seq, method))
    m = _CSEQ_RE.fullmatch(value)
    if m is None:
        raise ParseError("malformed CSeq")
    seq = _int(m[1])
    if seq > MAX_SEQ:
        raise ParseError("CSeq number larger than 2**32-1")
    return CSeq(seq, m[2])


def parse_max_forwards(value: str) -> int:
    """Parse Max-Forwards (0-255)."""
    number = _digits(value, "Max-Forwards")
    if number > 255:
        raise ParseError("Max-Forwards larger than 255")
    return number


def parse_delta_seconds(value: str) -> int:
    """Parse delta-seconds (Expires, Min-Expires, Min-SE); clamp to 2**32-1."""
    return min(_digits(value, "delta-seconds"), MAX_SEQ)


def parse_rseq(value: str) -> int:
    """Parse RSeq (RFC 3262): 1 to 2**32-1."""
    number = _digits(value, "RSeq")
    if not 1 <= number <= MAX_SEQ:
        raise ParseError("RSeq out of range")
    return number


class RAck(NamedTuple):
    """The RAck header (RFC 3262): RSeq, CSeq number and method."""

    rseq: int
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.rseq} {self.seq} {self.method}"


def parse_rack(value: str) -> RAck:
    """Parse ``response-num LWS CSeq-num LWS Method``."""
    m = _RACK_RE.fullmatch(value)
    if m is None:
        raise ParseError("malformed RAck")
    rseq, seq = _int(m[1]), _int(m[2])
    if rseq > MAX_SEQ or seq > MAX_SEQ:
        raise ParseError("RAck number larger than 2**32-1")
    return RAck(rseq, seq, m[3])


def parse_token_list(value: str) -> list[str]:
    """Parse a comma-separated token list (Require, Supported, Allow, ...)."""
    if not value:
        return []
    items = split_list(value, "token list")
    for item in items:
        if TOKEN_RE.fullmatch(item) is None:
            raise ParseError("malformed token in list")
    return items


class MediaType(NamedTuple):
    """A media type with parameters (Content-Type, Accept)."""

    type: str
    subtype: str
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @property
    def mime(self) -> str:
        """``type/subtype`` in lower case, without parameters."""
        return f"{self.type}/{self.subtype}".lower()

    def param(self, name: str) -> str | None:
        """A parameter value with quotes removed, or None."""
        value = self.params.get(name.lower())
        return None if value is None else unquote(value)

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{format_params(self.params)}"


def parse_media_type(value: str) -> MediaType:
    """Parse ``m-type SLASH m-subtype *(SEMI m-parameter)``."""
    m = _MEDIA_RE.match(value)
    if m is None:
        raise ParseError("malformed media type")
    end = m.end()
    params = parse_params(value, end, "media type") if end < len(value) else EMPTY_PARAMS
    return MediaType(m[1], m[2], params)


def parse_media_type_list(value: str) -> list[MediaType]:
    """Parse an Accept header value (an empty value accepts nothing)."""
    if not value:
        return []
    return [parse_media_type(item) for item in split_list(value, "Accept")]


class Event(NamedTuple):
    """The Event header (RFC 6665): package, template and parameters."""

    package: str
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @property
    def id(self) -> str | None:
        """The ``id`` parameter, or None."""
        return self.params.get("id")

    def __str__(self) -> str:
        return f"{self.package}{format_params(self.params)}"


def parse_event(value: str) -> Event:
    """Parse ``event-type *( SEMI event-param )``."""
    token, params = _token_and_params(value, "Event")
    return Event(token, params)


class SubscriptionState(NamedTuple):
    """The Subscription-State header (RFC 6665)."""

    state: str
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter in seconds, or None."""
        value = self.params.get("expires")
        return min(_int(value), MAX_SEQ) if value and is_number(value) else None

    @property
    def reason(self) -> str | None:
        """The ``reason`` parameter (``deactivated``, ``timeout``, ...), or None."""
        return self.params.get("reason")

    @property
    def retry_after(self) -> int | None:
        """The ``retry-after`` parameter in seconds, or None."""
        value = self.params.get("retry-after")
        return min(_int(value), MAX_SEQ) if value and is_number(value) else None

    def __str__(self) -> str:
        return f"{self.state}{format_params(self.params)}"


def parse_subscription_state(value: str) -> SubscriptionState:
    """Parse ``substate-value *( SEMI subexp-params )``; the state is lower-cased."""
    token, params = _token_and_params(value, "Subscription-State")
    return SubscriptionState(token.lower(), params)


class SessionExpires(NamedTuple):
    """The Session-Expires header (RFC 4028): interval and refresher."""

    delta: int
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @property
    def refresher(self) -> str | None:
        """``"uac"``, ``"uas"`` or None."""
        value = self.params.get("refresher")
        return value.lower() if value else None

    def __str__(self) -> str:
        return f"{self.delta}{format_params(self.params)}"


def parse_session_expires(value: str) -> SessionExpires:
    """Parse ``delta-seconds *(SEMI se-params)`` (RFC 4028 §4)."""
    delta, params = _delta_with_params(value, "Session-Expires")
    return SessionExpires(delta, params)


def parse_min_se(value: str) -> int:
    """Parse Min-SE, ``delta-seconds *(SEMI generic-param)`` (RFC 4028 §5):
    the seconds (capped at 2**32-1); the parameters mean nothing yet."""
    return _delta_with_params(value, "Min-SE")[0]


def _delta_with_params(value: str, what: str) -> tuple[int, Mapping[str, str | None]]:
    m = re.match(r"[ \t]*([0-9]+)", value)
    if m is None:
        raise ParseError(f"malformed {what}")
    end = m.end()
    params = parse_params(value, end, what) if end < len(value) else EMPTY_PARAMS
    return min(_int(m[1]), MAX_SEQ), params


class Reason(NamedTuple):
    """One Reason value (RFC 3326): protocol, cause and text."""

    protocol: str
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @property
    def cause(self) -> int | None:
        """The ``cause`` parameter as an int, or None."""
        value = self.params.get("cause")
        return _int(value) if value and is_number(value) else None

    @property
    def text(self) -> str | None:
        """The ``text`` parameter, unquoted, or None."""
        value = self.params.get("text")
        return None if value is None else unquote(value)

    def __str__(self) -> str:
        return f"{self.protocol}{format_params(self.params)}"


def _parse_reason(value: str) -> Reason:
    token, params = _token_and_params(value, "Reason")
    return Reason(token, params)


def parse_reason_list(value: str) -> list[Reason]:
    """Parse a Reason header value (a comma-separated list)."""
    return [_parse_reason(item) for item in split_list(value, "Reason")]


class Warning(NamedTuple):
    """One Warning value: 3-digit code, agent and text."""

    code: int
    agent: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.agent} {quote(self.text)}"


def parse_warning_list(value: str) -> list[Warning]:
    """Parse a Warning header value; codes must have exactly 3 digits."""
    out = []
    for item in split_list(value, "Warning"):
        m = _WARNING_RE.fullmatch(item)
        if m is None:
            raise ParseError("malformed Warning")
        out.append(Warning(int(m[1]), m[2], unquote(m[3])))
    return out


class Replaces(NamedTuple):
    """The Replaces header (RFC 3891)."""

    call_id: str
    params: Mapping[str, str | None] = EMPTY_PARAMS

    @property
    def to_tag(self) -> str | None:
        """The ``to-tag`` parameter."""
        return self.params.get("to-tag")

    @property
    def from_tag(self) -> str | None:
        """The ``from-tag`` parameter."""
        return self.params.get("from-tag")

    @property
    def early_only(self) -> bool:
        """Whether ``early-only`` is present."""
        return "early-only" in self.params

    def __str__(self) -> str:
        return f"{self.call_id}{format_params(self.params)}"


def parse_replaces(value: str) -> Replaces:
    """Parse ``callid *(SEMI replaces-param)``; to-tag and from-tag are required."""
    semi = value.find(";")
    call_id = parse_call_id((value if semi < 0 else value[:semi]).rstrip(" \t"))
    params = parse_params(value, semi, "Replaces") if semi >= 0 else EMPTY_PARAMS
    if "to-tag" not in params or "from-tag" not in params:
        raise ParseError("Replaces without to-tag and from-tag")
    return Replaces(call_id, params)


def parse_privacy(value: str) -> list[str]:
    """Parse Privacy (RFC 3323): ``priv-value *(";" priv-value)``."""
    items = [item.strip(" \t") for item in value.split(";")]
    for item in items:
        if TOKEN_RE.fullmatch(item) is None:
            raise ParseError("malformed Privacy")
    return items


def parse_date(value: str) -> datetime:
    """Parse an RFC 1123 date; only ``GMT`` is legal (RFC 4475 baddate)."""
    m = _DATE_RE.fullmatch(value)
    if m is None:
        raise ParseError("malformed Date (only RFC 1123 dates in GMT are allowed)")
    _, day, month, year, hh, mm, ss = m.groups()
    try:
        return datetime(
            int(year), _MONTHS.index(month) + 1, int(day), int(hh), int(mm), int(ss), tzinfo=UTC
        )
    except ValueError as exc:
        raise ParseError("Date out of range") from exc


def format_date(when: datetime) -> str:
    """Format an aware datetime as an RFC 1123 GMT date."""
    when = when.astimezone(UTC)
    return (
        f"{_WEEKDAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} GMT"
    )
