"""The DTLS 1.2 server (RFC 6347): a stateless HelloVerifyRequest cookie
(§4.2.1), then ServerHello, Certificate, ServerKeyExchange,
CertificateRequest (DTLS-SRTP authenticates both sides), ServerHelloDone;
then the client's Certificate, ClientKeyExchange, CertificateVerify and
Finished, answered by ChangeCipherSpec and Finished.

See :mod:`sansip.dtls.connection` for how to drive it.  The server waits
for the ClientHello: there is no ``start``.
"""

from __future__ import annotations

import hmac
from enum import Enum
from typing import Unpack

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from sansip.dtls.certificates import DtlsCertificate
from sansip.dtls.connection import DtlsConnection, DtlsOptions, HandshakeError
from sansip.dtls.crypto import (
    KeyShare,
    RandomSource,
    key_kind,
    random_bytes,
    sign,
    signature_schemes_for,
    verify,
)
from sansip.dtls.fragments import Fragment, HandshakeMessage, encode_handshake
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
    encode_use_srtp,
    extension,
    parse_key_exchange,
    parse_uint16_list,
)
from sansip.dtls.suites import (
    DTLS_1_0,
    DTLS_1_2,
    SIGNATURE_SCHEMES,
    AlertDescription,
    ContentType,
    ExtensionType,
    HandshakeType,
    NamedGroup,
    SignatureScheme,
)

__all__ = ["DtlsServer"]

_COOKIE_LENGTH = 32
_RENEGOTIATION_SCSV = 0x00FF
#: certificate_types of the CertificateRequest: ecdsa_sign, rsa_sign.
_CERTIFICATE_TYPES = bytes((64, 1))


class _Phase(Enum):
    CLIENT_HELLO = "client hello"
    CERTIFICATE = "client certificate"
    KEY_EXCHANGE = "client key exchange"
    CERTIFICATE_VERIFY = "certificate verify"
    FINISHED = "finished"


