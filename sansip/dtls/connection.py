"""The part of a DTLS 1.2 endpoint that client and server share: records,
epochs and replay windows, handshake reassembly, flights and their
retransmission timer (RFC 6347 §4.2.4), alerts, application data, events.

:class:`~sansip.dtls.client.DtlsClient` and
:class:`~sansip.dtls.server.DtlsServer` add the handshake of their side.
Driving either one:

- feed every datagram from the peer to :meth:`~DtlsConnection.receive_datagram`
  (malformed or unauthenticated input is dropped and counted in
  :attr:`~DtlsConnection.counters`, never raised);
- after every call, send :meth:`~DtlsConnection.datagrams_to_send`;
- schedule :meth:`~DtlsConnection.get_timer` (absolute time or None) and call
  :meth:`~DtlsConnection.handle_timer` then (early or twice is harmless);
- drain :meth:`~DtlsConnection.next_event`;
- once :class:`~sansip.dtls.events.HandshakeComplete` came, :meth:`~DtlsConnection.send`
  application data, :meth:`~DtlsConnection.export_keying_material`
  (RFC 5705), and :meth:`~DtlsConnection.close` at the end.

The machine reads no clock and draws randomness only from the ``rng`` it
is given (``random.SystemRandom()`` in production).

Choices worth knowing: epoch 0 records are not replay-checked (they are
unauthenticated; a forged sequence number must not shut out the genuine
ones); the Finished must come in epoch 1 but ChangeCipherSpec itself is
only checked for form; a repeated flight of the peer is answered at most
once per half initial timeout; renegotiation is ignored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from enum import Enum
from typing import Final, TypedDict

from cryptography import x509

from sansip.dtls.certificates import (
    DtlsCertificate,
    UnsupportedCertificateError,
    certificate_fingerprint,
    fingerprints_match,
    load_peer_certificate,
)
from sansip.dtls.crypto import (
    RandomSource,
    compute_finished,
    derive_key_block,
    extended_master_secret,
    key_kind,
    prf,
    transcript_hash,
)
from sansip.dtls.events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    DtlsCounters,
    DtlsEvent,
    HandshakeComplete,
    HandshakeFailed,
)
from sansip.dtls.flights import FlightItem, RetransmitTimer, pack_flight
from sansip.dtls.fragments import (
    Fragment,
    FragmentFate,
    HandshakeMessage,
    Reassembler,
    encode_handshake,
    parse_fragments,
)
from sansip.dtls.messages import CertificateMessage, DecodeError
from sansip.dtls.records import (
    MAX_SEQUENCE,
    Record,
    RecordCipher,
    ReplayWindow,
    encode_record,
    parse_records,
)
from sansip.dtls.suites import (
    CIPHER_SUITES,
    SRTP_PROFILES,
    AlertDescription,
    CipherSuite,
    ContentType,
    NamedGroup,
    SrtpProfile,
)
from sansip.errors import LocalProtocolError

__all__ = ["DEFAULT_MTU", "DtlsConnection", "DtlsOptions", "DtlsState", "HandshakeError"]

#: Datagram size the handshake flights are cut to by default.
DEFAULT_MTU: Final = 1200
#: Largest application data record payload (RFC 5246 §6.2.1).
MAX_PLAINTEXT: Final = 1 << 14
_MAX_FUTURE_RECORDS: Final = 32
_MAX_EARLY_DATA: Final = 16
_ALERT_WARNING: Final = 1
_ALERT_FATAL: Final = 2


class DtlsOptions(TypedDict, total=False):
    """The keyword options every DTLS machine takes (see :class:`DtlsConnection`)."""

    expected_fingerprint: str | Iterable[str] | None
    srtp_profiles: Iterable[SrtpProfile]
    cipher_suites: Iterable[CipherSuite]
    groups: Iterable[NamedGroup]
    mtu: int
    initial_timeout: float
    max_timeout: float
    max_retransmissions: int
    max_events: int


class DtlsState(Enum):
    """Where the association stands."""

    IDLE = "idle"  # a client not started yet
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"


_LIVE: Final = (DtlsState.HANDSHAKING, DtlsState.CONNECTED)


class HandshakeError(Exception):
    """Raised inside the machine to abort the handshake with ``alert``."""

    def __init__(self, alert: AlertDescription, reason: str) -> None:
        super().__init__(reason)
        self.alert = alert
        self.reason = reason


def _alert_name(description: int) -> str:
    try:
        return AlertDescription(description).name.lower()
    except ValueError:
        return f"alert {description}"


class DtlsConnection:
    """One DTLS 1.2 association with one peer (the shared half of both roles).

    ``certificate`` is the local certificate and key (DTLS-SRTP
    authenticates both sides); ``expected_fingerprint`` the peer's RFC 8122
    fingerprint(s) from SDP (None: accept any certificate, the application
    checks :attr:`peer_certificate`); ``srtp_profiles`` the DTLS-SRTP
    profiles offered or accepted, best first (empty: no ``use_srtp``);
    ``mtu`` the largest datagram a flight is cut to; the retransmission timer
    starts at ``initial_timeout``, doubles up to ``max_timeout`` and the
    handshake fails after ``max_retransmissions``.
    """

    is_client: bool = False

    def __init__(
        self,
        certificate: DtlsCertificate,
        *,
        rng: RandomSource,
        expected_fingerprint: str | Iterable[str] | None = None,
        srtp_profiles: Iterable[SrtpProfile] = SRTP_PROFILES,
        cipher_suites: Iterable[CipherSuite] = CIPHER_SUITES,
        groups: Iterable[NamedGroup] = (NamedGroup.X25519, NamedGroup.SECP256R1),
        mtu: int = DEFAULT_MTU,
        initial_timeout: float = 1.0,
        max_timeout: float = 60.0,
        max_retransmissions: int = 6,
        max_events: int = 256,
    ) -> None:
        if mtu < 128:
            raise LocalProtocolError("the MTU must be at least 128 bytes")
        if key_kind(certificate.private_key) not in ("ecdsa", "rsa"):
            raise LocalProtocolError("the certificate key must be ECDSA or RSA")
        self.certificate = certificate
        self.rng = rng
        if isinstance(expected_fingerprint, str):
            expected_fingerprint = (expected_fingerprint,)
        self.expected_fingerprints = (
            None if expected_fingerprint is None else tuple(expected_fingerprint)
        )
        self.srtp_profiles = tuple(srtp_profiles)
        self.cipher_suites = tuple(cipher_suites)
        self.groups = tuple(groups)
        self.mtu = mtu
        self.initial_timeout = initial_timeout
        self.max_timeout = max_timeout
        self.max_retransmissions = max_retransmissions
        self.max_events = max_events
        self.counters = DtlsCounters()
        self.state = DtlsState.HANDSHAKING
        #: Negotiated once the hellos are exchanged.
        self.cipher_suite: CipherSuite | None = None
        self.srtp_profile: SrtpProfile | None = None
        #: The peer's certificate once its Certificate message arrived.
        self.peer_certificate: x509.Certificate | None = None
        self.peer_fingerprint: str | None = None
        self.client_random = b""
        self.server_random = b""
        self._master_secret = b""
        self._events: deque[DtlsEvent] = deque()
        self._outgoing: list[bytes] = []
        self._write_epoch = 0
        self._write_sequence: dict[int, int] = {0: 0}
        self._write_ciphers: dict[int, RecordCipher] = {}
        self._read_ciphers: dict[int, RecordCipher] = {}
        self._replay: dict[int, ReplayWindow] = {0: ReplayWindow()}
        self._future_records: list[Record] = []
        self._early_data: list[bytes] = []
        self._reassembler = Reassembler()
        self._send_message_seq = 0
        self._transcript = bytearray()
        self._flight: list[FlightItem] = []
        self._timer = RetransmitTimer(initial_timeout, max_timeout, max_retransmissions)
        self._peer_retransmitted = False
        self._completed = False
        self._answered_before = 0
        self._flight_sent_at = 0.0
        self._setup_role()

    # --- public API -------------------------------------------------------

    def receive_datagram(self, data: bytes, now: float) -> None:
        """Process one datagram from the peer (never raises on its content)."""
        self.counters.datagrams += 1
        if self.state in (DtlsState.CLOSED, DtlsState.FAILED, DtlsState.IDLE):
            self.counters.dropped_unexpected += 1
            return
        records, well_formed = parse_records(bytes(data))
        if not well_formed:
            self.counters.dropped_malformed += 1
        self._peer_retransmitted = False
        try:
            for record in records:
                if not self._is_live():
                    break
                self._receive_record(record, now)
            self._replay_future_records(now)
            if (
                self._peer_retransmitted
                and self._flight
                and self._is_live()
                and now - self._flight_sent_at >= self.initial_timeout / 2
            ):
                # At most once per half initial timeout: two sides that both answer
                # a repetition with a repetition must not loop.
                self._flight_sent_at = now
                self._transmit_flight()
        except HandshakeError as error:
            self._fail(error.alert, error.reason)
        except Exception as error:  # a bug must not let hostile input raise
            self._fail(AlertDescription.INTERNAL_ERROR, f"internal error: {error!r}")

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """The datagrams to send now, oldest first (each at most :attr:`mtu`
        bytes during the handshake)."""
        out, self._outgoing = self._outgoing, []
        return out

    def next_event(self) -> DtlsEvent | None:
        """The oldest event not taken yet, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` is due (absolute time), or None."""
        return self._timer.at

    def handle_timer(self, now: float) -> None:
        """Retransmit the last flight when its timer expired; give up after
        ``max_retransmissions`` with :class:`HandshakeFailed` ``"timeout"``."""
        if not self._timer.expired(now):
            return
        if not self._timer.back_off(now):
            self.state = DtlsState.FAILED
            self._emit(HandshakeFailed("timeout"))
            return
        self.counters.retransmissions += 1
        self._flight_sent_at = now
        self._transmit_flight()

    def send(self, data: bytes) -> None:
        """Send application data (one record) once connected."""
        if self.state is not DtlsState.CONNECTED:
            raise LocalProtocolError(f"cannot send application data while {self.state.value}")
        if len(data) > MAX_PLAINTEXT:
            raise LocalProtocolError(f"application data larger than {MAX_PLAINTEXT} bytes")
        self._outgoing.append(
            self._seal(ContentType.APPLICATION_DATA, self._write_epoch, bytes(data))
        )

    def close(self) -> None:
        """Send close_notify and end the association (a no-op once ended)."""
        if self.state in (DtlsState.CLOSED, DtlsState.FAILED):
            return
        was = self.state
        if was is not DtlsState.IDLE:
            self._send_alert(_ALERT_WARNING, AlertDescription.CLOSE_NOTIFY)
        self.state = DtlsState.CLOSED
        self._timer.stop()
        if was is DtlsState.CONNECTED:
            self._emit(ConnectionClosed("closed locally"))
        elif was is DtlsState.HANDSHAKING:
            self._emit(HandshakeFailed("closed locally"))

    def export_keying_material(
        self, label: str | bytes, length: int, context: bytes | None = None
    ) -> bytes:
        """RFC 5705 keying material (e.g. ``"EXTRACTOR-dtls_srtp"``) once connected."""
        if self.state is not DtlsState.CONNECTED or self.cipher_suite is None:
            raise LocalProtocolError("keying material exists only once connected")
        if isinstance(label, str):
            label = label.encode("ascii")
        seed = self.client_random + self.server_random
        if context is not None:
            if len(context) > 0xFFFF:
                raise LocalProtocolError("exporter context too long")
            seed += len(context).to_bytes(2, "big") + context
        return prf(self.cipher_suite.hash_name, self._master_secret, label, seed, length)

    @property
    def handshake_complete(self) -> bool:
        """Whether the handshake has completed (even if the association ended since)."""
        return self._completed

    # --- for the role classes ---------------------------------------------

    def _is_live(self) -> bool:
        """Whether the association still handshakes or carries data."""
        return self.state in _LIVE

    def _setup_role(self) -> None:
        """Initialise the role's own state (run at the end of ``__init__``)."""

    def _process_message(self, message: HandshakeMessage, now: float) -> None:
        """Handle one whole in-order handshake message (the role's job)."""
        raise NotImplementedError

    def _before_fragment(self, fragment: Fragment) -> None:
        """A hook run on every received handshake fragment before reassembly."""

    def _emit(self, event: DtlsEvent) -> None:
        """Queue an event; application data beyond ``max_events`` is dropped
        (and counted), the few events about the association never are."""
        if isinstance(event, ApplicationData) and len(self._events) >= self.max_events:
            self.counters.dropped_events += 1
            return
        self._events.append(event)

    def _handshake_item(self, msg_type: int, body: bytes, epoch: int = 0) -> FlightItem:
        """A handshake message of ours: numbered and added to the transcript."""
        encoded = encode_handshake(msg_type, self._send_message_seq, body)
        self._send_message_seq += 1
        self._transcript += encoded
        return FlightItem(ContentType.HANDSHAKE, epoch, encoded)

    @staticmethod
    def _change_cipher_spec_item() -> FlightItem:
        return FlightItem(ContentType.CHANGE_CIPHER_SPEC, 0, b"\x01")

    def _send_flight(self, items: list[FlightItem], now: float, *, final: bool) -> None:
        """Send a new flight; a non-final flight is retransmitted on the timer."""
        self._flight = items
        self._flight_sent_at = now
        self._answered_before = self._reassembler.next_seq
        if final:
            self._timer.stop()
        else:
            self._timer.start(now)
        self._transmit_flight()

    def _transmit_flight(self) -> None:
        self._outgoing += pack_flight(self._flight, self.mtu, self._seal)

    def _seal(self, content_type: int, epoch: int, plaintext: bytes) -> bytes:
        sequence = self._write_sequence[epoch]
        if sequence > MAX_SEQUENCE:
            raise LocalProtocolError("record sequence numbers exhausted")
        self._write_sequence[epoch] = sequence + 1
        cipher = self._write_ciphers.get(epoch)
        fragment = (
            plaintext if cipher is None else cipher.seal(content_type, epoch, sequence, plaintext)
        )
        return encode_record(content_type, epoch, sequence, fragment)

    def _send_alert(self, level: int, description: AlertDescription) -> None:
        self._outgoing.append(
            self._seal(ContentType.ALERT, self._write_epoch, bytes((level, description)))
        )

    def _fail(self, alert: AlertDescription, reason: str) -> None:
        """Abort with a fatal alert: HandshakeFailed, or ConnectionClosed if connected."""
        if self.state in (DtlsState.CLOSED, DtlsState.FAILED):
            return
        was = self.state
        self._send_alert(_ALERT_FATAL, alert)
        self.state = DtlsState.FAILED
        self._timer.stop()
        self._emit(
            ConnectionClosed(reason) if was is DtlsState.CONNECTED else HandshakeFailed(reason)
        )

    def _derive_keys(self, pre_master: bytes) -> None:
        """Master secret (extended, RFC 7627) from the transcript so far, then
        the epoch 1 ciphers of both directions."""
        suite = self.cipher_suite
        assert suite is not None
        session_hash = transcript_hash(suite.hash_name, bytes(self._transcript))
        self._master_secret = extended_master_secret(suite.hash_name, pre_master, session_hash)
        block = derive_key_block(
            suite.hash_name,
            self._master_secret,
            client_random=self.client_random,
            server_random=self.server_random,
            key_length=suite.key_length,
            iv_length=suite.fixed_iv_length,
        )
        client = RecordCipher(block.client_key, block.client_iv)
        server = RecordCipher(block.server_key, block.server_iv)
        self._write_ciphers[1] = client if self.is_client else server
        self._read_ciphers[1] = server if self.is_client else client
        self._write_sequence[1] = 0
        self._replay[1] = ReplayWindow()

    def _finished_item(self) -> FlightItem:
        """Our Finished (epoch 1) over the transcript so far."""
        assert self.cipher_suite is not None
        verify_data = compute_finished(
            self.cipher_suite.hash_name,
            self._master_secret,
            self.is_client,
            bytes(self._transcript),
        )
        return self._handshake_item(20, verify_data, epoch=1)

    def _check_finished(self, message: HandshakeMessage) -> None:
        """Verify the peer's Finished and add it to the transcript."""
        assert self.cipher_suite is not None
        if message.epoch != 1:
            raise HandshakeError(AlertDescription.UNEXPECTED_MESSAGE, "unprotected Finished")
        expected = compute_finished(
            self.cipher_suite.hash_name,
            self._master_secret,
            not self.is_client,
            bytes(self._transcript),
        )
        if message.body != expected:
            raise HandshakeError(AlertDescription.DECRYPT_ERROR, "bad Finished")
        self._transcript += message.encoded

    def _take_certificate(self, message: HandshakeMessage) -> x509.Certificate | None:
        """Parse the peer's Certificate, check the fingerprint; None if empty."""
        try:
            chain = CertificateMessage.parse(message.body).certificates
        except DecodeError:
            raise HandshakeError(AlertDescription.DECODE_ERROR, "bad Certificate") from None
        if not chain:
            return None
        try:
            certificate = load_peer_certificate(chain[0])
        except UnsupportedCertificateError as error:
            raise HandshakeError(AlertDescription.UNSUPPORTED_CERTIFICATE, str(error)) from None
        except ValueError as error:
            raise HandshakeError(AlertDescription.BAD_CERTIFICATE, str(error)) from None
        der = chain[0]  # RFC 8122: the fingerprint of the certificate as sent
        self.peer_certificate = certificate
        self.peer_fingerprint = certificate_fingerprint(der)
        if self.expected_fingerprints is not None and not any(
            fingerprints_match(der, expected) for expected in self.expected_fingerprints
        ):
            raise HandshakeError(AlertDescription.BAD_CERTIFICATE, "fingerprint mismatch")
        return certificate

    def _complete(self) -> None:
        """The handshake authenticated: report it and deliver early data."""
        assert self.cipher_suite is not None
        self.state = DtlsState.CONNECTED
        self._completed = True
        self._write_epoch = 1
        material = None
        if self.srtp_profile is not None:
            material = self.export_keying_material(
                "EXTRACTOR-dtls_srtp", self.srtp_profile.keying_material_length
            )
        self._emit(
            HandshakeComplete(
                self.cipher_suite,
                self.srtp_profile,
                material,
                self.peer_certificate,
                self.peer_fingerprint,
            )
        )
        for data in self._early_data:
            self._emit(ApplicationData(data))
        self._early_data.clear()

    # --- receiving --------------------------------------------------------

    def _receive_record(self, record: Record, now: float) -> None:
        self.counters.records += 1
        epoch = record.epoch
        window = self._replay.get(epoch)
        if window is None:
            if (
                epoch == max(self._replay) + 1
                and self.state is DtlsState.HANDSHAKING
                and len(self._future_records) < _MAX_FUTURE_RECORDS
            ):
                self._future_records.append(record)
            else:
                self.counters.dropped_epoch += 1
            return
        cipher = self._read_ciphers.get(epoch)
        if cipher is None:
            # Epoch 0 is not authenticated: a forged sequence number must not shut
            # the genuine records out, and a repeated handshake fragment is harmless.
            self._dispatch(record.content_type, epoch, record.fragment, now)
            return
        if not window.is_fresh(record.sequence):
            self.counters.dropped_replayed += 1
            return
        plaintext = cipher.unseal(record)
        if plaintext is None:
            self.counters.dropped_unauthenticated += 1
            return
        window.mark(record.sequence)
        self._dispatch(record.content_type, epoch, plaintext, now)

    def _replay_future_records(self, now: float) -> None:
        while self._is_live():
            ready = [r for r in self._future_records if r.epoch in self._replay]
            if not ready:
                return
            self._future_records = [r for r in self._future_records if r.epoch not in self._replay]
            for record in ready:
                if self._is_live():
                    self._receive_record(record, now)

    def _dispatch(self, content_type: int, epoch: int, plaintext: bytes, now: float) -> None:
        current_epoch = max(self._read_ciphers, default=0)
        if content_type == ContentType.HANDSHAKE:
            self._receive_handshake(plaintext, epoch, now)
        elif content_type == ContentType.CHANGE_CIPHER_SPEC:
            if plaintext != b"\x01":
                self.counters.dropped_malformed += 1
        elif content_type == ContentType.ALERT:
            if len(plaintext) != 2:
                self.counters.dropped_malformed += 1
            elif epoch < current_epoch and self.state is DtlsState.CONNECTED:
                self.counters.dropped_epoch += 1  # an unprotected alert after the handshake
            else:
                self._receive_alert(plaintext[0], plaintext[1])
        elif content_type == ContentType.APPLICATION_DATA:
            if epoch == 0:
                self.counters.dropped_epoch += 1
            elif self.state is DtlsState.CONNECTED:
                self._emit(ApplicationData(plaintext))
            elif len(self._early_data) < _MAX_EARLY_DATA:
                self._early_data.append(plaintext)
            else:
                self.counters.dropped_unexpected += 1
        else:
            self.counters.dropped_malformed += 1

    def _receive_alert(self, level: int, description: int) -> None:
        self._emit(AlertReceived(level, description))
        if description == AlertDescription.CLOSE_NOTIFY:
            was = self.state
            if was is DtlsState.CONNECTED:
                self._send_alert(_ALERT_WARNING, AlertDescription.CLOSE_NOTIFY)
            self.state = DtlsState.CLOSED
            self._timer.stop()
            self._emit(
                ConnectionClosed("close_notify")
                if was is DtlsState.CONNECTED
                else HandshakeFailed("close_notify")
            )
        elif level == _ALERT_FATAL:
            was = self.state
            self.state = DtlsState.FAILED
            self._timer.stop()
            reason = f"alert {_alert_name(description)}"
            self._emit(
                ConnectionClosed(reason) if was is DtlsState.CONNECTED else HandshakeFailed(reason)
            )

    def _receive_handshake(self, plaintext: bytes, epoch: int, now: float) -> None:
        try:
            fragments = parse_fragments(plaintext)
        except DecodeError:
            self.counters.dropped_malformed += 1
            return
        for fragment in fragments:
            if self._completed and fragment.message_seq >= self._reassembler.next_seq:
                self.counters.dropped_unexpected += 1  # no renegotiation
                continue
            self._before_fragment(fragment)
            fate = self._reassembler.add(fragment, epoch)
            if fate is FragmentFate.OLD:
                self.counters.peer_retransmissions += 1
                # A flight we answered came again: our answer was lost.
                if fragment.message_seq < self._answered_before:
                    self._peer_retransmitted = True
            elif fate is not FragmentFate.ACCEPTED:
                self.counters.dropped_fragments += 1
        while self._is_live():
            message = self._reassembler.pop()
            if message is None:
                return
            if self.state is DtlsState.CONNECTED:
                self.counters.dropped_unexpected += 1  # no renegotiation
                continue
            self._process_message(message, now)
