"""SIP requests and responses: parsing, validation and serialization.

``parse(data)`` reads one message with the datagram rules of RFC 3261
§18.3: octets after the declared Content-Length are ignored, a shorter body
is an error, and without Content-Length the body is the rest of the data.
It splits the header section once, decodes and validates the headers every
transaction needs (the top Via line, From, To, Call-ID, CSeq, Max-Forwards,
Content-Length, Contact) and leaves the others, lower Via lines included,
for first access.  A message that is not modified
serializes to exactly the bytes it was parsed from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Final, TypeVar

from sansip.message import headers as h
from sansip.message._grammar import COMPACT_FORMS, TOKEN
from sansip.message.address import NameAddr, parse_contact_list, parse_name_addr
from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.fields import (
    CSeq,
    MediaType,
    parse_call_id,
    parse_cseq,
    parse_max_forwards,
)
from sansip.message.headers import Headers
from sansip.message.reasons import reason_phrase
from sansip.message.uri import URI, parse_uri
from sansip.message.via import Via, parse_via_list

T = TypeVar("T")

__all__ = [
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Message",
    "Request",
    "Response",
    "parse",
]

DEFAULT_MAX_MESSAGE_SIZE: Final = 65535
DEFAULT_MAX_HEADERS: Final = 256
_METHOD_RE: Final = re.compile(TOKEN)
_VERSION_RE: Final = re.compile(r"(?i:SIP)/[0-9]+\.[0-9]+")
_FOLD_RE: Final = re.compile(r"[ \t]*\r?\n[ \t]+")
_HEADER_NAMES_RE: Final = re.compile(rf"{TOKEN}(?:\r\n{TOKEN})*")
# Names of two or more token characters: nothing to strip, no compact form.
_PLAIN_NAMES_RE: Final = re.compile(
    r"[A-Za-z0-9\-.!%*_+`'~]{2,}(?:\r\n[A-Za-z0-9\-.!%*_+`'~]{2,})*"
)
_partition = str.partition
# Cache key of the top Via when only the first Via line was decoded.
_TOP_VIA: Final = "via/top"
_SINGLE: Final = ("from", "to", "call-id", "cseq", "max-forwards")


class Message:
    """What requests and responses share: headers, body and serialization."""

    __slots__ = ("_body", "_raw", "_version", "headers")

    headers: Headers
    _body: bytes
    _raw: bytes | None

    @property
    def body(self) -> bytes:
        """The body octets, exactly as received (framed by Content-Length)."""
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = bytes(value)
        self._raw = None

    _version: str

    @property
    def version(self) -> str:
        """The SIP-Version of the start line (``SIP/2.0``)."""
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        self._version = value
        self._raw = None

    def _setup(
        self, version: str, headers: Headers | list[tuple[str, object]] | None, body: bytes
    ) -> None:
        self._version = version
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.headers.modified = True
        self._body = bytes(body)
        self._raw = None

    # -- typed access to the headers every layer reads ---------------------
    def _required(self, spec: h.HeaderSpec[T]) -> T:
        cached = self.headers._cache.get(spec.key)
        if cached is not None:
            return cached  # type: ignore[return-value]
        value = self.headers.parsed(spec)
        if value is None:
            raise ParseError(f"missing {spec.name}")
        return value

    @property
    def via(self) -> list[Via]:
        """All Via values, top first."""
        vias = self.headers._cache.get("via")
        return vias if vias is not None else self.headers.parsed(h.VIA) or []  # type: ignore[return-value]

    @property
    def top_via(self) -> Via:
        """The first Via value; raise ParseError if there is none."""
        top = self.headers._cache.get(_TOP_VIA)
        if top is not None:
            return top  # type: ignore[return-value]
        vias = self.via
        if not vias:
            raise ParseError("missing Via")
        return vias[0]

    @property
    def from_(self) -> NameAddr:
        """The From header (``from`` is a Python keyword)."""
        return self._required(h.FROM)

    @property
    def to(self) -> NameAddr:
        """The To header."""
        return self._required(h.TO)

    @property
    def call_id(self) -> str:
        """The Call-ID."""
        return self._required(h.CALL_ID)

    @property
    def cseq(self) -> CSeq:
        """The CSeq (number and method)."""
        return self._required(h.CSEQ)

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards, or None when absent."""
        return self.headers.parsed(h.MAX_FORWARDS)

    @property
    def contacts(self) -> list[NameAddr]:
        """The Contact addresses (empty for none and for ``*``)."""
        return self.headers.parsed(h.CONTACT) or []

    @property
    def contact(self) -> NameAddr | None:
        """The first Contact address, or None."""
        cached = self.headers._cache.get("contact")
        if cached is not None:
            return cached[0] if cached else None  # type: ignore[index]
        contacts = self.headers.parsed(h.CONTACT)
        return contacts[0] if contacts else None

    @property
    def contact_is_star(self) -> bool:
        """Whether the Contact header is ``*`` (REGISTER removing all bindings)."""
        return (self.headers.get("Contact") or "").strip() == "*"

    @property
    def content_type(self) -> MediaType | None:
        """The Content-Type, or None."""
        return self.headers.parsed(h.CONTENT_TYPE)

    @property
    def routes(self) -> list[NameAddr]:
        """The Route set, in order."""
        return self.headers.parsed(h.ROUTE) or []

    @property
    def record_routes(self) -> list[NameAddr]:
        """The Record-Route set, in order."""
        return self.headers.parsed(h.RECORD_ROUTE) or []

    @property
    def expires(self) -> int | None:
        """The Expires header in seconds (clamped to 2**32-1), or None."""
        return self.headers.parsed(h.EXPIRES)

    # -- serialization -----------------------------------------------------
    def _start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        raw = self._raw
        if raw is not None and not self.headers.modified:
            return raw
        out = [self._start_line(), "\r\n"]
        headers = self.headers
        body = self._body
        length = str(len(body))
        has_length = False
        for i, key in enumerate(headers._keys):
            value = headers._values[i].strip(" \t")
            if key == "content-length":
                if has_length:
                    continue
                has_length = True
                if value != length:
                    out += (headers._names[i], ": ", length, "\r\n")
                    continue
            line = headers._line(i)
            if line is None:
                out += (headers._names[i], ": ", value, "\r\n")
            else:
                out += (line, "\r\n")  # a field nobody changed keeps its bytes
        if not has_length:
            out += ("Content-Length: ", length, "\r\n")
        out.append("\r\n")
        return "".join(out).encode("utf-8", "surrogateescape") + body

    def encode(self) -> bytes:
        """The wire bytes (same as ``bytes(msg)``).

        An unmodified parsed message gives back exactly the bytes it came
        from.  After a change, the start line and the changed fields are
        written canonically, every other field keeps its received text
        (folding included), and Content-Length follows the body.
        """
        return bytes(self)

    def __eq__(self, other: object) -> bool:
        """Equal start lines, bodies, and header fields (names compared
        case-insensitively, compact forms expanded); Content-Length is left
        out since it follows from the body."""
        if not isinstance(other, Message) or type(other) is not type(self):
            return NotImplemented
        return (
            self._start_line() == other._start_line()
            and self._body == other._body
            and _fields_without_length(self.headers) == _fields_without_length(other.headers)
        )

    __hash__ = None  # type: ignore[assignment]


