"""The DTLS 1.2 client (RFC 6347): ClientHello (again with the cookie of a
HelloVerifyRequest), the server's flight, then Certificate,
ClientKeyExchange, CertificateVerify, ChangeCipherSpec and Finished.

See :mod:`sansip.dtls.connection` for how to drive it.  ``start(now)``
sends the first ClientHello.
"""

from __future__ import annotations

from enum import Enum

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from sansip.dtls.connection import DtlsConnection, DtlsState, HandshakeError
from sansip.dtls.crypto import (
    KeyShare,
    key_kind,
    random_bytes,
    sign,
    signature_schemes_for,
    verify,
)
from sansip.dtls.flights import FlightItem
from sansip.dtls.fragments import Fragment, HandshakeMessage
from sansip.dtls.messages import (
    CertificateMessage,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    DecodeError,
    HelloVerifyRequest,
    ServerHello,
    ServerKeyExchange,
    decode_use_srtp,
    encode_key_exchange,
    encode_uint16_list,
    encode_use_srtp,
    extension,
)
from sansip.dtls.suites import (
    DTLS_1_2,
    SIGNATURE_SCHEMES,
    AlertDescription,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    SignatureScheme,
)
from sansip.errors import LocalProtocolError

__all__ = ["DtlsClient"]

_MAX_HELLO_VERIFY = 4


class _Phase(Enum):
    HELLO = "hello"  # ServerHello or HelloVerifyRequest
    CERTIFICATE = "certificate"
    KEY_EXCHANGE = "key exchange"
    REQUEST_OR_DONE = "certificate request or hello done"
    FINISHED = "finished"


