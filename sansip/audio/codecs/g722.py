"""G.722 sub-band ADPCM at 64 kbit/s (ITU-T G.722), in pure Python.

Each pair of 16 kHz samples becomes one byte: a quadrature mirror filter
splits the pair into a lower and a higher sub-band sample (8 kHz each); the
lower band is coded with 6-bit ADPCM, the higher with 2-bit ADPCM; the byte is
``higher << 6 | lower``.  Both bands share the adaptive predictor of the
standard (block 4: two poles, six zeros, sign-sign adaptation) and a
logarithmic step-size adaptation (blocks 3L/3H).

The ADPCM loop is sequential (every sample feeds the next prediction), so it
runs per sample over plain ints with precomputed tables; the QMF, which only
looks at known input, is computed for a whole frame at once with numpy.
RTP carries G.722 with an 8 kHz timestamp clock (RFC 3551 section 4.5.2).
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np
from numpy.typing import NDArray

from sansip.audio.codecs.base import Encoder, as_pcm_frame, check_ptime
from sansip.audio.codecs.concealment import ConcealingDecoder
from sansip.errors import LocalProtocolError

__all__ = ["G722Decoder", "G722Encoder"]

# --- standard tables ---------------------------------------------------------------------

# QMF coefficients (every other tap of the 24-tap symmetric filter).
_QMF = np.array([3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11], dtype=np.int64)
_QMF_REVERSED = _QMF[::-1].copy()

# Lower band: 6-bit quantizer decision levels and the codes of each interval.
_Q6 = (0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786,
       858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919)  # fmt: skip
_ILN = (0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14,
        13, 12, 11, 10, 9, 8, 7, 6, 5, 4)  # fmt: skip
_ILP = (0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42,
        41, 40, 39, 38, 37, 36, 35, 34, 33, 32)  # fmt: skip
# Lower band inverse quantizers: 4-bit (for prediction) and 6-bit (for output).
_QM4 = (0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
        20456, 12896, 8968, 6288, 4240, 2584, 1200, 0)  # fmt: skip
_QM6 = (-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280,
        -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464,
        -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904,
        19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576,
        6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728,
        432, 136, -432, -136)  # fmt: skip
# Lower band log-step increments, by 4-bit magnitude code.
_RL42 = (0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0)
_WL = (-60, -30, 58, 172, 334, 538, 1198, 3042)
# Higher band: inverse quantizer, codes and log-step increments.
_QM2 = (-7408, -1616, 7408, 1616)
_IHN = (0, 1, 0)
_IHP = (0, 3, 2)
_RH2 = (2, 1, 2, 1)
_WH = (0, -214, 798)
# Inverse log2 of the step size, 32 steps per octave.
_ILB = (2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656,
        2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520,
        3597, 3676, 3756, 3838, 3922, 4008)  # fmt: skip

_LOW_NB_MAX = 18432
_HIGH_NB_MAX = 22528


def _step_sizes(octave_shift: int, nb_max: int) -> list[int]:
    """The step size (det) for every ``nb >> 6`` up to ``nb_max >> 6`` (blocks 3L/3H SCALE)."""
    sizes = []
    for index in range((nb_max >> 6) + 1):
        shift = octave_shift - (index >> 5)
        base = _ILB[index & 31]
        sizes.append((base >> shift if shift >= 0 else base << -shift) << 2)
    return sizes


_LOW_DET = _step_sizes(8, _LOW_NB_MAX)
_HIGH_DET = _step_sizes(10, _HIGH_NB_MAX)
# Lower-band decision levels for each step size, for bisection.
_LOW_DECISIONS = [[(q * det) >> 12 for q in _Q6[1:]] for det in _LOW_DET]
_HIGH_DECISION = [(564 * det) >> 12 for det in _HIGH_DET]
# Per 6-bit lower code: the 4-bit prediction code's inverse-quantizer value and log step.
_LOW_QM4 = [_QM4[code >> 2] for code in range(64)]
_LOW_WL = [_WL[_RL42[code >> 2]] for code in range(64)]
_HIGH_WH = [_WH[_RH2[code]] for code in range(4)]
_LOW_CODE_NEG = [_ILN[i] for i in range(1, 31)]
_LOW_CODE_POS = [_ILP[i] for i in range(1, 31)]

_INITIAL_LOW = (0, 32, 0)  # predicted value s, step size det, log step nb
_INITIAL_HIGH = (0, 8, 0)


def _initial_memory() -> list[int]:
    """Predictor memory: sz, a1, a2, 2r1, 2r2, p1<0, p2<0, b1..b6, 2d1..2d6."""
    return [0] * 19


def _predict(mem: list[int], s: int, d: int) -> int:
    """Adapt the predictor to the new difference ``d`` and return the next prediction.

    Block 4 of the standard: reconstructed signal, partially reconstructed
    signal, pole (UPPOL1/2) and zero (UPZERO) sign-sign adaptation, delays,
    and the pole and zero filters.  Doubled values are kept saturated, as the
    standard saturates them before every product.
    """
    sz, a1, a2, rr1, rr2, n1, n2, b1, b2, b3, b4, b5, b6, d1, d2, d3, d4, d5, d6 = mem
    n0 = sz + d < 0
    # UPPOL2
    wd = a1 << 2
    wd = 32767 if wd > 32767 else -32768 if wd < -32768 else wd
    if n0 == n1:
        wd = 32767 if wd == -32768 else -wd
    wd = (wd >> 7) + (128 if n0 == n2 else -128) + ((a2 * 32512) >> 15)
    a2 = 12288 if wd > 12288 else -12288 if wd < -12288 else wd
    # UPPOL1
    wd = (192 if n0 == n1 else -192) + ((a1 * 32640) >> 15)
    limit = 15360 - a2
    a1 = limit if wd > limit else -limit if wd < -limit else wd
    # UPZERO: sign-sign adaptation of the six zeros against the new difference
    if d:
        neg = d < 0
        b1 = ((b1 * 32640) >> 15) + (128 if (d1 < 0) == neg else -128)
        b2 = ((b2 * 32640) >> 15) + (128 if (d2 < 0) == neg else -128)
        b3 = ((b3 * 32640) >> 15) + (128 if (d3 < 0) == neg else -128)
        b4 = ((b4 * 32640) >> 15) + (128 if (d4 < 0) == neg else -128)
        b5 = ((b5 * 32640) >> 15) + (128 if (d5 < 0) == neg else -128)
        b6 = ((b6 * 32640) >> 15) + (128 if (d6 < 0) == neg else -128)
    else:
        b1 = (b1 * 32640) >> 15
        b2 = (b2 * 32640) >> 15
        b3 = (b3 * 32640) >> 15
        b4 = (b4 * 32640) >> 15
        b5 = (b5 * 32640) >> 15
        b6 = (b6 * 32640) >> 15
    # DELAYA and RECONS: shift in the doubled difference and reconstructed signal
    d6, d5, d4, d3, d2 = d5, d4, d3, d2, d1
    wd = d + d
    d1 = 32767 if wd > 32767 else -32768 if wd < -32768 else wd
    r = s + d
    r = 32767 if r > 32767 else -32768 if r < -32768 else r
    wd = r + r
    rr2, rr1 = rr1, 32767 if wd > 32767 else -32768 if wd < -32768 else wd
    # FILTEZ, FILTEP, PREDIC
    sz = (
        ((b1 * d1) >> 15)
        + ((b2 * d2) >> 15)
        + ((b3 * d3) >> 15)
        + ((b4 * d4) >> 15)
        + ((b5 * d5) >> 15)
        + ((b6 * d6) >> 15)
    )
    sz = 32767 if sz > 32767 else -32768 if sz < -32768 else sz
    sp = ((a1 * rr1) >> 15) + ((a2 * rr2) >> 15)
    sp = 32767 if sp > 32767 else -32768 if sp < -32768 else sp
    s = sp + sz
    s = 32767 if s > 32767 else -32768 if s < -32768 else s
    mem[:] = (sz, a1, a2, rr1, rr2, n0, n1, b1, b2, b3, b4, b5, b6, d1, d2, d3, d4, d5, d6)
    return s


class _Bands:
    """The ADPCM state of both sub-bands and the QMF history."""

    def __init__(self) -> None:
        self.low = list(_INITIAL_LOW)
        self.high = list(_INITIAL_HIGH)
        self.low_memory = _initial_memory()
        self.high_memory = _initial_memory()
        self.qmf_history: NDArray[np.int64] = np.zeros(22, dtype=np.int64)


def _qmf_pairs(history: NDArray[np.int64], frame: NDArray[np.int64]) -> NDArray[np.int64]:
    """Both QMF sums for every sample pair of ``frame`` after the 22-sample ``history``.

    Row 0 is the sum over the even taps of each 24-sample window, row 1 over
    the odd taps.
    """
    window = np.concatenate((history, frame))
    return np.stack(
        (
            np.correlate(window[0::2], _QMF, mode="valid"),
            np.correlate(window[1::2], _QMF_REVERSED, mode="valid"),
        )
    )


class G722Encoder(Encoder):
    """G.722 encoder, 64 kbit/s: 16 kHz PCM in, one byte per two samples out."""

    def __init__(self, *, ptime: int = 20) -> None:
        self.name = "G722"
        self.sample_rate = 16000
        self.clock_rate = 8000
        self.channels = 1
        self.ptime = check_ptime(ptime)
        self._bands = _Bands()

    def reset(self) -> None:
        """Back to the initial state of the standard."""
        self._bands = _Bands()

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        """``len(pcm) // 2`` code bytes; the frame must hold an even number of samples."""
        frame = as_pcm_frame(pcm)
        if len(frame) % 2:
            raise LocalProtocolError("a G.722 frame holds an even number of samples")
        if not len(frame):
            return b""
        bands = self._bands
        samples = frame.astype(np.int64)
        sums = _qmf_pairs(bands.qmf_history, samples)
        bands.qmf_history = np.concatenate((bands.qmf_history, samples))[-22:]
        lows = ((sums[0] + sums[1]) >> 14).tolist()
        highs = ((sums[1] - sums[0]) >> 14).tolist()
        out = bytearray(len(lows))
        s_low, det_low, nb_low = bands.low
        s_high, det_high, nb_high = bands.high
        mem_low, mem_high = bands.low_memory, bands.high_memory
        low_decisions, high_decision = _LOW_DECISIONS, _HIGH_DECISION
        low_det, high_det = _LOW_DET, _HIGH_DET
        code_neg, code_pos, qm4, low_wl = _LOW_CODE_NEG, _LOW_CODE_POS, _LOW_QM4, _LOW_WL
        high_wh, predict = _HIGH_WH, _predict
        for index, (xlow, xhigh) in enumerate(zip(lows, highs, strict=True)):
            # lower band: quantize the prediction error to 6 bits (block 1L)
            el = xlow - s_low
            el = 32767 if el > 32767 else -32768 if el < -32768 else el
            level = bisect_right(low_decisions[nb_low >> 6], el if el >= 0 else -(el + 1))
            ilow = code_neg[level] if el < 0 else code_pos[level]
            # step-size adaptation (blocks 3L) and prediction (block 4L)
            dlow = (det_low * qm4[ilow]) >> 15
            nb_low = ((nb_low * 127) >> 7) + low_wl[ilow]
            nb_low = 0 if nb_low < 0 else _LOW_NB_MAX if nb_low > _LOW_NB_MAX else nb_low
            det_low = low_det[nb_low >> 6]
            s_low = predict(mem_low, s_low, dlow)
            # higher band: 2-bit quantizer (block 1H), adaptation (3H), prediction (4H)
            eh = xhigh - s_high
            eh = 32767 if eh > 32767 else -32768 if eh < -32768 else eh
            big = (eh if eh >= 0 else -(eh + 1)) >= high_decision[nb_high >> 6]
            ihigh = (2 if big else 3) if eh >= 0 else (0 if big else 1)
            dhigh = (det_high * _QM2[ihigh]) >> 15
            nb_high = ((nb_high * 127) >> 7) + high_wh[ihigh]
            nb_high = 0 if nb_high < 0 else _HIGH_NB_MAX if nb_high > _HIGH_NB_MAX else nb_high
            det_high = high_det[nb_high >> 6]
            s_high = predict(mem_high, s_high, dhigh)
            out[index] = (ihigh << 6) | ilow
        bands.low = [s_low, det_low, nb_low]
        bands.high = [s_high, det_high, nb_high]
        return bytes(out)