def _fields_without_length(headers: Headers) -> list[tuple[str, str]]:
    return [
        (key, value.strip(" \t"))
        for key, value in zip(headers._keys, headers._values, strict=True)
        if key != "content-length"
    ]


class Request(Message):
    """A SIP request.  ``uri`` is the Request-URI."""

    __slots__ = ("_method", "_uri")

    def __init__(
        self,
        method: str,
        uri: URI | str,
        headers: Headers | list[tuple[str, object]] | None = None,
        body: bytes = b"",
        *,
        version: str = "SIP/2.0",
    ) -> None:
        if _METHOD_RE.fullmatch(method) is None:
            raise LocalProtocolError(f"method {method!r} is not a token")
        self._method = method
        self._uri = parse_uri(uri) if isinstance(uri, str) else uri
        self._setup(version, headers, body)

    @property
    def method(self) -> str:
        """The method (case-sensitive, RFC 3261 §7.1)."""
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        self._method = value
        self._raw = None

    @property
    def uri(self) -> URI:
        """The Request-URI."""
        return self._uri

    @uri.setter
    def uri(self, value: URI) -> None:
        self._uri = value
        self._raw = None

    def _start_line(self) -> str:
        return f"{self._method} {self._uri} {self._version}"

    def __repr__(self) -> str:
        return f"<Request {self._method} {self._uri}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("_reason", "_status")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | list[tuple[str, object]] | None = None,
        body: bytes = b"",
        *,
        version: str = "SIP/2.0",
    ) -> None:
        if not 100 <= status <= 699:
            raise LocalProtocolError(f"status {status} is not in 100-699")
        self._status = status
        self._reason = reason_phrase(status) if reason is None else reason
        if "\r" in self._reason or "\n" in self._reason:
            raise LocalProtocolError("reason phrase must not contain CR or LF")
        self._setup(version, headers, body)

    @property
    def status(self) -> int:
        """The status code (100-699)."""
        return self._status

    @status.setter
    def status(self, value: int) -> None:
        self._status = value
        self._raw = None

    @property
    def reason(self) -> str:
        """The reason phrase (may be empty)."""
        return self._reason

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value
        self._raw = None

    def _start_line(self) -> str:
        return f"{self._version} {self._status} {self._reason}"

    def __repr__(self) -> str:
        return f"<Response {self._status} {self._reason}>"