class DtlsClient(DtlsConnection):
    """The client side of one DTLS 1.2 association (options: see
    :class:`~sansip.dtls.connection.DtlsConnection`).  It always
    authenticates with its certificate when the server asks."""

    is_client = True

    def _setup_role(self) -> None:
        self.state = DtlsState.IDLE
        self._phase = _Phase.HELLO
        self._hello_verifies = 0
        self._server_key: PublicKeyTypes | None = None
        self._share: KeyShare | None = None
        self._pre_master = b""
        self._request: CertificateRequest | None = None

    def start(self, now: float) -> None:
        """Send the first ClientHello."""
        if self.state is not DtlsState.IDLE:
            raise LocalProtocolError("the client has already started")
        self.state = DtlsState.HANDSHAKING
        self.client_random = random_bytes(self.rng, 32)
        self._send_hello(b"", now)

    def _send_hello(self, cookie: bytes, now: float) -> None:
        extensions: list[tuple[int, bytes]] = [
            (ExtensionType.RENEGOTIATION_INFO, b"\x00"),
            (ExtensionType.EXTENDED_MASTER_SECRET, b""),
            (ExtensionType.SUPPORTED_GROUPS, encode_uint16_list(self.groups)),
            (ExtensionType.EC_POINT_FORMATS, b"\x01\x00"),
            (ExtensionType.SIGNATURE_ALGORITHMS, encode_uint16_list(SIGNATURE_SCHEMES)),
        ]
        if self.srtp_profiles:
            profiles = [p.code for p in self.srtp_profiles]
            extensions.append((ExtensionType.USE_SRTP, encode_use_srtp(profiles)))
        hello = ClientHello(
            self.client_random,
            b"",
            cookie,
            tuple(s.code for s in self.cipher_suites),
            b"\x00",
            extensions,
        )
        self._transcript.clear()  # RFC 6347 §4.2.1: the cookie-less hello is not hashed
        item = self._handshake_item(HandshakeType.CLIENT_HELLO, hello.encode())
        self._send_flight([item], now, final=False)

    def _before_fragment(self, fragment: Fragment) -> None:
        # A stateless server may number its ServerHello 0 after a
        # HelloVerifyRequest (RFC 6347 §4.2.2 says 1, as OpenSSL does): take
        # the lower number from the first message of the server's flight.
        if (
            self._phase is _Phase.HELLO
            and fragment.msg_type == HandshakeType.SERVER_HELLO
            and fragment.message_seq < self._reassembler.next_seq
        ):
            self._reassembler.reset(fragment.message_seq)

    def _process_message(self, message: HandshakeMessage, now: float) -> None:
        try:
            self._process(message, now)
        except DecodeError:
            raise HandshakeError(
                AlertDescription.DECODE_ERROR, f"malformed {_name(message.msg_type)}"
            ) from None

    def _process(self, message: HandshakeMessage, now: float) -> None:
        kind = message.msg_type
        if message.epoch != (1 if kind == HandshakeType.FINISHED else 0):
            raise HandshakeError(
                AlertDescription.UNEXPECTED_MESSAGE, f"{_name(kind)} in the wrong epoch"
            )
        phase = self._phase
        if phase is _Phase.HELLO and kind == HandshakeType.HELLO_VERIFY_REQUEST:
            self._on_hello_verify(HelloVerifyRequest.parse(message.body), now)
        elif phase is _Phase.HELLO and kind == HandshakeType.SERVER_HELLO:
            self._on_server_hello(ServerHello.parse(message.body))
        elif phase is _Phase.CERTIFICATE and kind == HandshakeType.CERTIFICATE:
            certificate = self._take_certificate(message)
            if certificate is None:
                raise HandshakeError(
                    AlertDescription.HANDSHAKE_FAILURE, "server sent no certificate"
                )
            assert self.cipher_suite is not None
            self._server_key = certificate.public_key()
            if key_kind(self._server_key) != self.cipher_suite.authentication:
                raise HandshakeError(
                    AlertDescription.UNSUPPORTED_CERTIFICATE,
                    "certificate does not fit the cipher suite",
                )
            self._phase = _Phase.KEY_EXCHANGE
        elif phase is _Phase.KEY_EXCHANGE and kind == HandshakeType.SERVER_KEY_EXCHANGE:
            self._on_key_exchange(ServerKeyExchange.parse(message.body))
        elif (
            phase is _Phase.REQUEST_OR_DONE
            and kind == HandshakeType.CERTIFICATE_REQUEST
            and self._request is None
        ):
            self._request = CertificateRequest.parse(message.body)
        elif phase is _Phase.REQUEST_OR_DONE and kind == HandshakeType.SERVER_HELLO_DONE:
            if message.body:
                raise DecodeError("ServerHelloDone with a body")
            self._transcript += message.encoded
            self._send_second_flight(now)
            return
        elif phase is _Phase.FINISHED and kind == HandshakeType.FINISHED:
            self._check_finished(message)
            self._timer.stop()
            self._complete()
            return
        else:
            raise HandshakeError(
                AlertDescription.UNEXPECTED_MESSAGE,
                f"unexpected {_name(kind)} waiting for {phase.value}",
            )
        if kind != HandshakeType.HELLO_VERIFY_REQUEST:
            self._transcript += message.encoded

    def _on_hello_verify(self, request: HelloVerifyRequest, now: float) -> None:
        self._hello_verifies += 1
        if self._hello_verifies > _MAX_HELLO_VERIFY:
            raise HandshakeError(AlertDescription.HANDSHAKE_FAILURE, "too many HelloVerifyRequests")
        self._send_hello(request.cookie, now)

    def _on_server_hello(self, hello: ServerHello) -> None:
        if hello.version != DTLS_1_2:
            raise HandshakeError(
                AlertDescription.PROTOCOL_VERSION, "server does not speak DTLS 1.2"
            )
        suite = next((s for s in self.cipher_suites if s.code == hello.cipher_suite), None)
        if suite is None or hello.compression_method != 0:
            raise HandshakeError(
                AlertDescription.ILLEGAL_PARAMETER, "server chose a cipher suite not offered"
            )
        offered = {
            ExtensionType.RENEGOTIATION_INFO,
            ExtensionType.EXTENDED_MASTER_SECRET,
            ExtensionType.EC_POINT_FORMATS,
        }
        if self.srtp_profiles:
            offered.add(ExtensionType.USE_SRTP)
        for kind, _ in hello.extensions:
            if kind not in offered:
                raise HandshakeError(
                    AlertDescription.UNSUPPORTED_EXTENSION,
                    f"server sent extension {kind} not offered",
                )
        if extension(hello.extensions, ExtensionType.EXTENDED_MASTER_SECRET) != b"":
            raise HandshakeError(
                AlertDescription.HANDSHAKE_FAILURE,
                "server does not support the extended master secret",
            )
        renegotiation = extension(hello.extensions, ExtensionType.RENEGOTIATION_INFO)
        if renegotiation not in (None, b"\x00"):
            raise HandshakeError(AlertDescription.HANDSHAKE_FAILURE, "bad renegotiation_info")
        srtp = extension(hello.extensions, ExtensionType.USE_SRTP)
        if srtp is not None:
            profiles, mki = decode_use_srtp(srtp)
            chosen = [p for p in self.srtp_profiles if p.code in profiles]
            if len(profiles) != 1 or not chosen or mki:
                raise HandshakeError(
                    AlertDescription.ILLEGAL_PARAMETER, "server chose an SRTP profile not offered"
                )
            self.srtp_profile = chosen[0]
        self.cipher_suite = suite
        self.server_random = hello.random
        self._phase = _Phase.CERTIFICATE

    def _on_key_exchange(self, exchange: ServerKeyExchange) -> None:
        if exchange.group not in self.groups:
            raise HandshakeError(AlertDescription.ILLEGAL_PARAMETER, "group not offered")
        if exchange.scheme not in SIGNATURE_SCHEMES:
            raise HandshakeError(AlertDescription.ILLEGAL_PARAMETER, "signature scheme not offered")
        signed = self.client_random + self.server_random + exchange.params()
        if not verify(self._server_key, exchange.scheme, exchange.signature, signed):
            raise HandshakeError(AlertDescription.DECRYPT_ERROR, "bad ServerKeyExchange signature")
        self._share = KeyShare(NamedGroup(exchange.group), self.rng)
        try:
            self._pre_master = self._share.exchange(exchange.public)
        except ValueError:
            raise HandshakeError(AlertDescription.ILLEGAL_PARAMETER, "bad ECDHE point") from None
        self._phase = _Phase.REQUEST_OR_DONE

    def _send_second_flight(self, now: float) -> None:
        assert self._share is not None
        items: list[FlightItem] = []
        scheme: SignatureScheme | None = None
        if self._request is not None:
            usable = [
                s
                for s in signature_schemes_for(self.certificate.private_key)
                if s in self._request.signature_schemes
            ]
            if not usable:
                raise HandshakeError(
                    AlertDescription.HANDSHAKE_FAILURE,
                    "no signature scheme for the client certificate",
                )
            scheme = usable[0]
            chain = CertificateMessage((self.certificate.der,)).encode()
            items.append(self._handshake_item(HandshakeType.CERTIFICATE, chain))
        items.append(
            self._handshake_item(
                HandshakeType.CLIENT_KEY_EXCHANGE, encode_key_exchange(self._share.public_bytes)
            )
        )
        self._derive_keys(self._pre_master)
        if scheme is not None:
            signature = sign(self.certificate.private_key, scheme, bytes(self._transcript))
            body = CertificateVerify(scheme, signature).encode()
            items.append(self._handshake_item(HandshakeType.CERTIFICATE_VERIFY, body))
        items.append(self._change_cipher_spec_item())
        items.append(self._finished_item())
        self._phase = _Phase.FINISHED
        self._send_flight(items, now, final=False)


def _name(kind: int) -> str:
    try:
        return HandshakeType(kind).name
    except ValueError:
        return f"handshake type {kind}"