class DtlsServer(DtlsConnection):
    """The server side of one DTLS 1.2 association.

    Besides the options of :class:`~sansip.dtls.connection.DtlsConnection`:
    ``cookie_exchange`` (default True) answers a ClientHello without a
    valid cookie with a HelloVerifyRequest, the cookie an HMAC of the hello
    and ``cookie_context`` (e.g. the peer's address and port, which the
    driver knows and this machine does not) under ``cookie_secret`` (drawn
    from ``rng`` unless given: share one secret between the servers of a
    socket to stay stateless);
    ``require_client_certificate`` (default True) fails a handshake in
    which the client does not authenticate.
    """

    is_client = False

    def __init__(
        self,
        certificate: DtlsCertificate,
        *,
        rng: RandomSource,
        cookie_exchange: bool = True,
        cookie_secret: bytes | None = None,
        cookie_context: bytes = b"",
        require_client_certificate: bool = True,
        **options: Unpack[DtlsOptions],
    ) -> None:
        self.cookie_exchange = cookie_exchange
        self.require_client_certificate = require_client_certificate
        self.cookie_secret = cookie_secret or random_bytes(rng, 32)
        self.cookie_context = cookie_context
        super().__init__(certificate, rng=rng, **options)

    def _setup_role(self) -> None:
        self._phase = _Phase.CLIENT_HELLO
        self._share: KeyShare | None = None
        self._client_key: PublicKeyTypes | None = None
        self._client_signature_schemes: tuple[int, ...] = ()
        self._hello_verifies_sent = 0

    def cookie_for(self, hello: ClientHello) -> bytes:
        """The stateless cookie a ClientHello must carry (RFC 6347 §4.2.1)."""
        data = len(self.cookie_context).to_bytes(2, "big") + self.cookie_context
        data += hello.without_cookie()
        return hmac.digest(self.cookie_secret, data, "sha256")[:_COOKIE_LENGTH]

    def _before_fragment(self, fragment: Fragment) -> None:
        # Stateless until a hello with a good cookie: take each ClientHello as it comes.
        if (
            self._phase is _Phase.CLIENT_HELLO
            and fragment.msg_type == HandshakeType.CLIENT_HELLO
            and fragment.message_seq != self._reassembler.next_seq
        ):
            self._reassembler.reset(fragment.message_seq)

    def _process_message(self, message: HandshakeMessage, now: float) -> None:
        try:
            self._process(message, now)
        except DecodeError:
            raise HandshakeError(
                AlertDescription.DECODE_ERROR, f"malformed handshake message {message.msg_type}"
            ) from None

    def _process(self, message: HandshakeMessage, now: float) -> None:
        kind = message.msg_type
        if message.epoch != (1 if kind == HandshakeType.FINISHED else 0):
            raise HandshakeError(
                AlertDescription.UNEXPECTED_MESSAGE, f"handshake message {kind} in the wrong epoch"
            )
        phase = self._phase
        if phase is _Phase.CLIENT_HELLO and kind == HandshakeType.CLIENT_HELLO:
            self._on_client_hello(message, now)
        elif phase is _Phase.CERTIFICATE and kind == HandshakeType.CERTIFICATE:
            certificate = self._take_certificate(message)
            self._transcript += message.encoded
            if certificate is None:
                if self.require_client_certificate or self.expected_fingerprints is not None:
                    raise HandshakeError(
                        AlertDescription.HANDSHAKE_FAILURE, "client sent no certificate"
                    )
            else:
                self._client_key = certificate.public_key()
            self._phase = _Phase.KEY_EXCHANGE
        elif phase is _Phase.KEY_EXCHANGE and kind == HandshakeType.CLIENT_KEY_EXCHANGE:
            assert self._share is not None
            try:
                pre_master = self._share.exchange(parse_key_exchange(message.body))
            except ValueError as error:
                if isinstance(error, DecodeError):
                    raise
                raise HandshakeError(
                    AlertDescription.ILLEGAL_PARAMETER, "bad ECDHE point"
                ) from None
            self._transcript += message.encoded
            self._derive_keys(pre_master)
            self._phase = _Phase.FINISHED if self._client_key is None else _Phase.CERTIFICATE_VERIFY
        elif phase is _Phase.CERTIFICATE_VERIFY and kind == HandshakeType.CERTIFICATE_VERIFY:
            check = CertificateVerify.parse(message.body)
            if check.scheme not in SIGNATURE_SCHEMES or not verify(
                self._client_key, check.scheme, check.signature, bytes(self._transcript)
            ):
                raise HandshakeError(AlertDescription.DECRYPT_ERROR, "bad CertificateVerify")
            self._transcript += message.encoded
            self._phase = _Phase.FINISHED
        elif phase is _Phase.FINISHED and kind == HandshakeType.FINISHED:
            self._check_finished(message)
            items = [self._change_cipher_spec_item(), self._finished_item()]
            self._send_flight(items, now, final=True)
            self._complete()
        else:
            raise HandshakeError(
                AlertDescription.UNEXPECTED_MESSAGE,
                f"unexpected handshake message {kind} waiting for {phase.value}",
            )

    def _on_client_hello(self, message: HandshakeMessage, now: float) -> None:
        hello = ClientHello.parse(message.body)
        # DTLS versions count down from 0xFEFF (1.0): later ones are smaller.
        if not 0xFE00 <= hello.version <= DTLS_1_2:
            raise HandshakeError(
                AlertDescription.PROTOCOL_VERSION, "client does not offer DTLS 1.2"
            )
        if self.cookie_exchange and not hmac.compare_digest(hello.cookie, self.cookie_for(hello)):
            self._hello_verifies_sent += 1
            body = HelloVerifyRequest(self.cookie_for(hello), DTLS_1_0).encode()
            self._outgoing.append(
                self._seal(
                    ContentType.HANDSHAKE,
                    0,
                    encode_handshake(HandshakeType.HELLO_VERIFY_REQUEST, message.message_seq, body),
                )
            )
            return
        self._send_message_seq = message.message_seq
        self._transcript.clear()
        self._transcript += message.encoded
        self.client_random = hello.random
        self.server_random = random_bytes(self.rng, 32)
        self._negotiate(hello)
        self._send_server_flight(hello, now)

    def _negotiate(self, hello: ClientHello) -> None:
        if 0 not in hello.compression_methods:
            raise HandshakeError(AlertDescription.ILLEGAL_PARAMETER, "no null compression")
        if extension(hello.extensions, ExtensionType.EXTENDED_MASTER_SECRET) is None:
            raise HandshakeError(
                AlertDescription.HANDSHAKE_FAILURE,
                "client does not offer the extended master secret",
            )
        if extension(hello.extensions, ExtensionType.RENEGOTIATION_INFO) not in (None, b"\x00"):
            raise HandshakeError(AlertDescription.HANDSHAKE_FAILURE, "bad renegotiation_info")
        kind = key_kind(self.certificate.private_key)
        suite = next(
            (
                s
                for s in self.cipher_suites
                if s.authentication == kind and s.code in hello.cipher_suites
            ),
            None,
        )
        if suite is None:
            raise HandshakeError(AlertDescription.HANDSHAKE_FAILURE, "no cipher suite in common")
        self.cipher_suite = suite
        groups_data = extension(hello.extensions, ExtensionType.SUPPORTED_GROUPS)
        offered_groups = (
            parse_uint16_list(groups_data) if groups_data is not None else [NamedGroup.SECP256R1]
        )
        group = next((g for g in self.groups if g in offered_groups), None)
        if group is None:
            raise HandshakeError(AlertDescription.HANDSHAKE_FAILURE, "no ECDHE group in common")
        self._share = KeyShare(group, self.rng)
        schemes_data = extension(hello.extensions, ExtensionType.SIGNATURE_ALGORITHMS)
        self._client_signature_schemes = tuple(
            parse_uint16_list(schemes_data)
            if schemes_data is not None
            else [SignatureScheme.ECDSA_SECP256R1_SHA256, SignatureScheme.RSA_PKCS1_SHA256]
        )
        srtp = extension(hello.extensions, ExtensionType.USE_SRTP)
        if srtp is not None and self.srtp_profiles:
            profiles, _mki = decode_use_srtp(srtp)
            self.srtp_profile = next((p for p in self.srtp_profiles if p.code in profiles), None)

    def _send_server_flight(self, hello: ClientHello, now: float) -> None:
        assert self._share is not None and self.cipher_suite is not None
        extensions: list[tuple[int, bytes]] = []
        if (
            extension(hello.extensions, ExtensionType.RENEGOTIATION_INFO) is not None
            or _RENEGOTIATION_SCSV in hello.cipher_suites
        ):
            extensions.append((ExtensionType.RENEGOTIATION_INFO, b"\x00"))
        extensions.append((ExtensionType.EXTENDED_MASTER_SECRET, b""))
        if extension(hello.extensions, ExtensionType.EC_POINT_FORMATS) is not None:
            extensions.append((ExtensionType.EC_POINT_FORMATS, b"\x01\x00"))
        if self.srtp_profile is not None:
            extensions.append((ExtensionType.USE_SRTP, encode_use_srtp([self.srtp_profile.code])))
        server_hello = ServerHello(self.server_random, b"", self.cipher_suite.code, 0, extensions)
        items = [self._handshake_item(HandshakeType.SERVER_HELLO, server_hello.encode())]
        chain = CertificateMessage((self.certificate.der,)).encode()
        items.append(self._handshake_item(HandshakeType.CERTIFICATE, chain))
        scheme = next(
            (
                s
                for s in signature_schemes_for(self.certificate.private_key)
                if s in self._client_signature_schemes
            ),
            None,
        )
        if scheme is None:
            raise HandshakeError(
                AlertDescription.HANDSHAKE_FAILURE, "no signature scheme in common"
            )
        unsigned = ServerKeyExchange(self._share.group, self._share.public_bytes, scheme, b"")
        signature = sign(
            self.certificate.private_key,
            scheme,
            self.client_random + self.server_random + unsigned.params(),
        )
        exchange = ServerKeyExchange(unsigned.group, unsigned.public, scheme, signature)
        items.append(self._handshake_item(HandshakeType.SERVER_KEY_EXCHANGE, exchange.encode()))
        request = CertificateRequest(_CERTIFICATE_TYPES, tuple(SIGNATURE_SCHEMES))
        items.append(self._handshake_item(HandshakeType.CERTIFICATE_REQUEST, request.encode()))
        items.append(self._handshake_item(HandshakeType.SERVER_HELLO_DONE, b""))
        self._phase = _Phase.CERTIFICATE
        self._send_flight(items, now, final=False)
