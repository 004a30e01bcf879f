"""Codecs of the DTLS 1.2 handshake message bodies (RFC 5246 §7.4, RFC 6347
§4.2) and of the hello extensions used here (RFC 8422, RFC 5764 §4.1.1,
RFC 7627, RFC 5746).

Every ``parse`` raises :class:`DecodeError` on malformed input; every
``encode`` returns the body without the handshake header (see
:mod:`sansip.dtls.fragments`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from sansip.dtls.suites import DTLS_1_2, ExtensionType

__all__ = [
    "CertificateMessage",
    "CertificateRequest",
    "CertificateVerify",
    "ClientHello",
    "DecodeError",
    "Extensions",
    "HelloVerifyRequest",
    "Reader",
    "ServerHello",
    "ServerKeyExchange",
    "decode_use_srtp",
    "encode_use_srtp",
    "encode_vector",
]


class DecodeError(ValueError):
    """A handshake message or extension that does not parse."""


class Reader:
    """Reads the TLS presentation language from bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, length: int) -> bytes:
        """The next ``length`` bytes."""
        if length < 0 or self.offset + length > len(self.data):
            raise DecodeError("truncated")
        out = self.data[self.offset : self.offset + length]
        self.offset += length
        return out

    def uint(self, size: int) -> int:
        """The next big-endian integer of ``size`` bytes."""
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> bytes:
        """A variable-length vector with a ``length_size``-byte length."""
        data = self.take(self.uint(length_size))
        if len(data) < minimum or (maximum is not None and len(data) > maximum):
            raise DecodeError("vector length out of range")
        return data

    def uints(self, length_size: int, size: int) -> list[int]:
        """A vector of ``size``-byte integers."""
        data = self.vector(length_size)
        if len(data) % size:
            raise DecodeError("vector length not a multiple of the element size")
        return [int.from_bytes(data[i : i + size], "big") for i in range(0, len(data), size)]

    def end(self) -> None:
        """Fail unless everything was read."""
        if self.offset != len(self.data):
            raise DecodeError("trailing bytes")

    @property
    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self.data) - self.offset


def encode_vector(data: bytes, length_size: int) -> bytes:
    """``data`` preceded by its length in ``length_size`` bytes."""
    return len(data).to_bytes(length_size, "big") + data


def _uints(values: list[int] | tuple[int, ...], length_size: int, size: int) -> bytes:
    return encode_vector(b"".join(v.to_bytes(size, "big") for v in values), length_size)


#: Extensions in order, as (type, data) pairs.
Extensions = list[tuple[int, bytes]]


def _parse_extensions(reader: Reader) -> Extensions:
    if reader.remaining == 0:
        return []
    block = Reader(reader.vector(2))
    out: Extensions = []
    seen: set[int] = set()
    while block.remaining:
        kind = block.uint(2)
        if kind in seen:
            raise DecodeError("duplicate extension")
        seen.add(kind)
        out.append((kind, block.vector(2)))
    return out


def _encode_extensions(extensions: Extensions) -> bytes:
    if not extensions:
        return b""
    return encode_vector(
        b"".join(struct.pack("!H", k) + encode_vector(d, 2) for k, d in extensions), 2
    )


def encode_use_srtp(profiles: list[int] | tuple[int, ...], mki: bytes = b"") -> bytes:
    """The ``use_srtp`` extension data (RFC 5764 §4.1.1)."""
    return _uints(profiles, 2, 2) + encode_vector(mki, 1)


def decode_use_srtp(data: bytes) -> tuple[list[int], bytes]:
    """The profiles and MKI of a ``use_srtp`` extension."""
    reader = Reader(data)
    profiles = reader.uints(2, 2)
    mki = reader.vector(1)
    reader.end()
    if not profiles:
        raise DecodeError("use_srtp without profiles")
    return profiles, mki


def extension(extensions: Extensions, kind: ExtensionType) -> bytes | None:
    """The data of the extension of type ``kind``, or None."""
    for k, data in extensions:
        if k == kind:
            return data
    return None


@dataclass(frozen=True)
class ClientHello:
    """ClientHello with the DTLS cookie (RFC 6347 §4.2.1)."""

    random: bytes
    session_id: bytes = b""
    cookie: bytes = b""
    cipher_suites: tuple[int, ...] = ()
    compression_methods: bytes = b"\x00"
    extensions: Extensions = field(default_factory=list)
    version: int = DTLS_1_2

    def encode(self) -> bytes:
        """The message body."""
        return (
            struct.pack("!H", self.version)
            + self.random
            + encode_vector(self.session_id, 1)
            + encode_vector(self.cookie, 1)
            + _uints(self.cipher_suites, 2, 2)
            + encode_vector(self.compression_methods, 1)
            + _encode_extensions(self.extensions)
        )

    @classmethod
    def parse(cls, body: bytes) -> ClientHello:
        """Decode a ClientHello body."""
        r = Reader(body)
        version = r.uint(2)
        random = r.take(32)
        session_id = r.vector(1, maximum=32)
        cookie = r.vector(1)
        suites = tuple(r.uints(2, 2))
        compression = r.vector(1, minimum=1)
        extensions = _parse_extensions(r)
        r.end()
        return cls(random, session_id, cookie, suites, compression, extensions, version)

    def without_cookie(self) -> bytes:
        """What the server's stateless cookie authenticates: everything but the cookie."""
        return (
            struct.pack("!H", self.version)
            + self.random
            + encode_vector(self.session_id, 1)
            + _uints(self.cipher_suites, 2, 2)
            + encode_vector(self.compression_methods, 1)
            + _encode_extensions(self.extensions)
        )


