"""SDP attributes: the raw ``a=`` line and the typed values of the ones sansip uses.

Every typed value parses from the attribute's value text (``parse_*``
functions, which raise :class:`RemoteProtocolError` with status 400 on bad
text) and formats back with ``.value`` / ``.to_attribute()``, so
``parse_x(x.value) == x``.  References: RFC 8866 §6 (rtpmap, fmtp, ptime,
maxptime, direction), RFC 3605 (rtcp), RFC 5761 (rtcp-mux), RFC 5576 (ssrc),
RFC 5888 (mid, group), RFC 4568 (crypto), RFC 8122 (fingerprint, setup),
RFC 8839 (ice-ufrag, ice-pwd, ice-options, candidate).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from sansip.errors import RemoteProtocolError

__all__ = [
    "Attribute",
    "Candidate",
    "Crypto",
    "Direction",
    "Fingerprint",
    "Fmtp",
    "Group",
    "InlineKey",
    "RtcpAttribute",
    "RtpMap",
    "Setup",
    "Ssrc",
    "parse_candidate",
    "parse_crypto",
    "parse_fingerprint",
    "parse_fmtp",
    "parse_group",
    "parse_ice_options",
    "parse_inline_key",
    "parse_ptime",
    "parse_rtcp",
    "parse_rtpmap",
    "parse_setup",
    "parse_ssrc",
    "parse_uint",
]

#: Longest decimal number accepted anywhere in SDP (guards ``int()`` on huge input).
MAX_DIGITS: Final = 20


def bad_sdp(reason: str) -> RemoteProtocolError:
    """The error for malformed SDP: status 400 with a human ``reason``."""
    return RemoteProtocolError(reason, 400)


def parse_uint(text: str, what: str, maximum: int | None = None) -> int:
    """``text`` as a non-negative decimal integer no larger than ``maximum``."""
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        raise bad_sdp(f"{what}: {text[:40]!r} is not a number")
    value = int(text)
    if maximum is not None and value > maximum:
        raise bad_sdp(f"{what}: {value} is larger than {maximum}")
    return value


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``a=`` line: ``name`` and ``value`` (None for a property attribute
    such as ``a=sendrecv``; ``""`` for ``a=name:``)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


class Direction(Enum):
    """Media direction attribute (RFC 8866 §6.7), as the SDP's author sees it."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """The author sends media."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        """The author wants to receive media."""
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def from_flags(cls, sends: bool, receives: bool) -> Direction:
        """The direction with these send/receive flags."""
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE

    def reversed(self) -> Direction:
        """The same stream seen from the other side (sendonly <-> recvonly)."""
        return Direction.from_flags(self.receives, self.sends)

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute(self.value)


class Setup(Enum):
    """``a=setup`` role (RFC 4145, RFC 8122)."""

    ACTIVE = "active"
    PASSIVE = "passive"
    ACTPASS = "actpass"
    HOLDCONN = "holdconn"

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("setup", self.value)


def parse_setup(value: str) -> Setup:
    """Parse an ``a=setup`` value (case-insensitive)."""
    try:
        return Setup(value.strip().lower())
    except ValueError:
        raise bad_sdp(f"unknown setup role {value[:40]!r}") from None


def _token(text: str, what: str) -> str:
    if not text or any(c.isspace() for c in text):
        raise bad_sdp(f"bad {what} {text[:40]!r}")
    return text


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    @property
    def value(self) -> str:
        """The attribute value text."""
        text = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("rtpmap", self.value)


def parse_rtpmap(value: str) -> RtpMap:
    """Parse an ``a=rtpmap`` value."""
    parts = value.split(None, 1)
    if len(parts) != 2:
        raise bad_sdp(f"bad rtpmap {value[:60]!r}")
    pt = parse_uint(parts[0], "rtpmap payload type", 127)
    fields = parts[1].strip().split("/")
    if len(fields) not in (2, 3):
        raise bad_sdp(f"bad rtpmap encoding {parts[1][:60]!r}")
    encoding = _token(fields[0], "rtpmap encoding name")
    clock = parse_uint(fields[1], "rtpmap clock rate")
    channels = parse_uint(fields[2], "rtpmap channels") if len(fields) == 3 else None
    return RtpMap(pt, encoding, clock, channels)


