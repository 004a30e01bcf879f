"""SRTP and SRTCP (RFC 3711, RFC 7714): the :class:`SrtpTransform` packet transform.

:class:`SrtpTransform` implements :class:`~sansip.rtp.types.PacketTransform`:
install it with :meth:`RtpSession.set_transform` once the keys are known (SDES
``a=crypto`` or DTLS-SRTP).  It takes the master key and salt of each
direction and derives the session keys (RFC 3711 §4.3, key derivation rate 0).

Per SSRC it keeps the rollover counter of the packets it sends and, for the
packets it receives, the highest index seen and a replay window (RFC 3711
§3.3.1, §3.3.2, Appendix A), created lazily with the first packet of each
source (a received source only once a packet of it authenticates).  The
cipher contexts are made once per direction: AES-CM keystream comes from one
AES-ECB context fed with all the counter blocks of a packet at once, HMAC-SHA1
from copies of precomputed inner and outer hashes, AES-GCM from one
``AESGCM`` object.

Packets that must be dropped raise an :class:`SrtpError` (a
:class:`~sansip.errors.RemoteProtocolError`, which the session counts as
rejected) and are counted in :attr:`SrtpTransform.dropped` by reason.  No other
exception escapes ``unprotect_*``, whatever the input.
"""

from __future__ import annotations

import hashlib
import struct
from hmac import compare_digest
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp.srtp_keys import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AES_CM_128_HMAC_SHA1_32,
    AES_CM_128_HMAC_SHA1_80,
    DTLS_PROFILES,
    PROFILES,
    SessionKeys,
    SrtpProfile,
    derive_session_keys,
    get_profile,
    split_dtls_keying_material,
)

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AES_CM_128_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_80",
    "DEFAULT_REPLAY_WINDOW",
    "DROP_REASONS",
    "DTLS_PROFILES",
    "MAX_REPLAY_WINDOW",
    "PROFILES",
    "SrtpAuthenticationError",
    "SrtpError",
    "SrtpMalformedError",
    "SrtpMkiError",
    "SrtpProfile",
    "SrtpReplayError",
    "SrtpTransform",
]

#: Replay window size (packets) of a received stream unless configured.
DEFAULT_REPLAY_WINDOW: Final = 128
#: The largest replay window accepted.
MAX_REPLAY_WINDOW: Final = 0x8000
#: The keys of :attr:`SrtpTransform.dropped`.
DROP_REASONS: Final = ("malformed", "mki", "authentication", "replay")

_MAX_SRTCP_INDEX: Final = 0x7FFFFFFF
_MAX_SRTP_INDEX: Final = (1 << 48) - 1
_E_BIT: Final = 0x80000000
_CTR_CACHE_BLOCKS: Final = 128  # ECB counter layouts kept for payloads up to 2 KiB


_seq_ssrc: Final = struct.Struct("!2xH4xI").unpack_from


class SrtpError(RemoteProtocolError):
    """An SRTP or SRTCP packet was dropped; ``kind`` is one of :data:`DROP_REASONS`."""

    kind = "malformed"


class SrtpMalformedError(SrtpError):
    """Too short, not version 2, or a header running past the packet."""

    kind = "malformed"


class SrtpMkiError(SrtpError):
    """The packet's MKI is not the one the remote key was given with."""

    kind = "mki"


class SrtpAuthenticationError(SrtpError):
    """The authentication tag does not match."""

    kind = "authentication"


class SrtpReplayError(SrtpError):
    """The packet's index was seen already or is older than the replay window."""

    kind = "replay"


# Counter-block layouts of the AES-ECB fallback: for n blocks, the counters iv,
# iv+1, ... iv+n-1 packed big-endian are ``iv * _REPEAT[n] + _STEPS[n]``.
_REPEAT: list[int] = [0]
_STEPS: list[int] = [0]


def _extend_counter_layouts(blocks: int) -> None:
    while len(_REPEAT) <= blocks:
        n = len(_REPEAT)
        _REPEAT.append((_REPEAT[-1] << 128) | 1)
        _STEPS.append((_STEPS[-1] << 128) | (n - 1))