@dataclass(frozen=True)
class HelloVerifyRequest:
    """HelloVerifyRequest (RFC 6347 §4.2.1)."""

    cookie: bytes
    version: int = DTLS_1_2

    def encode(self) -> bytes:
        """The message body."""
        return struct.pack("!H", self.version) + encode_vector(self.cookie, 1)

    @classmethod
    def parse(cls, body: bytes) -> HelloVerifyRequest:
        """Decode a HelloVerifyRequest body."""
        r = Reader(body)
        version = r.uint(2)
        cookie = r.vector(1, minimum=1, maximum=255)
        r.end()
        return cls(cookie, version)


@dataclass(frozen=True)
class ServerHello:
    """ServerHello (RFC 5246 §7.4.1.3)."""

    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int = 0
    extensions: Extensions = field(default_factory=list)
    version: int = DTLS_1_2

    def encode(self) -> bytes:
        """The message body."""
        return (
            struct.pack("!H", self.version)
            + self.random
            + encode_vector(self.session_id, 1)
            + struct.pack("!HB", self.cipher_suite, self.compression_method)
            + _encode_extensions(self.extensions)
        )

    @classmethod
    def parse(cls, body: bytes) -> ServerHello:
        """Decode a ServerHello body."""
        r = Reader(body)
        version = r.uint(2)
        random = r.take(32)
        session_id = r.vector(1, maximum=32)
        suite = r.uint(2)
        compression = r.uint(1)
        extensions = _parse_extensions(r)
        r.end()
        return cls(random, session_id, suite, compression, extensions, version)


@dataclass(frozen=True)
class CertificateMessage:
    """Certificate: the DER certificates, the sender's own first (RFC 5246 §7.4.2)."""

    certificates: tuple[bytes, ...]

    def encode(self) -> bytes:
        """The message body."""
        return encode_vector(b"".join(encode_vector(c, 3) for c in self.certificates), 3)

    @classmethod
    def parse(cls, body: bytes) -> CertificateMessage:
        """Decode a Certificate body."""
        r = Reader(body)
        chain = Reader(r.vector(3))
        r.end()
        certs: list[bytes] = []
        while chain.remaining:
            certs.append(chain.vector(3, minimum=1))
        return cls(tuple(certs))


@dataclass(frozen=True)
class ServerKeyExchange:
    """ServerKeyExchange for ECDHE with a named curve (RFC 8422 §5.4)."""

    group: int
    public: bytes
    scheme: int
    signature: bytes

    def params(self) -> bytes:
        """ServerECDHParams: what the signature covers after the randoms."""
        return struct.pack("!BH", 3, self.group) + encode_vector(self.public, 1)

    def encode(self) -> bytes:
        """The message body."""
        return self.params() + struct.pack("!H", self.scheme) + encode_vector(self.signature, 2)

    @classmethod
    def parse(cls, body: bytes) -> ServerKeyExchange:
        """Decode a ServerKeyExchange body."""
        r = Reader(body)
        if r.uint(1) != 3:
            raise DecodeError("only named curves are supported")
        group = r.uint(2)
        public = r.vector(1, minimum=1)
        scheme = r.uint(2)
        signature = r.vector(2)
        r.end()
        return cls(group, public, scheme, signature)


@dataclass(frozen=True)
class CertificateRequest:
    """CertificateRequest (RFC 5246 §7.4.4)."""

    certificate_types: bytes
    signature_schemes: tuple[int, ...]
    authorities: bytes = b""

    def encode(self) -> bytes:
        """The message body."""
        return (
            encode_vector(self.certificate_types, 1)
            + _uints(self.signature_schemes, 2, 2)
            + encode_vector(self.authorities, 2)
        )

    @classmethod
    def parse(cls, body: bytes) -> CertificateRequest:
        """Decode a CertificateRequest body."""
        r = Reader(body)
        types = r.vector(1, minimum=1)
        schemes = tuple(r.uints(2, 2))
        authorities = r.vector(2)
        r.end()
        return cls(types, schemes, authorities)


@dataclass(frozen=True)
class CertificateVerify:
    """CertificateVerify, TLS 1.2 form (RFC 5246 §7.4.8)."""

    scheme: int
    signature: bytes

    def encode(self) -> bytes:
        """The message body."""
        return struct.pack("!H", self.scheme) + encode_vector(self.signature, 2)

    @classmethod
    def parse(cls, body: bytes) -> CertificateVerify:
        """Decode a CertificateVerify body."""
        r = Reader(body)
        scheme = r.uint(2)
        signature = r.vector(2, minimum=1)
        r.end()
        return cls(scheme, signature)


def encode_key_exchange(public: bytes) -> bytes:
    """ClientKeyExchange for ECDHE: the client's point."""
    return encode_vector(public, 1)


def parse_key_exchange(body: bytes) -> bytes:
    """The client's point of a ClientKeyExchange."""
    r = Reader(body)
    public = r.vector(1, minimum=1)
    r.end()
    return public


def parse_uint16_list(data: bytes) -> list[int]:
    """A ``uint16`` vector with a 2-byte length (supported_groups, signature_algorithms)."""
    r = Reader(data)
    values = r.uints(2, 2)
    r.end()
    return values


def encode_uint16_list(values: list[int] | tuple[int, ...]) -> bytes:
    """The inverse of :func:`parse_uint16_list`."""
    return _uints(values, 2, 2)