@dataclass(frozen=True, slots=True)
class Fmtp:
    """``a=fmtp:<pt> <params>``: ``params`` are the ``;``-separated items in
    order as ``(key, value)`` (value None for a bare item such as ``0-16``),
    ``raw`` the parameter text exactly as written."""

    payload_type: int
    params: tuple[tuple[str, str | None], ...]
    raw: str

    @classmethod
    def from_params(cls, payload_type: int, raw: str) -> Fmtp:
        """The fmtp for ``payload_type`` with parameter text ``raw``."""
        return cls(payload_type, _split_fmtp(raw), raw)

    def get(self, key: str) -> str | None:
        """The value of parameter ``key`` (case-insensitive), or None."""
        folded = key.lower()
        return next((v for k, v in self.params if k.lower() == folded), None)

    @property
    def value(self) -> str:
        """The attribute value text."""
        return f"{self.payload_type} {self.raw}" if self.raw else str(self.payload_type)

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("fmtp", self.value)


def _split_fmtp(raw: str) -> tuple[tuple[str, str | None], ...]:
    params: list[tuple[str, str | None]] = []
    for item in raw.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        params.append((key.strip(), val.strip() if sep else None))
    return tuple(params)


def parse_fmtp(value: str) -> Fmtp:
    """Parse an ``a=fmtp`` value."""
    parts = value.split(None, 1)
    if not parts:
        raise bad_sdp("empty fmtp")
    pt = parse_uint(parts[0], "fmtp payload type", 127)
    return Fmtp.from_params(pt, parts[1].strip() if len(parts) == 2 else "")


def parse_ptime(value: str) -> int:
    """Parse ``a=ptime`` / ``a=maxptime`` (milliseconds; a fraction is rounded)."""
    text = value.strip()
    whole, _, frac = text.partition(".")
    number = parse_uint(whole, "ptime", 100_000)
    if frac and parse_uint(frac, "ptime fraction") and frac[0] >= "5":
        number += 1
    if number == 0:
        raise bad_sdp("ptime is zero")
    return number


@dataclass(frozen=True, slots=True)
class RtcpAttribute:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605)."""

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    @property
    def value(self) -> str:
        """The attribute value text."""
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("rtcp", self.value)


def parse_rtcp(value: str) -> RtcpAttribute:
    """Parse an ``a=rtcp`` value."""
    parts = value.split()
    if len(parts) not in (1, 4):
        raise bad_sdp(f"bad rtcp attribute {value[:60]!r}")
    port = parse_uint(parts[0], "rtcp port", 65535)
    if len(parts) == 1:
        return RtcpAttribute(port)
    return RtcpAttribute(port, parts[1], parts[2], parts[3])


@dataclass(frozen=True, slots=True)
class Ssrc:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` (RFC 5576)."""

    ssrc: int
    attribute: str
    value: str | None = None

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        tail = self.attribute if self.value is None else f"{self.attribute}:{self.value}"
        return Attribute("ssrc", f"{self.ssrc} {tail}")


def parse_ssrc(value: str) -> Ssrc:
    """Parse an ``a=ssrc`` value."""
    parts = value.split(None, 1)
    if len(parts) != 2:
        raise bad_sdp(f"bad ssrc attribute {value[:60]!r}")
    ssrc = parse_uint(parts[0], "ssrc", 0xFFFFFFFF)
    name, sep, val = parts[1].strip().partition(":")
    return Ssrc(ssrc, _token(name, "ssrc attribute"), val if sep else None)


@dataclass(frozen=True, slots=True)
class Group:
    """``a=group:<semantics> <mid> ...`` (RFC 5888)."""

    semantics: str
    mids: tuple[str, ...]

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("group", " ".join((self.semantics, *self.mids)))


def parse_group(value: str) -> Group:
    """Parse an ``a=group`` value."""
    parts = value.split()
    if not parts:
        raise bad_sdp("empty group attribute")
    return Group(parts[0], tuple(parts[1:]))


@dataclass(frozen=True, slots=True)
class InlineKey:
    """One ``inline:`` key of a crypto attribute (RFC 4568 §6.1):
    base64 key||salt, optional lifetime text, optional MKI value and length."""

    key_salt: str
    lifetime: str | None = None
    mki: int | None = None
    mki_length: int | None = None


def parse_inline_key(key_param: str) -> InlineKey:
    """Parse one key-param ``inline:<key||salt>[|lifetime][|mki:length]``."""
    method, sep, info = key_param.partition(":")
    if not sep or method.lower() != "inline":
        raise bad_sdp(f"unsupported crypto key method {method[:20]!r}")
    parts = info.split("|")
    if not parts[0] or len(parts) > 3:
        raise bad_sdp("bad inline crypto key")
    lifetime: str | None = None
    mki: int | None = None
    mki_length: int | None = None
    for part in parts[1:]:
        if ":" in part:
            value, _, length = part.partition(":")
            mki, mki_length = parse_uint(value, "MKI"), parse_uint(length, "MKI length", 128)
        else:
            lifetime = part
    return InlineKey(parts[0], lifetime, mki, mki_length)


