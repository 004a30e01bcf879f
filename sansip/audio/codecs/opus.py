"""Opus (RFC 6716, RTP per RFC 7587) through libopus, reached with pyogg's ctypes bindings.

The RTP clock is always 48 kHz; the PCM may run at 8, 12, 16, 24 or 48 kHz
(libopus resamples internally), so a 16 kHz pipeline uses Opus directly.
The audio path is mono: ``stereo=1`` from the peer is accepted and ignored.

The SDP ``a=fmtp`` parameters understood by the encoder: ``useinbandfec``,
``maxaveragebitrate``, ``maxplaybackrate``, ``usedtx``, ``cbr`` (and
``stereo``, ignored).  A value that is not an integer is ignored, since it
comes from the peer.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sansip.audio.codecs.base import Decoder, Encoder, as_pcm_frame, check_ptime
from sansip.errors import LocalProtocolError

__all__ = ["OPUS_SAMPLE_RATES", "OpusDecoder", "OpusEncoder", "opus_unavailable_reason"]

OPUS_SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)
_MAX_PACKET = 1500
_MAX_FRAME_MS = 120
_APPLICATION_VOIP = 2048
_OK = 0


@cache
def _bindings() -> tuple[Any, str | None]:
    """pyogg's opus module, or None and the reason it cannot be used."""
    try:
        import pyogg.opus as bindings  # type: ignore[import-untyped]  # noqa: PLC0415
    except Exception as error:  # pyogg raises assorted errors when a library is missing
        return None, f"pyogg cannot be imported: {error}"
    if not getattr(bindings, "PYOGG_OPUS_AVAIL", False) or not hasattr(
        bindings, "opus_encoder_create"
    ):
        return None, (
            "pyogg (which loads libopus at run time) did not find libopus: "
            "install it (Debian/Ubuntu package libopus0)"
        )
    return bindings, None


def opus_unavailable_reason() -> str | None:
    """Why Opus cannot be used here, or None when it can."""
    return _bindings()[1]


def _library() -> Any:
    bindings, reason = _bindings()
    if bindings is None:
        raise LocalProtocolError(f"Opus is unavailable: {reason}")
    return bindings


def _check_rate(sample_rate: int) -> int:
    if sample_rate not in OPUS_SAMPLE_RATES:
        raise LocalProtocolError(f"Opus PCM runs at one of {OPUS_SAMPLE_RATES}, not {sample_rate}")
    return sample_rate


def _error_text(lib: Any, code: int) -> str:
    text = lib.opus_strerror(code)
    return text.decode() if isinstance(text, bytes) else str(text)


def _fmtp_int(fmtp: dict[str, str], key: str) -> int | None:
    for name, value in fmtp.items():
        if name.strip().lower() == key:
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def _max_bandwidth(lib: Any, playback_rate: int) -> int:
    for limit, bandwidth in (
        (8000, lib.OPUS_BANDWIDTH_NARROWBAND),
        (12000, lib.OPUS_BANDWIDTH_MEDIUMBAND),
        (16000, lib.OPUS_BANDWIDTH_WIDEBAND),
        (24000, lib.OPUS_BANDWIDTH_SUPERWIDEBAND),
    ):
        if playback_rate <= limit:
            return int(bandwidth)
    return int(lib.OPUS_BANDWIDTH_FULLBAND)