def _fail(reason: str, status: int, start: str, headers: Headers | None) -> ParseError:
    error = ParseError(reason, status)
    error.start_line = start
    error.headers = headers
    return error


def parse(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    max_headers: int = DEFAULT_MAX_HEADERS,
) -> Request | Response:
    """Parse one SIP message from a datagram (or a framed stream message).

    Raises :class:`ParseError` carrying the status a UAS should answer.  When
    the header section could be split, the error's ``headers`` and
    ``start_line`` let ``make_response`` still build the error response.
    """
    if len(data) > max_size:
        raise ParseError("Message Too Large", 513)
    skip = 0
    while data[skip : skip + 2] == b"\r\n":  # RFC 3261 §7.5: ignore leading CRLFs
        skip += 2
    lf_only = False
    end = data.find(b"\r\n\r\n", skip)
    if end >= 0:
        body_start = end + 4
        head = data[skip:end].decode("utf-8", "surrogateescape")
    elif data.endswith(b"\r\n"):  # header section not closed (RFC 4475 baddn)
        body_start = len(data)
        head = data[skip:-2].decode("utf-8", "surrogateescape")
    else:
        end = data.find(b"\n\n", skip)  # bare-LF line ends
        if end < 0 or b"\r" in data[skip:end]:
            raise ParseError("no end of header section")
        body_start = end + 2
        lf_only = True
        head = data[skip:end].decode("utf-8", "surrogateescape").replace("\n", "\r\n")
    lines = head.split("\r\n")
    start = lines[0]
    names, keys, values, received = _split_fields(lines, start)
    n = len(keys)
    if n > max_headers:
        raise ParseError("too many header fields")
    first = dict(zip(reversed(keys), range(n - 1, -1, -1), strict=True))
    headers = Headers._from_fields(names, keys, values, received)
    headers._first = first

    if start[:4].upper() == "SIP/":
        msg: Request | Response = _parse_status_line(start, headers)
    else:
        msg = _parse_request_line(start, headers)

    # Decode and validate what every transaction and dialog reads.
    cache = headers._cache
    get = first.get
    unique = len(first) == n  # no header name occurs twice
    try:
        if not unique:
            for key in _SINGLE:
                if keys.count(key) > 1:
                    raise ParseError(f"more than one {key} header")
        i = get("via")
        if i is None:
            raise ParseError("missing Via header")
        top_line = parse_via_list(values[i].strip(" \t"))
        if unique or keys.count("via") == 1:
            cache["via"] = top_line
        else:  # the other Via lines are decoded when someone reads msg.via
            cache[_TOP_VIA] = top_line[0]
        i = get("from")
        if i is None:
            raise ParseError("missing From header")
        cache["from"] = parse_name_addr(values[i].strip(" \t"), "From")
        i = get("to")
        if i is None:
            raise ParseError("missing To header")
        cache["to"] = parse_name_addr(values[i].strip(" \t"), "To")
        i = get("call-id")
        if i is None:
            raise ParseError("missing Call-ID header")
        cache["call-id"] = parse_call_id(values[i].strip(" \t"))
        i = get("cseq")
        if i is None:
            raise ParseError("missing CSeq header")
        cseq = cache["cseq"] = parse_cseq(values[i].strip(" \t"))
        i = get("max-forwards")
        if i is not None:
            cache["max-forwards"] = parse_max_forwards(values[i].strip(" \t"))
        i = get("contact")
        if i is not None:
            if unique or keys.count("contact") == 1:
                cache["contact"] = _contacts(values[i].strip(" \t"))
            else:
                cache["contact"] = _all_values(keys, values, "contact", _contacts)
    except ParseError as exc:
        raise _fail(exc.reason, exc.status, start, headers) from None
    if type(msg) is Request and cseq.method != msg._method:
        raise _fail("CSeq method does not match the Request-Line", 400, start, headers)

    i = get("content-length")
    if i is not None:
        length_text = values[i].strip(" \t")
        if (
            not unique
            and keys.count("content-length") > 1
            and len(set(headers.get_all("content-length"))) > 1
        ):
            raise _fail("conflicting Content-Length values", 400, start, headers)
        if not length_text.isdigit() or not length_text.isascii():
            raise _fail("malformed Content-Length", 400, start, headers)
        length = int(length_text)
        if length > len(data) - body_start:
            raise _fail("Content-Length larger than the body", 400, start, headers)
        body_end = body_start + length
    else:
        body_end = len(data)
    msg._body = data[body_start:body_end]
    if lf_only:
        msg._raw = None  # bare-LF input: serialize with CRLF
    elif skip == 0 and body_end == len(data):
        msg._raw = data
    else:
        msg._raw = data[skip:body_end]
    return msg