@dataclass(frozen=True, slots=True)
class Crypto:
    """``a=crypto:<tag> <suite> <key-params> [<session-params>]`` (RFC 4568)."""

    tag: int
    suite: str
    key_params: tuple[str, ...]
    session_params: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        """The attribute value text."""
        return " ".join(
            (str(self.tag), self.suite, ";".join(self.key_params), *self.session_params)
        )

    def inline_keys(self) -> tuple[InlineKey, ...]:
        """The parsed ``inline:`` keys (raises RemoteProtocolError when malformed)."""
        return tuple(parse_inline_key(p) for p in self.key_params)

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("crypto", self.value)


def parse_crypto(value: str) -> Crypto:
    """Parse an ``a=crypto`` value."""
    parts = value.split()
    if len(parts) < 3:
        raise bad_sdp(f"bad crypto attribute {value[:60]!r}")
    tag = parse_uint(parts[0], "crypto tag", 999_999_999)
    key_params = tuple(parts[2].split(";"))
    if any(":" not in p for p in key_params):
        raise bad_sdp("crypto key-param without key method")
    return Crypto(tag, parts[1], key_params, tuple(parts[3:]))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``a=fingerprint:<hash-func> <AB:CD:...>`` (RFC 8122)."""

    hash_function: str
    fingerprint: str

    @property
    def digest(self) -> bytes:
        """The fingerprint bytes."""
        return bytes.fromhex(self.fingerprint.replace(":", ""))

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("fingerprint", f"{self.hash_function} {self.fingerprint}")


_HEX: Final = frozenset("0123456789abcdefABCDEF")


def parse_fingerprint(value: str) -> Fingerprint:
    """Parse an ``a=fingerprint`` value."""
    parts = value.split()
    if len(parts) != 2:
        raise bad_sdp(f"bad fingerprint {value[:60]!r}")
    octets = parts[1].split(":")
    if any(len(o) != 2 or not set(o) <= _HEX for o in octets):
        raise bad_sdp("fingerprint is not colon-separated hex")
    return Fingerprint(parts[0].lower(), parts[1])


def parse_ice_options(value: str) -> tuple[str, ...]:
    """Parse ``a=ice-options`` into its option tags."""
    return tuple(value.split())


@dataclass(frozen=True, slots=True)
class Candidate:
    """``a=candidate`` (RFC 8839 §5.1) with the ``raddr``/``rport`` and
    ``generation`` extensions; other extension pairs are kept in order."""

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    generation: int | None = None
    extensions: tuple[tuple[str, str], ...] = ()

    @property
    def value(self) -> str:
        """The attribute value text."""
        parts = [self.foundation, str(self.component), self.transport, str(self.priority),
                 self.address, str(self.port), "typ", self.type]  # fmt: skip
        if self.related_address is not None:
            parts += ["raddr", self.related_address]
        if self.related_port is not None:
            parts += ["rport", str(self.related_port)]
        if self.generation is not None:
            parts += ["generation", str(self.generation)]
        for name, val in self.extensions:
            parts += [name, val]
        return " ".join(parts)

    def to_attribute(self) -> Attribute:
        """The ``a=`` line."""
        return Attribute("candidate", self.value)


def parse_candidate(value: str) -> Candidate:
    """Parse an ``a=candidate`` value (without the ``candidate:`` prefix)."""
    parts = value.split()
    if len(parts) < 8 or parts[6].lower() != "typ" or len(parts) % 2:
        raise bad_sdp(f"bad candidate {value[:80]!r}")
    related_address: str | None = None
    related_port: int | None = None
    generation: int | None = None
    extensions: list[tuple[str, str]] = []
    for name, val in zip(parts[8::2], parts[9::2], strict=True):
        if name == "raddr":
            related_address = val
        elif name == "rport":
            related_port = parse_uint(val, "candidate rport", 65535)
        elif name == "generation":
            generation = parse_uint(val, "candidate generation")
        else:
            extensions.append((name, val))
    return Candidate(
        foundation=parts[0],
        component=parse_uint(parts[1], "candidate component", 256),
        transport=parts[2],
        priority=parse_uint(parts[3], "candidate priority", 0xFFFFFFFF),
        address=parts[4],
        port=parse_uint(parts[5], "candidate port", 65535),
        type=parts[7],
        related_address=related_address,
        related_port=related_port,
        generation=generation,
        extensions=tuple(extensions),
    )
