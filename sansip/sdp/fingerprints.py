"""DTLS-SRTP in SDP (RFC 5763, RFC 8122), sans-IO: who starts the DTLS
handshake and which certificate the peer must show.

The offerer writes ``a=setup:actpass`` and its certificate's
``a=fingerprint``; the answerer picks ``active`` (it will be the DTLS
client; ``passive`` when the offer said ``active``) and writes its own
fingerprint.  Either side may give the fingerprint at session level.

    >>> from sansip.sdp.attributes import Setup
    >>> answer_setup(Setup.ACTPASS), answer_setup(Setup.ACTIVE)
    (<Setup.ACTIVE: 'active'>, <Setup.PASSIVE: 'passive'>)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sansip.sdp.attributes import Fingerprint, Setup, bad_sdp
from sansip.sdp.model import MediaDescription, SessionDescription

__all__ = ["DTLS_PROTOS", "DtlsAgreement", "answer_setup", "dtls_agreement", "fingerprint_of"]

#: The m-line protocols of DTLS-SRTP (RFC 5764 §8, RFC 5763).
DTLS_PROTOS: Final = ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")


@dataclass(frozen=True, slots=True)
class DtlsAgreement:
    """What an offer/answer agreed for DTLS-SRTP on one stream: whether we
    are the DTLS client (we send the ClientHello) and the fingerprint the
    peer's certificate must have."""

    client: bool
    remote_fingerprint: Fingerprint


def answer_setup(offered: Setup | None) -> Setup:
    """Our ``a=setup`` in an answer (RFC 5763 §5: the answerer is active
    unless the offerer insists on being active)."""
    return Setup.PASSIVE if offered is Setup.ACTIVE else Setup.ACTIVE


def fingerprint_of(sdp: SessionDescription, media: MediaDescription) -> Fingerprint | None:
    """The fingerprint that applies to ``media`` (its own, else the session's)."""
    return media.fingerprint or sdp.fingerprint


def dtls_agreement(
    local_sdp: SessionDescription,
    local: MediaDescription,
    remote_sdp: SessionDescription,
    remote: MediaDescription,
) -> DtlsAgreement | None:
    """The DTLS roles of a pair of m-lines, ours and the peer's; None when
    either side gave no fingerprint.  Roles that cannot both hold (both
    active, both passive, ``holdconn``) are a 488-worthy 400."""
    ours = fingerprint_of(local_sdp, local)
    theirs = fingerprint_of(remote_sdp, remote)
    if ours is None or theirs is None:
        return None
    mine = local.setup or local_sdp.setup or Setup.ACTPASS
    peer = remote.setup or remote_sdp.setup
    if mine is Setup.ACTPASS:  # we offered: the answer decides (absent: it is active)
        if peer is Setup.ACTPASS:
            raise bad_sdp("a=setup:actpass in an answer")
        client = peer is Setup.PASSIVE
    else:
        client = mine is Setup.ACTIVE
    if Setup.HOLDCONN in (mine, peer) or (peer is not None and peer is mine):
        raise bad_sdp(f"DTLS roles a=setup:{mine.value} and a=setup:{peer.value if peer else '-'}")
    return DtlsAgreement(client, theirs)