class G722Decoder(ConcealingDecoder):
    """G.722 decoder, 64 kbit/s: every byte gives two 16 kHz samples."""

    def __init__(self, *, ptime: int = 20) -> None:
        self.name = "G722"
        self.sample_rate = 16000
        self.clock_rate = 8000
        self.channels = 1
        self.ptime = check_ptime(ptime)
        self._bands = _Bands()
        super().__init__()

    def _reset_state(self) -> None:
        self._bands = _Bands()

    def _decode_payload(self, payload: bytes) -> NDArray[np.int16] | None:
        if not payload:
            return None
        bands = self._bands
        count = len(payload)
        sums = [0] * count
        differences = [0] * count
        s_low, det_low, nb_low = bands.low
        s_high, det_high, nb_high = bands.high
        mem_low, mem_high = bands.low_memory, bands.high_memory
        low_det, high_det, qm4, low_wl = _LOW_DET, _HIGH_DET, _LOW_QM4, _LOW_WL
        high_wh, predict = _HIGH_WH, _predict
        for index, code in enumerate(payload):
            ilow = code & 63
            ihigh = code >> 6
            # lower band: 6-bit reconstruction for output, 4-bit for prediction
            rlow = s_low + ((det_low * _QM6[ilow]) >> 15)
            rlow = 16383 if rlow > 16383 else -16384 if rlow < -16384 else rlow
            dlow = (det_low * qm4[ilow]) >> 15
            nb_low = ((nb_low * 127) >> 7) + low_wl[ilow]
            nb_low = 0 if nb_low < 0 else _LOW_NB_MAX if nb_low > _LOW_NB_MAX else nb_low
            det_low = low_det[nb_low >> 6]
            s_low = predict(mem_low, s_low, dlow)
            # higher band
            dhigh = (det_high * _QM2[ihigh]) >> 15
            rhigh = s_high + dhigh
            rhigh = 16383 if rhigh > 16383 else -16384 if rhigh < -16384 else rhigh
            nb_high = ((nb_high * 127) >> 7) + high_wh[ihigh]
            nb_high = 0 if nb_high < 0 else _HIGH_NB_MAX if nb_high > _HIGH_NB_MAX else nb_high
            det_high = high_det[nb_high >> 6]
            s_high = predict(mem_high, s_high, dhigh)
            sums[index] = rlow + rhigh
            differences[index] = rlow - rhigh
        bands.low = [s_low, det_low, nb_low]
        bands.high = [s_high, det_high, nb_high]
        # QMF synthesis over the whole payload
        pairs = np.empty(2 * count, dtype=np.int64)
        pairs[0::2] = sums
        pairs[1::2] = differences
        filtered = _qmf_pairs(bands.qmf_history, pairs)
        bands.qmf_history = np.concatenate((bands.qmf_history, pairs))[-22:]
        out = np.empty(2 * count, dtype=np.int64)
        out[0::2] = filtered[1] >> 11
        out[1::2] = filtered[0] >> 11
        return np.clip(out, -32768, 32767).astype(np.int16)
