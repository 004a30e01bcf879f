"""Encrypted calls through the public phone API: ``mediaencryption`` asks
for SRTP keyed by SDES (RFC 4568).  A call that requires it carries its
audio encrypted both ways; one that meets plain RTP ends with ``srtp fail``
and never falls back silently.  A ``sips:`` target needs TLS."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.errors import LocalProtocolError
from sansip.media.security import SplitTransform
from sansip.phone.aio import AsyncPhone
from sansip.phone.audio import AudioPlan
from sansip.phone.siplog import SENT
from sansip.rtp.srtp import SrtpTransform


def _target(phone: AsyncPhone, user: str = "bob") -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


def _transform(phone: AsyncPhone) -> object:
    [call] = phone.core.calls
    assert call.media is not None and call.media.stream is not None
    return call.media.stream.rtp.transform


@pytest.mark.timeout(60)
def test_an_srtp_call_carries_the_tone_encrypted(tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"

    async def run() -> tuple[str, int, int, dict[str, object], object, object]:
        async with (
            AsyncPhone(username="bob", autoaccept=1, mediaencryption=1,
                       audio=AudioPlan(record=str(heard))) as bob,
            AsyncPhone(username="alice", codec="pcmu", mediaencryption=2,
                       audio=AudioPlan(tone=900.0)) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            await asyncio.sleep(1.5)
            level, before = alice.isencrypted(), bob.isencrypted()
            theirs, ours = _transform(bob), _transform(alice)
            invite = alice.getlastsentinvite()
            call.hangup()
            await call.ended(timeout=10)
            return invite, level, before, call.stats(), theirs, ours

    invite, level, bob_level, stats, bob_srtp, alice_srtp = asyncio.run(run())
    assert "m=audio" in invite and "RTP/SAVP" in invite and "a=crypto:1 " in invite
    assert level == bob_level == 1  # SRTP media, UDP signalling: partly
    assert isinstance(bob_srtp, SrtpTransform) and isinstance(alice_srtp, SrtpTransform)
    assert bob_srtp.dropped_total == alice_srtp.dropped_total == 0
    assert int(stats["sent"]) > 40 and stats["rejected"] == 0  # type: ignore[call-overload]
    assert stats["srtp"] == "AES_CM_128_HMAC_SHA1_80"
    with wave.open(str(heard)) as recording:
        rate = recording.getframerate()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    assert dominant_frequency(samples[rate // 2 :], rate) == pytest.approx(900, abs=10)


@pytest.mark.timeout(60)
def test_an_optional_caller_and_a_plain_callee_talk_in_plain_rtp() -> None:
    async def run() -> tuple[int, object]:
        async with (
            AsyncPhone(username="bob", autoaccept=1, mediaencryption=0) as bob,
            AsyncPhone(username="alice", mediaencryption=1) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            level, transform = alice.isencrypted(), _transform(alice)
            call.hangup()
            await call.ended(timeout=10)
            return level, transform

    assert asyncio.run(run()) == (0, None)


@pytest.mark.timeout(60)
def test_a_callee_that_requires_srtp_refuses_a_plain_call_with_srtp_fail() -> None:
    async def run() -> tuple[str, str, list[str]]:
        async with (
            AsyncPhone(username="bob", autoaccept=1, mediaencryption=2) as bob,
            AsyncPhone(username="alice", mediaencryption=0) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            record = await call.ended(timeout=10)
            await asyncio.sleep(0.2)
            sent = [e.first_line for e in bob.sipmessages() if e.direction == SENT]
            return record.reason, bob.core.history[-1].reason, sent

    ours, theirs, sent = asyncio.run(run())
    assert ours.startswith("488") and theirs == "488 srtp fail"
    assert sent == ["SIP/2.0 488 Not Acceptable Here"]  # refused before ringing


@pytest.mark.timeout(60)
def test_a_caller_that_requires_srtp_is_refused_by_a_plain_callee() -> None:
    async def run() -> str:
        async with (
            AsyncPhone(username="bob", autoaccept=1, mediaencryption=0) as bob,
            AsyncPhone(username="alice", mediaencryption=2) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            return (await call.ended(timeout=10)).reason

    assert asyncio.run(run()).startswith("488")


@pytest.mark.timeout(30)
def test_a_sips_target_needs_tls() -> None:
    """RFC 3261 §26.2.2: a sips: URI is called over TLS or not at all."""

    async def run() -> None:
        async with AsyncPhone(username="alice", signalingonly=1) as alice:
            with pytest.raises(LocalProtocolError, match="transport=tls"):
                await alice.call("sips:bob@127.0.0.1:5999")

    asyncio.run(run())


@pytest.mark.timeout(60)
def test_a_dtls_srtp_call_carries_the_tone(tmp_path: Path) -> None:
    """``mediaencryption=3``: UDP/TLS/RTP/SAVP with each phone's certificate
    fingerprint; the keys come from the DTLS handshake on the RTP port."""
    heard = tmp_path / "heard.wav"

    async def run() -> tuple[str, int, dict[str, object], object]:
        async with (
            AsyncPhone(username="bob", autoaccept=1, mediaencryption=3,
                       audio=AudioPlan(record=str(heard))) as bob,
            AsyncPhone(username="alice", codec="pcmu", mediaencryption=3,
                       audio=AudioPlan(tone=700.0)) as alice,
        ):  # fmt: skip
            call = await alice.call(_target(bob))
            await call.connected(timeout=5)
            await asyncio.sleep(1.5)
            level, transform = alice.isencrypted(), _transform(bob)
            invite = alice.getlastsentinvite()
            call.hangup()
            await call.ended(timeout=10)
            return invite, level, call.stats(), transform

    invite, level, stats, transform = asyncio.run(run())
    assert "UDP/TLS/RTP/SAVP" in invite and "a=fingerprint:sha-256 " in invite
    assert "a=setup:actpass" in invite and "a=crypto" not in invite
    assert level == 1 and isinstance(transform, SplitTransform)  # RTCP's own association too
    assert stats["srtp"] == "AES_CM_128_HMAC_SHA1_80"  # the first DTLS-SRTP profile
    assert int(stats["received"]) > 40 and stats["rejected"] == 0  # type: ignore[call-overload]
    with wave.open(str(heard)) as recording:
        rate = recording.getframerate()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    assert dominant_frequency(samples[rate // 2 :], rate) == pytest.approx(700, abs=10)
