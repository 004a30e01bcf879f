"""SDP text <-> :class:`SessionDescription` (RFC 8866 §5).

:func:`parse_sdp` accepts CRLF or bare LF line ends, skips blank lines and
tolerates session-level lines out of the RFC's order; it raises only
:class:`RemoteProtocolError` (status 400) on any input.
:func:`serialize_sdp` writes the RFC order with CRLF line ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sansip.errors import LocalProtocolError
from sansip.sdp.attributes import Attribute, bad_sdp, parse_uint
from sansip.sdp.model import (
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

__all__ = ["parse_sdp", "serialize_sdp"]

#: Largest SDP body accepted (bytes or characters).
MAX_SDP_SIZE = 65536


def _lines(data: bytes | str) -> list[tuple[str, str]]:
    if len(data) > MAX_SDP_SIZE:
        raise bad_sdp(f"SDP larger than {MAX_SDP_SIZE} bytes")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_sdp("SDP is not UTF-8") from None
    else:
        text = data
    lines: list[tuple[str, str]] = []
    for raw in text.split("\n"):
        if raw.endswith("\r"):
            raw = raw[:-1]
        if not raw.strip():
            continue
        if "\r" in raw or "\x00" in raw:
            raise bad_sdp("control character inside an SDP line")
        kind = raw[0]
        if len(raw) < 2 or raw[1] != "=" or not (kind.isascii() and kind.isalpha()):
            raise bad_sdp(f"bad SDP line {raw[:40]!r}")
        lines.append((kind, raw[2:]))
    return lines


def _origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6:
        raise bad_sdp(f"bad o= line {value[:80]!r}")
    version = parse_uint(parts[2], "o= session version")
    return Origin(parts[0], parts[1], version, parts[3], parts[4], parts[5])


def _connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise bad_sdp(f"bad c= line {value[:80]!r}")
    return Connection(parts[0], parts[1], parts[2])


def _bandwidth(value: str) -> Bandwidth:
    kind, sep, amount = value.partition(":")
    if not sep or not kind or any(c.isspace() for c in kind):
        raise bad_sdp(f"bad b= line {value[:80]!r}")
    return Bandwidth(kind, parse_uint(amount.strip(), "b= bandwidth"))


def _timing(value: str) -> Timing:
    parts = value.split()
    if len(parts) != 2:
        raise bad_sdp(f"bad t= line {value[:80]!r}")
    return Timing(parse_uint(parts[0], "t= start"), parse_uint(parts[1], "t= stop"))


def _attribute(value: str) -> Attribute:
    name, sep, rest = value.partition(":")
    if not name:
        raise bad_sdp("a= line without an attribute name")
    return Attribute(name, rest if sep else None)


@dataclass
class _Media:
    media: str
    port: int
    port_count: int | None
    proto: str
    formats: tuple[str, ...]
    title: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, value: str) -> None:
        if kind == "a":
            self.attributes.append(_attribute(value))
        elif kind == "c":
            self.connections.append(_connection(value))
        elif kind == "b":
            self.bandwidths.append(_bandwidth(value))
        elif kind == "i" and self.title is None:
            self.title = value
        elif kind == "k" and self.key is None:
            self.key = value
        elif kind in "ik":
            raise bad_sdp(f"two {kind}= lines in one media section")
        else:
            self.extra.append((kind, value))

    def freeze(self) -> MediaDescription:
        return MediaDescription(
            media=self.media, port=self.port, proto=self.proto, formats=self.formats,
            port_count=self.port_count, title=self.title, connections=tuple(self.connections),
            bandwidths=tuple(self.bandwidths), key=self.key, attributes=tuple(self.attributes),
            extra_lines=tuple(self.extra),
        )  # fmt: skip


def _media(value: str) -> _Media:
    parts = value.split()
    if len(parts) < 3:
        raise bad_sdp(f"bad m= line {value[:80]!r}")
    port_text, slash, count_text = parts[1].partition("/")
    port = parse_uint(port_text, "m= port", 65535)
    count = parse_uint(count_text, "m= port count", 65535) if slash else None
    return _Media(parts[0], port, count, parts[2], tuple(parts[3:]))


#: Session-level line types that may appear at most once.
_SINGLE = frozenset("osiuczk")


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse an SDP body; raises :class:`RemoteProtocolError` (400) when malformed."""
    lines = _lines(data)
    if not lines or lines[0] != ("v", "0"):
        raise bad_sdp("SDP must start with v=0")
    single: dict[str, str] = {}
    emails: list[str] = []
    phones: list[str] = []
    bandwidths: list[Bandwidth] = []
    timings: list[Timing] = []
    attributes: list[Attribute] = []
    extra: list[tuple[str, str]] = []
    media: list[_Media] = []
    for kind, value in lines[1:]:
        if kind == "m":
            media.append(_media(value))
        elif media:
            media[-1].add(kind, value)
        elif kind in _SINGLE:
            if kind in single:
                raise bad_sdp(f"two {kind}= lines at session level")
            single[kind] = value
        elif kind == "a":
            attributes.append(_attribute(value))
        elif kind == "b":
            bandwidths.append(_bandwidth(value))
        elif kind == "t":
            timings.append(_timing(value))
        elif kind == "r":
            if not timings:
                raise bad_sdp("r= line before any t= line")
            last = timings[-1]
            timings[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        elif kind == "e":
            emails.append(value)
        elif kind == "p":
            phones.append(value)
        elif kind == "v":
            raise bad_sdp("two v= lines")
        else:
            extra.append((kind, value))
    if "o" not in single:
        raise bad_sdp("SDP without an o= line")
    return SessionDescription(
        origin=_origin(single["o"]),
        session_name=single.get("s", "-"),
        information=single.get("i"),
        uri=single.get("u"),
        emails=tuple(emails),
        phones=tuple(phones),
        connection=_connection(single["c"]) if "c" in single else None,
        bandwidths=tuple(bandwidths),
        timings=tuple(timings) or (Timing(),),
        zone=single.get("z"),
        key=single.get("k"),
        attributes=tuple(attributes),
        media=tuple(m.freeze() for m in media),
        extra_lines=tuple(extra),
    )


def _media_lines(m: MediaDescription) -> list[str]:
    port = str(m.port) if m.port_count is None else f"{m.port}/{m.port_count}"
    lines = [f"m={' '.join((m.media, port, m.proto, *m.formats))}"]
    if m.title is not None:
        lines.append(f"i={m.title}")
    lines += [f"c={c}" for c in m.connections]
    lines += [f"b={b}" for b in m.bandwidths]
    if m.key is not None:
        lines.append(f"k={m.key}")
    lines += [f"{kind}={value}" for kind, value in m.extra_lines]
    lines += [f"a={a}" for a in m.attributes]
    return lines


def serialize_sdp(sdp: SessionDescription) -> bytes:
    """The SDP text of ``sdp`` in RFC 8866 order with CRLF line ends.

    Raises :class:`LocalProtocolError` when a value holds CR, LF or NUL.
    """
    lines = ["v=0", f"o={sdp.origin}", f"s={sdp.session_name}"]
    if sdp.information is not None:
        lines.append(f"i={sdp.information}")
    if sdp.uri is not None:
        lines.append(f"u={sdp.uri}")
    lines += [f"e={e}" for e in sdp.emails]
    lines += [f"p={p}" for p in sdp.phones]
    if sdp.connection is not None:
        lines.append(f"c={sdp.connection}")
    lines += [f"b={b}" for b in sdp.bandwidths]
    for timing in sdp.timings:
        lines.append(f"t={timing.start} {timing.stop}")
        lines += [f"r={r}" for r in timing.repeats]
    if sdp.zone is not None:
        lines.append(f"z={sdp.zone}")
    if sdp.key is not None:
        lines.append(f"k={sdp.key}")
    lines += [f"{kind}={value}" for kind, value in sdp.extra_lines]
    lines += [f"a={a}" for a in sdp.attributes]
    for m in sdp.media:
        lines += _media_lines(m)
    text = "\r\n".join(lines) + "\r\n"
    if "\x00" in text or text.count("\n") != len(lines) or text.count("\r") != len(lines):
        raise LocalProtocolError("an SDP value holds CR, LF or NUL")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalProtocolError("an SDP value cannot be encoded as UTF-8") from None