class _Keys:
    """The cipher contexts of one direction of SRTP or SRTCP.

    AES-CM uses one AES-CTR context whose counter block is reset per packet
    (``reset_nonce``, cryptography 43 and later); with an older cryptography,
    one AES-ECB context is fed all the counter blocks of a packet at once.
    """

    __slots__ = ("aes", "ctr", "ecb", "gcm", "inner", "outer", "salt", "tag")

    def __init__(self, profile: SrtpProfile, keys: SessionKeys, tag: int) -> None:
        self.tag = tag
        self.aes = algorithms.AES(keys.cipher_key)
        self.ctr: CipherContext | None = None
        self.ecb: CipherContext | None = None
        self.gcm: AESGCM | None = None
        self.salt = int.from_bytes(keys.salt, "big")
        if profile.aead:
            self.gcm = AESGCM(keys.cipher_key)
        else:
            ctr = Cipher(self.aes, modes.CTR(bytes(16))).encryptor()
            if hasattr(ctr, "reset_nonce"):
                self.ctr = ctr
            self.salt <<= 16
        block = keys.auth_key.ljust(64, b"\x00")
        self.inner = hashlib.sha1(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha1(bytes(b ^ 0x5C for b in block))

    def crypt(self, iv: int, data: bytes) -> bytes:
        """``data`` XOR the AES-CM keystream from counter ``iv``."""
        if self.ctr is not None:
            self.ctr.reset_nonce(iv.to_bytes(16))
            return self.ctr.update(data)
        length = len(data)
        blocks = (length + 15) >> 4
        if blocks > _CTR_CACHE_BLOCKS:
            ctx = Cipher(self.aes, modes.CTR(iv.to_bytes(16))).encryptor()
            return ctx.update(data)
        if blocks >= len(_REPEAT):
            _extend_counter_layouts(blocks)
        if self.ecb is None:
            self.ecb = Cipher(self.aes, modes.ECB()).encryptor()
        stream = self.ecb.update((iv * _REPEAT[blocks] + _STEPS[blocks]).to_bytes(blocks << 4))
        mask = int.from_bytes(stream) >> (((blocks << 4) - length) << 3)
        return (int.from_bytes(data) ^ mask).to_bytes(length)

    def mac(self, data: bytes, trailer: bytes) -> bytes:
        """The truncated HMAC-SHA1 of ``data`` followed by ``trailer``."""
        inner = self.inner.copy()
        inner.update(data)
        inner.update(trailer)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()[: self.tag]


class _Received:
    """Replay state of one received SSRC: highest index and a bit per recent index."""

    __slots__ = ("mask", "top")

    def __init__(self, top: int) -> None:
        self.top = top
        self.mask = 1


def _rtp_header_length(packet: bytes, end: int) -> int:
    """Length of the RTP header with CSRCs and extension, or -1 if it overruns ``end``."""
    length = 12 + ((packet[0] & 0x0F) << 2)
    if packet[0] & 0x10:
        if length + 4 > end:
            return -1
        length += 4 + (((packet[length + 2] << 8) | packet[length + 3]) << 2)
    return length if length <= end else -1


class SrtpTransform:
    """SRTP/SRTCP protection of one RTP session, both directions.

    ``profile`` is an :class:`SrtpProfile`, an SDES suite name or a DTLS-SRTP
    profile id.  ``local_key`` protects what we send and ``remote_key``
    unprotects what we receive; each is the master key followed by the master
    salt (the SDES ``inline:`` value decoded).  ``mki`` is sent in every
    packet we protect; ``remote_mki`` must be in every packet we receive (both
    empty: no MKI).  ``replay_window`` is the number of indexes below the
    highest one received that are still accepted once each.  With
    ``encrypt_rtcp`` false, SRTCP is sent authenticated only (E-bit clear);
    received SRTCP follows its own E-bit either way.
    """

    __slots__ = (
        "_aead", "_mki", "_mki_length", "_remote_mki", "_rtcp_rx", "_rtcp_rx_keys",
        "_rtcp_tx", "_rtcp_tx_keys", "_rtp_rx", "_rtp_rx_keys", "_rtp_tx", "_rtp_tx_keys",
        "_window", "_window_mask", "dropped", "encrypt_rtcp", "profile",
    )  # fmt: skip

    def __init__(
        self,
        profile: SrtpProfile | str | int,
        local_key: bytes,
        remote_key: bytes,
        *,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
        mki: bytes = b"",
        remote_mki: bytes = b"",
        encrypt_rtcp: bool = True,
    ) -> None:
        found = get_profile(profile)
        for key in (local_key, remote_key):
            if len(key) != found.master_length:
                raise LocalProtocolError(
                    f"{found.name} takes {found.master_length} bytes of master key and salt"
                )
        k = found.key_length
        local = derive_session_keys(found, local_key[:k], local_key[k:])
        remote = derive_session_keys(found, remote_key[:k], remote_key[k:])
        self._setup(
            found,
            local,
            remote,
            replay_window=replay_window,
            mki=mki,
            remote_mki=remote_mki,
            encrypt_rtcp=encrypt_rtcp,
        )

    @classmethod
    def from_session_keys(
        cls,
        profile: SrtpProfile | str | int,
        local: tuple[SessionKeys, SessionKeys],
        remote: tuple[SessionKeys, SessionKeys],
        *,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
        mki: bytes = b"",
        remote_mki: bytes = b"",
        encrypt_rtcp: bool = True,
    ) -> SrtpTransform:
        """The transform with session keys given directly instead of derived.

        ``local`` and ``remote`` are ``(SRTP keys, SRTCP keys)``, e.g. from
        :func:`~sansip.rtp.srtp_keys.derive_session_keys`; test vectors such as
        RFC 7714's start here.
        """
        found = get_profile(profile)
        for keys in (*local, *remote):
            if len(keys.cipher_key) != found.key_length or len(keys.salt) != found.salt_length:
                raise LocalProtocolError(f"session keys of the wrong size for {found.name}")
        transform = cls.__new__(cls)
        transform._setup(
            found,
            local,
            remote,
            replay_window=replay_window,
            mki=mki,
            remote_mki=remote_mki,
            encrypt_rtcp=encrypt_rtcp,
        )
        return transform

    def _setup(
        self,
        found: SrtpProfile,
        local: tuple[SessionKeys, SessionKeys],
        remote: tuple[SessionKeys, SessionKeys],
        *,
        replay_window: int,
        mki: bytes,
        remote_mki: bytes,
        encrypt_rtcp: bool,
    ) -> None:
        if not 1 <= replay_window <= MAX_REPLAY_WINDOW:
            raise LocalProtocolError(f"the replay window holds 1 to {MAX_REPLAY_WINDOW} packets")
        self.profile = found
        self._rtp_tx_keys = _Keys(found, local[0], found.rtp_tag_length)
        self._rtcp_tx_keys = _Keys(found, local[1], found.rtcp_tag_length)
        self._rtp_rx_keys = _Keys(found, remote[0], found.rtp_tag_length)
        self._rtcp_rx_keys = _Keys(found, remote[1], found.rtcp_tag_length)
        self._aead = found.aead
        self._mki = bytes(mki)
        self._remote_mki = bytes(remote_mki)
        self._mki_length = len(remote_mki)
        self._window = replay_window
        self._window_mask = (1 << replay_window) - 1
        self.encrypt_rtcp = encrypt_rtcp
        self._rtp_tx: dict[int, int] = {}  # SSRC -> highest index sent
        self._rtcp_tx: dict[int, int] = {}  # SSRC -> next SRTCP index
        self._rtp_rx: dict[int, _Received] = {}
        self._rtcp_rx: dict[int, _Received] = {}
        #: Packets dropped by ``unprotect_*``, by reason (see :data:`DROP_REASONS`).
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)

    @classmethod
    def from_dtls(
        cls,
        profile: SrtpProfile | str | int,
        keying_material: bytes,
        *,
        client: bool,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
    ) -> SrtpTransform:
        """The transform keyed by DTLS-SRTP exporter output (RFC 5764 §4.2).

        ``client`` tells which end of the DTLS association we are.
        """
        found = get_profile(profile)
        local, remote = split_dtls_keying_material(found, keying_material, client=client)
        return cls(found, local, remote, replay_window=replay_window)

    @property
    def dropped_total(self) -> int:
        """All packets dropped by ``unprotect_*``."""
        return sum(self.dropped.values())

    def rollover_counter(self, ssrc: int, *, sent: bool = True) -> int | None:
        """The rollover counter of SSRC ``ssrc`` (sent or received), None if unknown."""
        if sent:
            top = self._rtp_tx.get(ssrc)
            return None if top is None else top >> 16
        received = self._rtp_rx.get(ssrc)
        return None if received is None else received.top >> 16

    def _drop(self, error: SrtpError) -> SrtpError:
        self.dropped[error.kind] += 1
        return error

    # ------------------------------------------------------------------ SRTP

    def protect_rtp(self, packet: bytes) -> bytes:
        """The SRTP packet for plain RTP ``packet``.

        The packet index is the sequence number with the rollover counter the
        stream's sequence so far implies.  A sequence number sent again gets
        the same index, hence the same keystream: only ever send one again
        with the same payload (RtpSession never does).

        Raises :class:`~sansip.errors.LocalProtocolError` if ``packet`` is not RTP.
        """
        size = len(packet)
        if size < 12 or packet[0] & 0xC0 != 0x80:
            raise LocalProtocolError("not an RTP packet")
        header = 12 if packet[0] == 0x80 else _rtp_header_length(packet, size)
        if header < 0:
            raise LocalProtocolError("RTP header longer than the packet")
        seq, ssrc = _seq_ssrc(packet)
        top = self._rtp_tx.get(ssrc)
        if top is None:
            index = seq
            self._rtp_tx[ssrc] = seq
        elif seq == (top + 1) & 0xFFFF:  # the usual case: the next packet
            index = top + 1
            if index > _MAX_SRTP_INDEX:
                raise LocalProtocolError("SRTP index exhausted: the stream must be rekeyed")
            self._rtp_tx[ssrc] = index
        else:
            last = top & 0xFFFF
            roc = top >> 16
            if last < 0x8000:
                if seq - last > 0x8000 and roc:
                    roc -= 1
            elif last - 0x8000 > seq:
                roc += 1
            index = (roc << 16) | seq
            if index > top:
                if index > _MAX_SRTP_INDEX:
                    raise LocalProtocolError("SRTP index exhausted: the stream must be rekeyed")
                self._rtp_tx[ssrc] = index
        keys = self._rtp_tx_keys
        head = packet[:header]
        if self._aead:
            assert keys.gcm is not None
            nonce = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12)
            return head + keys.gcm.encrypt(nonce, packet[header:], head) + self._mki
        body = packet[header:]
        if body:  # keys.crypt() and keys.mac(), inlined on this path
            iv = keys.salt ^ (ssrc << 64) ^ (index << 16)
            ctr = keys.ctr
            if ctr is not None:
                ctr.reset_nonce(iv.to_bytes(16))
                body = ctr.update(body)
            else:
                body = keys.crypt(iv, body)
        out = head + body
        inner = keys.inner.copy()
        inner.update(out)
        inner.update((index >> 16).to_bytes(4))
        outer = keys.outer.copy()
        outer.update(inner.digest())
        return out + self._mki + outer.digest()[: keys.tag]

    def unprotect_rtp(self, packet: bytes) -> bytes:
        """The plain RTP packet inside SRTP ``packet``; raises :class:`SrtpError` to drop it."""
        keys = self._rtp_rx_keys
        size = len(packet)
        mki = self._mki_length
        tag = keys.tag
        if size < 12 + tag + mki or packet[0] & 0xC0 != 0x80:
            raise self._drop(SrtpMalformedError("SRTP packet too short or not version 2"))
        end = size - mki if self._aead else size - tag - mki
        header = 12 if packet[0] == 0x80 else _rtp_header_length(packet, end)
        if header < 0:
            raise self._drop(SrtpMalformedError("RTP header longer than the SRTP packet"))
        if mki and packet[end : end + mki] != self._remote_mki:
            raise self._drop(SrtpMkiError("unknown SRTP MKI"))
        seq, ssrc = _seq_ssrc(packet)
        stream = self._rtp_rx.get(ssrc)
        if stream is None:
            index = seq
        elif seq == (stream.top + 1) & 0xFFFF:  # the usual case: the next packet
            index = stream.top + 1
        else:
            top = stream.top
            last = top & 0xFFFF
            roc = top >> 16
            if last < 0x8000:
                if seq - last > 0x8000 and roc:
                    roc -= 1
            elif last - 0x8000 > seq:
                roc += 1
            index = (roc << 16) | seq
            if index <= top:
                delta = top - index
                if delta >= self._window:
                    raise self._drop(SrtpReplayError("SRTP packet older than the replay window"))
                if (stream.mask >> delta) & 1:
                    raise self._drop(SrtpReplayError("SRTP packet replayed"))
        head = packet[:header]
        if self._aead:
            assert keys.gcm is not None
            nonce = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12)
            try:
                body = keys.gcm.decrypt(nonce, packet[header:end], head)
            except InvalidTag:
                raise self._drop(SrtpAuthenticationError("SRTP authentication failed")) from None
        else:
            inner = keys.inner.copy()  # keys.mac() and keys.crypt(), inlined on this path
            inner.update(packet[:end])
            inner.update((index >> 16).to_bytes(4))
            outer = keys.outer.copy()
            outer.update(inner.digest())
            if not compare_digest(outer.digest()[:tag], packet[-tag:]):
                raise self._drop(SrtpAuthenticationError("SRTP authentication failed"))
            body = packet[header:end]
            if body:
                iv = keys.salt ^ (ssrc << 64) ^ (index << 16)
                ctr = keys.ctr
                if ctr is not None:
                    ctr.reset_nonce(iv.to_bytes(16))
                    body = ctr.update(body)
                else:
                    body = keys.crypt(iv, body)
        if stream is None:
            self._rtp_rx[ssrc] = _Received(index)
        elif index > stream.top:
            shift = index - stream.top
            stream.mask = (
                ((stream.mask << shift) | 1) & self._window_mask if shift < self._window else 1
            )
            stream.top = index
        else:
            stream.mask |= 1 << (stream.top - index)
        return head + body

    # ----------------------------------------------------------------- SRTCP

    def protect_rtcp(self, packet: bytes) -> bytes:
        """The SRTCP packet for plain compound RTCP ``packet``.

        Raises :class:`~sansip.errors.LocalProtocolError` if ``packet`` is not
        RTCP or the stream's SRTCP index is exhausted (2^31 packets).
        """
        if len(packet) < 8 or packet[0] & 0xC0 != 0x80:
            raise LocalProtocolError("not an RTCP packet")
        ssrc = int.from_bytes(packet[4:8])
        index = self._rtcp_tx.get(ssrc, 0)
        if index > _MAX_SRTCP_INDEX:
            raise LocalProtocolError("SRTCP index exhausted: the stream must be rekeyed")
        self._rtcp_tx[ssrc] = index + 1
        keys = self._rtcp_tx_keys
        encrypt = self.encrypt_rtcp
        trailer = ((_E_BIT if encrypt else 0) | index).to_bytes(4)
        if self._aead:
            assert keys.gcm is not None
            nonce = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12)
            if encrypt:
                head = packet[:8]
                sealed = keys.gcm.encrypt(nonce, packet[8:], head + trailer)
                return head + sealed + trailer + self._mki
            tag = keys.gcm.encrypt(nonce, b"", packet + trailer)
            return packet + tag + trailer + self._mki
        if encrypt:
            body = keys.crypt(keys.salt ^ (ssrc << 64) ^ (index << 16), packet[8:])
            packet = packet[:8] + body
        out = packet + trailer
        return out + self._mki + keys.mac(out, b"")

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """The plain compound RTCP inside SRTCP ``packet``; raises :class:`SrtpError` to drop it."""
        keys = self._rtcp_rx_keys
        size = len(packet)
        mki = self._mki_length
        tag = keys.tag
        if size < 12 + tag + mki or packet[0] & 0xC0 != 0x80:
            raise self._drop(SrtpMalformedError("SRTCP packet too short or not version 2"))
        end = size - mki if self._aead else size - tag - mki  # just after E-bit and index
        if mki and packet[end : end + mki] != self._remote_mki:
            raise self._drop(SrtpMkiError("unknown SRTCP MKI"))
        word = int.from_bytes(packet[end - 4 : end])
        index = word & _MAX_SRTCP_INDEX
        ssrc = int.from_bytes(packet[4:8])
        stream = self._rtcp_rx.get(ssrc)
        if stream is not None and index <= stream.top:
            delta = stream.top - index
            if delta >= self._window:
                raise self._drop(SrtpReplayError("SRTCP packet older than the replay window"))
            if (stream.mask >> delta) & 1:
                raise self._drop(SrtpReplayError("SRTCP packet replayed"))
        trailer = packet[end - 4 : end]
        if self._aead:
            assert keys.gcm is not None
            nonce = (keys.salt ^ (ssrc << 48) ^ index).to_bytes(12)
            try:
                if word & _E_BIT:
                    head = packet[:8]
                    plain = head + keys.gcm.decrypt(nonce, packet[8 : end - 4], head + trailer)
                else:
                    plain = packet[: end - 20]
                    keys.gcm.decrypt(nonce, packet[end - 20 : end - 4], plain + trailer)
            except InvalidTag:
                raise self._drop(SrtpAuthenticationError("SRTCP authentication failed")) from None
        else:
            if not compare_digest(keys.mac(packet[:end], b""), packet[-tag:]):
                raise self._drop(SrtpAuthenticationError("SRTCP authentication failed"))
            plain = packet[: end - 4]
            if word & _E_BIT:
                body = keys.crypt(keys.salt ^ (ssrc << 64) ^ (index << 16), plain[8:])
                plain = plain[:8] + body
        if stream is None:
            self._rtcp_rx[ssrc] = _Received(index)
        elif index > stream.top:
            shift = index - stream.top
            stream.mask = (
                ((stream.mask << shift) | 1) & self._window_mask if shift < self._window else 1
            )
            stream.top = index
        else:
            stream.mask |= 1 << (stream.top - index)
        return plain