def _split_fields(
    lines: list[str], start: str
) -> tuple[Sequence[str], list[str], Sequence[str], list[str | None] | None]:
    """Split header lines into names, look-up keys, (unstripped) values and,
    when those cannot rebuild them, each field's lines as received."""
    if len(lines) == 1:
        return (), [], (), None
    names, seps, values = zip(*map(_partition, lines[1:], repeat(":")), strict=True)
    joined = "\r\n".join(names)
    if "" not in seps and _PLAIN_NAMES_RE.fullmatch(joined) is not None:
        return names, joined.lower().split("\r\n"), values, None
    # The slow path: folded lines, LWS before the colon, compact forms, or errors.
    if any(line[:1] in (" ", "\t") for line in lines[1:]):
        if lines[1][:1] in (" ", "\t"):
            raise _fail("continuation line before the first header", 400, start, None)
        received: list[str | None] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t"):
                received[-1] = f"{received[-1]}\r\n{line}"
            else:
                received.append(line)
        unfolded = _FOLD_RE.sub(" ", "\r\n".join(lines[1:]))
        split = _split_fields([start, *unfolded.split("\r\n")], start)
        return split[0], split[1], split[2], received
    if "" in seps:
        raise _fail("header line without a colon", 400, start, None)
    names = tuple(name.rstrip(" \t") for name in names)
    joined = "\r\n".join(names)
    if _HEADER_NAMES_RE.fullmatch(joined) is None:
        raise _fail("header name is not a token", 400, start, None)
    keys = [COMPACT_FORMS.get(k, k) if len(k) == 1 else k for k in joined.lower().split("\r\n")]
    return names, keys, values, list(lines[1:])


def _all_values(
    keys: list[str], values: Sequence[str], key: str, parser: Callable[[str], list[T]]
) -> list[T]:
    out: list[T] = []
    for i, k in enumerate(keys):
        if k == key:
            out += parser(values[i].strip(" \t"))
    return out


def _contacts(value: str) -> list[NameAddr]:
    if "," not in value and value != "*":
        return [parse_name_addr(value, "Contact")]
    parsed = parse_contact_list(value)
    return [] if parsed == "*" else parsed


def _parse_request_line(start: str, headers: Headers) -> Request:
    parts = start.split(" ")
    if len(parts) != 3:
        raise _fail(
            "Request-Line must be 'Method SP Request-URI SP SIP-Version'", 400, start, headers
        )
    method, uri_text, version = parts
    if _METHOD_RE.fullmatch(method) is None:
        raise _fail("method is not a token", 400, start, headers)
    if version != "SIP/2.0" and version.upper() != "SIP/2.0":
        if _VERSION_RE.fullmatch(version):
            raise _fail("Version Not Supported", 505, start, headers)
        raise _fail("malformed SIP-Version", 400, start, headers)
    try:
        uri = parse_uri(uri_text)
    except ParseError as exc:
        raise _fail(f"bad Request-URI: {exc.reason}", 400, start, headers) from None
    req = Request.__new__(Request)
    req._method = method
    req._uri = uri
    req._version = version
    req.headers = headers
    return req


def _parse_status_line(start: str, headers: Headers) -> Response:
    version, _, rest = start.partition(" ")
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isdigit() or not code.isascii() or code[0] not in "123456":
        raise _fail("malformed status code", 400, start, headers)
    if version.upper() != "SIP/2.0":
        raise _fail("Version Not Supported", 505, start, headers)
    resp = Response.__new__(Response)
    resp._status = int(code)
    resp._reason = reason
    resp._version = version
    resp.headers = headers
    return resp
