"""Ogg Opus files (RFC 7845): a recorder (a frame sink) and a player (a frame source).

The recorder encodes mono frames, or two channels (for instance the two
directions of a call), with libopus and makes Ogg pages with libogg; both are
reached through pyogg's ctypes bindings.  It never opens a file: each page
goes, as one write, to the :class:`~sansip.audio.bytesink.ByteSink` it was
given, and the stream serial number comes from the random source it was
given.  The file starts with an ``OpusHead``
page and an ``OpusTags`` page, each flushed on its own; audio pages follow
about once a second; the last page carries the end-of-stream flag and a
granule position trimmed so the decoded length equals the recorded length.

The player parses the Ogg pages itself (checking each page's CRC) and decodes
with libopus directly at the pipeline rate, honouring the pre-skip, the
output gain and the end trimming.  A corrupt page or packet met while playing
is dropped and counted, never raised; a file that is not Ogg Opus at all is
refused when opened with :class:`OggOpusFileError`.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.bytesink import ByteSink
from sansip.audio.closing import Closable
from sansip.audio.frames import DEFAULT_FRAME_DURATION, AudioFrame, frame_samples
from sansip.audio.oggpages import OggPacketReader
from sansip.errors import LocalProtocolError, SansipError

__all__ = [
    "OPUS_FILE_RATES",
    "OggOpusFileError",
    "OggOpusReader",
    "OggOpusWriter",
    "OpusHead",
    "RandomSource",
    "oggopus_unavailable_reason",
]

#: PCM rates the recorder and player run at (libopus resamples internally).
OPUS_FILE_RATES: Final = (8000, 12000, 16000, 24000, 48000)
_GRANULE_RATE: Final = 48000
_FRAME_SIZES_48K: Final = (120, 240, 480, 960, 1920, 2880)  # 2.5 ... 60 ms
_MAX_PACKET: Final = 4000
_MAX_DECODED_48K: Final = 5760  # 120 ms, the longest Opus packet
_APPLICATION_AUDIO: Final = 2049
_GET_LOOKAHEAD: Final = 4027
_SET_BITRATE: Final = 4002
_SET_GAIN: Final = 4034
_RESET_STATE: Final = 4028
_DEBIAN_PACKAGES: Final = "libopus0 libogg0 libopusfile0"


class OggOpusFileError(SansipError):
    """The file is not an Ogg Opus file this module can play."""


class RandomSource(Protocol):
    """Where the stream serial number comes from (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


@dataclass(frozen=True, slots=True)
class OpusHead:
    """The identification header of an Ogg Opus stream (RFC 7845 section 5.1)."""

    version: int
    channels: int
    pre_skip: int  # samples at 48 kHz to drop from the decoder output
    input_rate: int  # informational: the rate of the PCM that was encoded
    output_gain: int  # Q7.8 dB
    mapping_family: int

    def to_bytes(self) -> bytes:
        """The ``OpusHead`` packet (mapping family 0 only)."""
        return b"OpusHead" + struct.pack("<BBHIhB", *astuple(self))

    @classmethod
    def parse(cls, packet: bytes) -> OpusHead:
        """The header in ``packet``; :class:`OggOpusFileError` unless it is one we can play."""
        if len(packet) < 19 or not packet.startswith(b"OpusHead"):
            raise OggOpusFileError("the first packet is not an OpusHead header")
        head = cls(*struct.unpack_from("<BBHIhB", packet, 8))
        if head.version >> 4 != 0:
            raise OggOpusFileError(f"unsupported OpusHead version {head.version}")
        if head.mapping_family != 0 or head.channels not in (1, 2):
            raise OggOpusFileError(
                f"unsupported channel mapping family {head.mapping_family} "
                f"with {head.channels} channels (only family 0, mono or stereo)"
            )
        return head


# --------------------------------------------------------------------------- libraries


@cache
def _libraries() -> tuple[Any, Any, str | None]:
    """pyogg's opus and ogg modules, or the reason they cannot be used."""
    try:
        from pyogg import ogg, opus  # type: ignore[import-untyped]  # noqa: PLC0415
    except Exception as error:  # pyogg raises assorted errors when a library is missing
        return None, None, f"pyogg cannot be imported ({error})"
    if not getattr(ogg, "PYOGG_OGG_AVAIL", False) or not hasattr(ogg, "ogg_stream_init"):
        return None, None, "pyogg did not find libogg"
    if not getattr(opus, "PYOGG_OPUS_AVAIL", False) or not hasattr(opus, "opus_encoder_create"):
        return None, None, "pyogg did not find libopus and libopusfile"
    return opus, ogg, None


def oggopus_unavailable_reason() -> str | None:
    """Why Ogg Opus files cannot be written or played here, or None when they can."""
    reason = _libraries()[2]
    return None if reason is None else f"{reason}: install the Debian packages {_DEBIAN_PACKAGES}"


def _require() -> tuple[Any, Any]:
    opus, ogg, _reason = _libraries()
    if opus is None:
        raise LocalProtocolError(f"Ogg Opus is unavailable: {oggopus_unavailable_reason()}")
    return opus, ogg


def _check_rate(rate: int) -> int:
    if rate not in OPUS_FILE_RATES:
        raise LocalProtocolError(f"Ogg Opus PCM runs at one of {OPUS_FILE_RATES}, not {rate!r}")
    return rate


def _error_text(opus: Any, code: int) -> str:
    text = opus.opus_strerror(code)
    return text.decode() if isinstance(text, bytes) else str(text)


# --------------------------------------------------------------------------- writing


def _tags_packet(vendor: str, comments: Sequence[tuple[str, str]]) -> bytes:
    """The ``OpusTags`` packet (RFC 7845 section 5.2)."""
    fields = [vendor.encode()]
    for key, value in comments:
        if not key or any(not 0x20 <= ord(c) <= 0x7D or c == "=" for c in key):
            raise LocalProtocolError(f"bad Ogg comment field name {key!r}")
        fields.append(f"{key}={value}".encode())
    parts = [struct.pack("<I", len(field)) + field for field in fields]
    parts.insert(1, struct.pack("<I", len(comments)))
    return b"OpusTags" + b"".join(parts)


class _OggPageWriter:
    """A libogg stream that turns packets into pages appended to a byte sink."""

    def __init__(self, ogg: Any, sink: ByteSink, serial: int) -> None:
        self._ogg = ogg
        self._sink = sink
        self._stream = ogg.ogg_stream_state()
        self._page = ogg.ogg_page()
        self._packet = ogg.ogg_packet()
        self._packet_number = 0
        if ogg.ogg_stream_init(ctypes.byref(self._stream), ctypes.c_int(serial)) != 0:
            raise LocalProtocolError("ogg_stream_init failed")

    def packet(self, data: bytes, granule: int, *, eos: bool = False) -> None:
        """Queue one packet ending at ``granule``."""
        buffer = ctypes.create_string_buffer(data, len(data))
        packet = self._packet
        packet.packet = ctypes.cast(buffer, self._ogg.c_uchar_p)
        packet.bytes = len(data)
        packet.b_o_s = 1 if self._packet_number == 0 else 0
        packet.e_o_s = 1 if eos else 0
        packet.granulepos = granule
        packet.packetno = self._packet_number
        self._packet_number += 1
        if self._ogg.ogg_stream_packetin(ctypes.byref(self._stream), ctypes.byref(packet)) != 0:
            raise LocalProtocolError("ogg_stream_packetin failed")

    def pages_out(self, *, flush: bool) -> int:
        """Write the pages that are complete (all queued packets with ``flush``)."""
        produce = self._ogg.ogg_stream_flush if flush else self._ogg.ogg_stream_pageout
        written = 0
        while produce(ctypes.byref(self._stream), ctypes.byref(self._page)) != 0:
            page = self._page
            self._sink.write(ctypes.string_at(page.header, page.header_len)
                             + ctypes.string_at(page.body, page.body_len))  # fmt: skip
            written += 1
        return written

    def clear(self) -> None:
        self._ogg.ogg_stream_clear(ctypes.byref(self._stream))


class _StereoEncoder:
    """A libopus encoder for one or two interleaved channels, reporting its lookahead."""

    def __init__(self, opus: Any, rate: int, channels: int, bitrate: int | None) -> None:
        self._opus = opus
        error = ctypes.c_int(0)
        state = opus.opus_encoder_create(rate, channels, _APPLICATION_AUDIO, ctypes.byref(error))
        if error.value != 0 or not state:
            raise LocalProtocolError(
                f"opus_encoder_create failed: {_error_text(opus, error.value)}"
            )
        self._state: Any = state
        if bitrate is not None:
            result = opus.opus_encoder_ctl(state, _SET_BITRATE, ctypes.c_int32(bitrate))
            if result != 0:
                self.destroy()
                raise LocalProtocolError(f"bitrate {bitrate} refused: {_error_text(opus, result)}")
        lookahead = ctypes.c_int32(0)
        opus.opus_encoder_ctl(state, _GET_LOOKAHEAD, ctypes.byref(lookahead))
        self.lookahead = max(0, lookahead.value)
        self._output = (ctypes.c_ubyte * _MAX_PACKET)()

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        """One packet for ``pcm`` of shape (samples, channels)."""
        interleaved = np.ascontiguousarray(pcm, dtype=np.int16)
        length = self._opus.opus_encode(
            self._state,
            interleaved.ctypes.data_as(self._opus.opus_int16_p),
            len(interleaved),
            ctypes.cast(self._output, self._opus.c_uchar_p),
            _MAX_PACKET,
        )
        if length < 0:
            raise LocalProtocolError(f"opus_encode failed: {_error_text(self._opus, length)}")
        return ctypes.string_at(self._output, length)

    def destroy(self) -> None:
        state, self._state = self._state, None
        if state:
            self._opus.opus_encoder_destroy(state)


class OggOpusWriter(Closable):
    """Records frames as an Ogg Opus file into ``sink`` (a frame sink), mono or two-channel.

    ``rate`` is the rate of the PCM written; ``frame_duration`` the duration of
    one Opus packet (2.5, 5, 10, 20, 40 or 60 ms), independent of the length
    of the frames written, which may be anything.  ``bitrate`` (bits/s, 6000
    to 510000) or None for libopus's choice.  ``page_duration`` bounds the
    audio held in one Ogg page (and so lost if the process dies).  The serial
    number is ``serial_number`` if given, else drawn from ``random`` (one of
    the two is required; a recording should get an unpredictable one, e.g.
    from :class:`secrets.SystemRandom`).  ``comments`` go in OpusTags.  Use
    as a context manager or call :meth:`close`: the file is complete only
    after closing, which closes ``sink``.  A page the sink drops is lost
    (players skip the gap).
    """

    def __init__(
        self,
        sink: ByteSink,
        rate: int = 8000,
        *,
        channels: int = 1,
        bitrate: int | None = None,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        page_duration: float = 1.0,
        comments: Sequence[tuple[str, str]] = (),
        vendor: str = "sansip",
        serial_number: int | None = None,
        random: RandomSource | None = None,
    ) -> None:
        opus, ogg = _require()
        self.rate = _check_rate(rate)
        if channels not in (1, 2):
            raise LocalProtocolError(f"channels must be 1 or 2, not {channels!r}")
        self.channels = channels
        self.packet_samples = frame_samples(rate, frame_duration)
        self._packet_48k = self.packet_samples * (_GRANULE_RATE // rate)
        if self._packet_48k not in _FRAME_SIZES_48K:
            raise LocalProtocolError(f"an Opus frame lasts 2.5 to 60 ms, not {frame_duration} s")
        if bitrate is not None and not 6000 <= bitrate <= 510000:
            raise LocalProtocolError(f"bitrate must be 6000 to 510000 bit/s, not {bitrate!r}")
        if page_duration <= 0:
            raise LocalProtocolError(f"page_duration must be positive, not {page_duration!r}")
        tags = _tags_packet(vendor, comments)
        if serial_number is None:
            if random is None:
                raise LocalProtocolError("the Ogg serial number needs serial_number or random")
            serial_number = random.getrandbits(32)
        self.serial_number = serial_number & 0xFFFFFFFF
        self._page_limit_48k = max(1, round(page_duration * _GRANULE_RATE))
        self._encoder = _StereoEncoder(opus, rate, channels, bitrate)
        self.head = OpusHead(
            version=1,
            channels=channels,
            pre_skip=self._encoder.lookahead * (_GRANULE_RATE // rate),
            input_rate=rate,
            output_gain=0,
            mapping_family=0,
        )
        self.samples_written = 0  # per channel, at ``rate``
        self._pending = np.zeros((0, channels), dtype=np.int16)
        self._granule = 0  # 48 kHz samples encoded so far
        self._unpaged_48k = 0
        self._closed = False
        self._sink = sink
        try:
            self._pages = _OggPageWriter(ogg, sink, self.serial_number)
            self._pages.packet(self.head.to_bytes(), 0)
            self._pages.pages_out(flush=True)
            self._pages.packet(tags, 0)
            self._pages.pages_out(flush=True)
        except BaseException:
            self._encoder.destroy()
            raise

    @property
    def duration(self) -> float:
        """Seconds recorded so far."""
        return self.samples_written / self.rate

    def write(self, frame: ArrayLike) -> None:
        """Append ``frame``: one-dimensional samples, or shape (samples, 2) for two channels.

        A one-dimensional frame given to a two-channel recorder goes to both
        channels.
        """
        samples = np.asarray(frame)
        if samples.ndim == 1:
            samples = samples.reshape(-1, 1)
        if samples.ndim != 2 or samples.shape[1] not in (1, self.channels):
            raise LocalProtocolError(
                f"a frame for {self.channels} channel(s) cannot have shape {np.shape(frame)}"
            )
        if samples.shape[1] != self.channels:
            samples = np.repeat(samples, self.channels, axis=1)
        self._append(samples)

    def write_stereo(self, left: ArrayLike, right: ArrayLike) -> None:
        """Append one frame per channel (equal lengths) to a two-channel recorder."""
        if self.channels != 2:
            raise LocalProtocolError("write_stereo needs a recorder with channels=2")
        first, second = np.asarray(left).reshape(-1), np.asarray(right).reshape(-1)
        if len(first) != len(second):
            raise LocalProtocolError(f"channel lengths differ: {len(first)} and {len(second)}")
        self._append(np.stack((first, second), axis=1))

    def _append(self, samples: NDArray[Any]) -> None:
        if self._closed:
            raise LocalProtocolError("the Ogg Opus recorder is closed")
        if samples.dtype != np.int16:
            if samples.dtype.kind not in "iuf":
                raise LocalProtocolError(f"frames hold numbers, not {samples.dtype}")
            samples = np.clip(np.rint(np.nan_to_num(samples)), -32768, 32767).astype(np.int16)
        self._pending = np.concatenate((self._pending, samples))
        self.samples_written += len(samples)
        self._encode_pending(final=False)

    def _encode_pending(self, *, final: bool) -> None:
        size = self.packet_samples
        whole = len(self._pending) // size * size
        for start in range(0, whole, size):
            self._encode(self._pending[start : start + size], final=False)
        self._pending = self._pending[whole:]
        if not final:
            return
        # Pad with silence until the decoder, which lags by the pre-skip, has
        # produced every recorded sample; then trim with the last granule.
        end = self.head.pre_skip + self.samples_written * (_GRANULE_RATE // self.rate)
        padded = np.zeros((size, self.channels), dtype=np.int16)
        padded[: len(self._pending)] = self._pending
        self._pending = self._pending[:0]
        while True:
            last = self._granule + self._packet_48k >= end
            self._encode(padded, final=last, end=end)
            padded = np.zeros_like(padded)
            if last:
                return

    def _encode(self, pcm: NDArray[np.int16], *, final: bool, end: int = 0) -> None:
        packet = self._encoder.encode(pcm)
        self._granule += self._packet_48k
        self._unpaged_48k += self._packet_48k
        self._pages.packet(packet, end if final else self._granule, eos=final)
        if self._pages.pages_out(flush=final or self._unpaged_48k >= self._page_limit_48k):
            self._unpaged_48k = 0

    def close(self) -> None:
        """Encode what is left, write the end-of-stream page and close the sink (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._encode_pending(final=True)
        finally:
            self._pages.clear()
            self._encoder.destroy()
            self._sink.close()

    def abandon(self) -> None:
        """Stop without writing anything more (the sink failed); frees the
        encoder but leaves the sink to its owner (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._pages.clear()
        self._encoder.destroy()


# --------------------------------------------------------------------------- reading


class OggOpusReader(Closable):
    """Plays an Ogg Opus file as mono frames at the pipeline ``rate`` (a frame source).

    A two-channel file is averaged to mono by :meth:`read`; :meth:`read_stereo`
    gives both channels (a mono file gives the same samples twice).  At the
    end ``finished`` turns True and reads return silence, unless ``loop`` is
    set.  ``bad_pages`` and ``bad_packets`` count damage skipped while playing.
    """

    def __init__(
        self,
        path: str | Path,
        rate: int = 8000,
        *,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        loop: bool = False,
    ) -> None:
        self._opus, _ogg = _require()
        self.rate = _check_rate(rate)
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.loop = loop
        self.bad_packets = 0
        self._ratio = _GRANULE_RATE // rate
        self._decoder: Any = None
        self._pending = np.zeros((0, 1), dtype=np.int16)
        self._eof = False
        self._played_any = False
        self._file: BinaryIO = Path(path).open("rb")  # noqa: SIM115 - closed in close()
        try:
            self._start()
            self.head = OpusHead.parse(self._next_packet(b"OpusHead"))
            self.vendor, self.comments = _parse_tags(self._next_packet(b"OpusTags"))
            self._create_decoder()
        except BaseException:
            self.close()
            raise
        self._pcm = np.zeros(_MAX_DECODED_48K // self._ratio * self.head.channels, np.int16)
        self._pending = np.zeros((0, self.head.channels), dtype=np.int16)
        self._last_samples = self.samples_per_frame

    @property
    def bad_pages(self) -> int:
        """Pages skipped because their checksum or version was wrong."""
        return self._ogg_packets.bad_pages

    @property
    def samples_decoded(self) -> int:
        """Samples per channel taken from the file so far (after the pre-skip and trimming)."""
        return self._emitted

    @property
    def finished(self) -> bool:
        """True once the whole file has been played (never with ``loop``)."""
        return self._eof and len(self._pending) == 0

    def _start(self) -> None:
        self._file.seek(0)
        self._ogg_packets = OggPacketReader(self._file)
        self._stream = self._ogg_packets.packets()
        self._skip = 0  # set from the head once known
        self._emitted = 0  # samples (per channel) after the pre-skip, at ``rate``

    def _next_packet(self, magic: bytes) -> bytes:
        try:
            packet = next(self._stream)[0]
        except StopIteration:
            raise OggOpusFileError(f"no {magic.decode()} header: not an Ogg Opus file") from None
        if not packet.startswith(magic):
            raise OggOpusFileError(f"expected the {magic.decode()} header")
        return packet

    def _create_decoder(self) -> None:
        opus = self._opus
        error = ctypes.c_int(0)
        state = opus.opus_decoder_create(self.rate, self.head.channels, ctypes.byref(error))
        if error.value != 0 or not state:
            raise LocalProtocolError(
                f"opus_decoder_create failed: {_error_text(opus, error.value)}"
            )
        self._decoder = state
        if self.head.output_gain:
            opus.opus_decoder_ctl(state, _SET_GAIN, ctypes.c_int32(self.head.output_gain))
        self._skip = round(self.head.pre_skip / self._ratio)

    def read(self, now: float | None = None) -> AudioFrame:
        """The next mono frame (zero-padded at the end, then silence)."""
        frame = self._take()
        if self.head.channels == 1:
            return frame[:, 0].copy()
        mixed: AudioFrame = ((frame[:, 0].astype(np.int32) + frame[:, 1]) // 2).astype(np.int16)
        return mixed

    def read_stereo(self, now: float | None = None) -> tuple[AudioFrame, AudioFrame]:
        """The next frame of each channel (left, right)."""
        frame = self._take()
        right = frame[:, 1] if self.head.channels == 2 else frame[:, 0]
        return frame[:, 0].copy(), right.copy()

    def _take(self) -> NDArray[np.int16]:
        need = self.samples_per_frame
        while len(self._pending) < need and not self._eof:
            self._decode_next()
        frame = np.zeros((need, self.head.channels), dtype=np.int16)
        chunk, self._pending = self._pending[:need], self._pending[need:]
        frame[: len(chunk)] = chunk
        while len(self._pending) == 0 and not self._eof:  # so that ``finished`` is exact
            self._decode_next()
        return frame

    def _decode_next(self) -> None:
        try:
            packet, granule, end_of_stream = next(self._stream)
        except StopIteration:
            if self.loop and self._played_any:
                self._start()
                self._opus.opus_decoder_ctl(self._decoder, _RESET_STATE)
                self._skip = round(self.head.pre_skip / self._ratio)
                for _header in range(2):
                    next(self._stream, None)
            else:
                self._eof = True
            return
        decoded = self._decode(packet)
        if self._skip:
            dropped = min(self._skip, len(decoded))
            decoded, self._skip = decoded[dropped:], self._skip - dropped
        if end_of_stream and granule >= 0:
            total = max(0, granule - self.head.pre_skip) // self._ratio
            decoded = decoded[: max(0, total - self._emitted)]
        self._emitted += len(decoded)
        self._played_any = self._played_any or len(decoded) > 0
        self._pending = np.concatenate((self._pending, decoded))

    def _decode(self, packet: bytes) -> NDArray[np.int16]:
        opus = self._opus
        pointer = self._pcm.ctypes.data_as(opus.opus_int16_p)
        capacity = len(self._pcm) // self.head.channels
        count = -1
        if packet:
            data = ctypes.cast(ctypes.c_char_p(packet), opus.c_uchar_p)
            count = int(opus.opus_decode(self._decoder, data, len(packet), pointer, capacity, 0))
        if count < 0:  # damaged: conceal one packet's worth instead
            self.bad_packets += 1
            count = int(opus.opus_decode(self._decoder, None, 0, pointer, self._last_samples, 0))
            if count < 0:
                return np.zeros((0, self.head.channels), dtype=np.int16)
        else:
            self._last_samples = count
        channels = self.head.channels
        return self._pcm[: count * channels].reshape(count, channels).copy()

    def close(self) -> None:
        """Close the file; further reads return silence (idempotent)."""
        self._eof = True
        self._pending = self._pending[:0]
        decoder, self._decoder = self._decoder, None
        if decoder:
            self._opus.opus_decoder_destroy(decoder)
        self._file.close()


def _parse_tags(packet: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Vendor and comments of an ``OpusTags`` packet; what follows damage is ignored."""

    def field(offset: int) -> tuple[bytes, int] | None:
        if offset + 4 > len(packet):
            return None
        end = offset + 4 + int.from_bytes(packet[offset : offset + 4], "little")
        return (packet[offset + 4 : end], end) if end <= len(packet) else None

    vendor = field(8)
    if vendor is None:
        raise OggOpusFileError("the OpusTags header is truncated")
    comments: list[tuple[str, str]] = []
    offset = vendor[1] + 4
    for _ in range(int.from_bytes(packet[vendor[1] : offset], "little")):
        comment = field(offset)
        if comment is None:
            break
        key, separator, value = comment[0].decode("utf-8", "replace").partition("=")
        if separator:
            comments.append((key, value))
        offset = comment[1]
    return vendor[0].decode("utf-8", "replace"), comments