class OpusEncoder(Encoder):
    """Opus encoder (application VOIP, mono) configured from SDP fmtp parameters.

    ``packet_loss_perc`` is the loss the in-band FEC is tuned for when the
    peer asked for it with ``useinbandfec=1``.  With ``usedtx=1`` a payload
    of one or two bytes means silence and need not be sent.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 48000,
        ptime: int = 20,
        fmtp: dict[str, str] | None = None,
        packet_loss_perc: int = 10,
        complexity: int | None = None,
    ) -> None:
        self.name = "opus"
        self.sample_rate = _check_rate(sample_rate)
        self.clock_rate = 48000
        self.channels = 1
        self.ptime = check_ptime(ptime)
        self._lib = _library()
        self._settings: list[tuple[int, int]] = self._fmtp_settings(
            fmtp or {}, packet_loss_perc, complexity
        )
        self._state: Any = None
        self._output = (ctypes.c_ubyte * _MAX_PACKET)()
        self._output_pointer = ctypes.cast(self._output, self._lib.c_uchar_p)
        self._create()

    def _fmtp_settings(
        self, fmtp: dict[str, str], packet_loss_perc: int, complexity: int | None
    ) -> list[tuple[int, int]]:
        lib = self._lib
        settings = [(lib.OPUS_SET_SIGNAL_REQUEST, lib.OPUS_SIGNAL_VOICE)]
        if _fmtp_int(fmtp, "useinbandfec") == 1:
            settings.append((lib.OPUS_SET_INBAND_FEC_REQUEST, 1))
            settings.append((lib.OPUS_SET_PACKET_LOSS_PERC_REQUEST, packet_loss_perc))
        bitrate = _fmtp_int(fmtp, "maxaveragebitrate")
        if bitrate is not None and bitrate > 0:
            settings.append((lib.OPUS_SET_BITRATE_REQUEST, min(max(bitrate, 6000), 510000)))
        playback = _fmtp_int(fmtp, "maxplaybackrate")
        if playback is not None and playback > 0:
            settings.append((lib.OPUS_SET_MAX_BANDWIDTH_REQUEST, _max_bandwidth(lib, playback)))
        if _fmtp_int(fmtp, "usedtx") == 1:
            settings.append((lib.OPUS_SET_DTX_REQUEST, 1))
        if _fmtp_int(fmtp, "cbr") == 1:
            settings.append((lib.OPUS_SET_VBR_REQUEST, 0))
        if complexity is not None:
            settings.append((lib.OPUS_SET_COMPLEXITY_REQUEST, complexity))
        return settings

    def _create(self) -> None:
        lib = self._lib
        error = ctypes.c_int(0)
        state = lib.opus_encoder_create(self.sample_rate, 1, _APPLICATION_VOIP, ctypes.byref(error))
        if error.value != _OK or not state:
            raise LocalProtocolError(f"opus_encoder_create failed: {_error_text(lib, error.value)}")
        self._state = state
        for request, value in self._settings:
            result = lib.opus_encoder_ctl(state, request, ctypes.c_int32(value))
            if result != _OK:
                raise LocalProtocolError(
                    f"opus_encoder_ctl({request}, {value}) failed: {_error_text(lib, result)}"
                )

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        """One Opus packet for a frame of 2.5, 5, 10, 20, 40 or 60 ms."""
        frame = as_pcm_frame(pcm)
        lib = self._lib
        length = lib.opus_encode(
            self._state,
            frame.ctypes.data_as(lib.opus_int16_p),
            len(frame),
            self._output_pointer,
            _MAX_PACKET,
        )
        if length < 0:
            raise LocalProtocolError(
                f"opus_encode of {len(frame)} samples failed: {_error_text(lib, length)}"
            )
        return ctypes.string_at(self._output, length)

    def reset(self) -> None:
        """Back to a freshly configured encoder."""
        self._lib.opus_encoder_ctl(self._state, self._lib.OPUS_RESET_STATE)

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.opus_encoder_destroy(state)


class OpusDecoder(Decoder):
    """Opus decoder with libopus's own concealment and in-band FEC recovery.

    A payload libopus rejects is counted in ``bad_payloads`` and replaced by a
    concealed frame of ``frame_samples``; it never raises.
    """

    def __init__(self, *, sample_rate: int = 48000, ptime: int = 20) -> None:
        self.name = "opus"
        self.sample_rate = _check_rate(sample_rate)
        self.clock_rate = 48000
        self.channels = 1
        self.ptime = check_ptime(ptime)
        self.bad_payloads = 0
        self.concealed_frames = 0
        self._lib = _library()
        self._max_samples = self.sample_rate * _MAX_FRAME_MS // 1000
        self._pcm = np.zeros(self._max_samples, dtype=np.int16)
        self._pcm_pointer = self._pcm.ctypes.data_as(self._lib.opus_int16_p)
        self._state: Any = None
        error = ctypes.c_int(0)
        state = self._lib.opus_decoder_create(self.sample_rate, 1, ctypes.byref(error))
        if error.value != _OK or not state:
            raise LocalProtocolError(
                f"opus_decoder_create failed: {_error_text(self._lib, error.value)}"
            )
        self._state = state

    def _run(self, payload: bytes | None, samples: int, fec: int) -> int:
        lib = self._lib
        if payload:
            data = ctypes.cast(ctypes.c_char_p(payload), lib.c_uchar_p)
            length = len(payload)
        else:
            data, length = None, 0
        return int(lib.opus_decode(self._state, data, length, self._pcm_pointer, samples, fec))

    def _check_samples(self, samples: int) -> int:
        if not 0 < samples <= self._max_samples:
            raise LocalProtocolError(f"cannot conceal {samples} samples of Opus")
        # libopus conceals whole 2.5 ms steps: round up and trim afterwards
        step = self.sample_rate // 400
        return -(-samples // step) * step

    def decode(self, payload: bytes) -> NDArray[np.int16]:
        """The PCM of one packet; a bad or empty packet gives a concealed frame."""
        decoded = self._run(payload, self._max_samples, 0) if payload else -1
        if decoded < 0:
            self.bad_payloads += 1
            return self.conceal(self.frame_samples)
        return self._pcm[:decoded].copy()

    def conceal(self, samples: int) -> NDArray[np.int16]:
        """libopus's packet-loss concealment for ``samples`` missing samples."""
        self.concealed_frames += 1
        wanted = self._check_samples(samples)
        decoded = self._run(None, wanted, 0)
        if decoded < 0:
            return np.zeros(samples, dtype=np.int16)
        return self._pcm[:samples].copy()

    def decode_fec(self, next_payload: bytes, samples: int | None = None) -> NDArray[np.int16]:
        """The lost frame before ``next_payload``, rebuilt from the FEC data inside it.

        ``samples`` is the duration of the lost frame (``frame_samples`` by
        default).  Without usable FEC data this is plain concealment.  Decode
        ``next_payload`` normally afterwards.
        """
        wanted = self._check_samples(self.frame_samples if samples is None else samples)
        self.concealed_frames += 1
        decoded = self._run(next_payload, wanted, 1) if next_payload else -1
        if decoded < 0:  # counted when ``next_payload`` itself is decoded
            decoded = self._run(None, wanted, 0)
            if decoded < 0:
                return np.zeros(wanted, dtype=np.int16)
        return self._pcm[: (self.frame_samples if samples is None else samples)].copy()

    def reset(self) -> None:
        """Forget the decoder state and the counters."""
        self._lib.opus_decoder_ctl(self._state, self._lib.OPUS_RESET_STATE)
        self.bad_payloads = 0
        self.concealed_frames = 0

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.opus_decoder_destroy(state)
