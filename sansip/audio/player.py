"""File playback into a call or to the loudspeaker, ringback and ringtone sources.

This is what the phone API's ``play(start, file, looping, toremotepeer)``
needs:

- :class:`FilePlayer` plays a ``.wav`` (:class:`~sansip.audio.wavfile.WavPlayer`)
  or ``.ogg`` / ``.opus`` (:class:`~sansip.audio.oggopus.OggOpusReader`) file
  as frames at the pipeline rate, once or looped; ``finished`` tells when it
  is over.
- :class:`MixedSource` wraps the microphone (``toremotepeer=True``): while a
  file plays it is mixed into (or, with ``replace``, sent instead of) what
  the microphone gives; when the file ends or :meth:`MixedSource.stop` is
  called, the microphone alone is sent again.
- :class:`LocalPlayback` wraps the loudspeaker sink (``toremotepeer=False``)
  the same way: a file plays mixed into what is heard.  It advances only as
  frames are written to it, i.e. while the call's media clock runs.
- :class:`Ringback` plays the ringback cadence of a region (or a ringback
  file, looped) while an outgoing call rings; :meth:`Ringback.stop` silences
  it, for instance when early media arrives.  :class:`Ringtone` does the same
  for incoming calls with a built-in warbling ring or a file.

The wrappers own what they play: a source with a ``close`` method is closed
when it ends, is stopped or is replaced by another.  Mixing is in floats,
softly clipped (:func:`~sansip.audio.mixer.soft_clip`), so frames stay bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from sansip.audio.closing import Closable
from sansip.audio.frames import (
    DEFAULT_FRAME_DURATION,
    AudioFrame,
    FrameSink,
    FrameSource,
    frame_samples,
    silence,
)
from sansip.audio.mixer import soft_clip
from sansip.audio.oggopus import OggOpusReader
from sansip.audio.tones import RINGBACK, CadenceSource, ToneSource
from sansip.audio.wavfile import WavPlayer
from sansip.errors import LocalProtocolError

__all__ = [
    "PLAYBACK_FORMATS",
    "RINGTONE_FREQUENCIES",
    "FilePlayer",
    "LocalPlayback",
    "MixedSource",
    "Ringback",
    "Ringtone",
    "playback_format",
]

#: File extensions (lower case) and the format each selects.
PLAYBACK_FORMATS: Final[dict[str, str]] = {".wav": "wav", ".ogg": "ogg", ".opus": "ogg"}
#: The two frequencies (Hz) the built-in ringtone alternates between.
RINGTONE_FREQUENCIES: Final = (1000.0, 1250.0)
#: Seconds each ringtone frequency lasts before the other takes over (a 20 Hz warble).
RINGTONE_WARBLE: Final = 0.025


def playback_format(path: str | Path) -> str:
    """``"wav"`` or ``"ogg"``: from the extension, else from the file's first bytes."""
    suffix = Path(path).suffix.lower()
    if suffix in PLAYBACK_FORMATS:
        return PLAYBACK_FORMATS[suffix]
    try:
        with Path(path).open("rb") as file:
            magic = file.read(4)
    except OSError as error:
        raise LocalProtocolError(f"{path}: {error}") from error
    if magic == b"RIFF":
        return "wav"
    if magic == b"OggS":
        return "ogg"
    raise LocalProtocolError(f"{path}: neither a WAV nor an Ogg Opus file")


class _Player(Protocol):
    @property
    def finished(self) -> bool: ...

    def read(self, now: float | None = None) -> AudioFrame: ...

    def close(self) -> None: ...


class FilePlayer(Closable):
    """Plays a WAV or Ogg Opus file as mono frames at ``rate`` (a frame source).

    The format comes from the extension (``.wav``, ``.ogg``, ``.opus``) or,
    failing that, from the file's first bytes.  At the end ``finished`` turns
    True and reads return silence, unless ``loop`` is set.  WAV files at any
    rate are converted; Ogg Opus decodes at ``rate`` directly (8000, 12000,
    16000, 24000 or 48000 Hz).  Errors opening the file are
    :class:`~sansip.audio.wavfile.WavFileError`,
    :class:`~sansip.audio.oggopus.OggOpusFileError` or ``OSError``.
    """

    def __init__(
        self,
        path: str | Path,
        rate: int,
        *,
        loop: bool = False,
        frame_duration: float = DEFAULT_FRAME_DURATION,
    ) -> None:
        self.path = Path(path)
        self.rate = rate
        self.loop = loop
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.format = playback_format(path)
        self._player: _Player
        if self.format == "wav":
            self._player = WavPlayer(path, rate, frame_duration=frame_duration, loop=loop)
        else:
            self._player = OggOpusReader(path, rate, frame_duration=frame_duration, loop=loop)
        self._closed = False
        self.frames_read = 0

    @property
    def finished(self) -> bool:
        """True once the whole file has been played (never while looping), or when closed."""
        return self._closed or self._player.finished

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame of the file (zero-padded at the end, then silence)."""
        if self._closed:
            return silence(self.samples_per_frame)
        self.frames_read += 1
        return self._player.read(now)

    def close(self) -> None:
        """Close the file; reads return silence (idempotent)."""
        if not self._closed:
            self._closed = True
            self._player.close()


def _is_finished(source: FrameSource) -> bool:
    return bool(getattr(source, "finished", False))


def _close(source: FrameSource) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


def _fit(frame: AudioFrame, length: int) -> AudioFrame:
    if len(frame) == length:
        return frame
    fitted = np.zeros(length, dtype=np.int16)
    fitted[: min(length, len(frame))] = frame[:length]
    return fitted


class _Overlay:
    """The file currently laid over a stream of frames, and how."""

    def __init__(self) -> None:
        self.source: FrameSource | None = None
        self.replace = False
        self.gain = 1.0
        self.on_finished: Callable[[], None] | None = None
        self.completed = 0  # sources that played to their end

    def start(
        self,
        source: FrameSource,
        *,
        replace: bool,
        gain: float,
        on_finished: Callable[[], None] | None,
    ) -> None:
        if not (math.isfinite(gain) and 0.0 <= gain <= 64.0):
            raise LocalProtocolError(f"gain must be between 0 and 64, not {gain!r}")
        self.stop()
        self.source, self.replace, self.gain, self.on_finished = source, replace, gain, on_finished

    def stop(self) -> None:
        source, self.source, self.on_finished = self.source, None, None
        if source is not None:
            _close(source)

    def apply(self, base: AudioFrame, now: float | None) -> AudioFrame:
        """``base`` with the current file mixed in (or replaced by it)."""
        source = self.source
        if source is None:
            return base
        if _is_finished(source):  # ended before this frame (e.g. an empty file)
            self._ended()
            return base
        overlay = _fit(np.asarray(source.read(now), dtype=np.int16).reshape(-1), len(base))
        if self.replace:
            mixed = overlay * self.gain
        else:
            mixed = base.astype(np.float64) + overlay * self.gain
        result = soft_clip(mixed)
        if _is_finished(source):
            self._ended()
        return result

    def _ended(self) -> None:
        callback = self.on_finished
        self.stop()
        self.completed += 1
        if callback is not None:
            callback()


class _FileOverlay:
    """Playing files over a stream of frames (shared by the two directions)."""

    def __init__(self) -> None:
        self._overlay = _Overlay()

    @property
    def playing(self) -> bool:
        """True while a file plays."""
        return self._overlay.source is not None

    @property
    def completed(self) -> int:
        """How many played sources reached their end (not counting stopped ones)."""
        return self._overlay.completed

    def play(
        self,
        source: FrameSource,
        *,
        replace: bool = False,
        gain: float = 1.0,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        """Start playing ``source`` (a :class:`FilePlayer`, a tone...) over the frames.

        A file already playing is stopped first.  ``gain`` scales the file
        (0 to 64); ``on_finished`` is called once when the source ends by
        itself (its ``finished`` turns True), not when stopped.
        """
        self._overlay.start(source, replace=replace, gain=gain, on_finished=on_finished)

    def stop(self) -> None:
        """Stop the file (closing it); the frames pass unchanged again."""
        self._overlay.stop()


class MixedSource(_FileOverlay):
    """What is sent to the peer: the ``primary`` source (microphone) with files played into it.

    While a file plays, each frame is the primary's frame plus the file's
    (``replace=False``) or the file's alone (``replace=True``, the primary is
    still read so a capture device keeps draining).  When the file is
    finished, or on :meth:`stop`, frames are the primary's again.
    """

    def __init__(self, primary: FrameSource) -> None:
        super().__init__()
        self.primary = primary

    def read(self, now: float | None = None) -> AudioFrame:
        """The primary's next frame, with the file mixed in or instead while it plays."""
        base = np.asarray(self.primary.read(now), dtype=np.int16).reshape(-1)
        return self._overlay.apply(base, now)


class LocalPlayback(_FileOverlay):
    """What goes to the loudspeaker: frames written to ``sink`` with files played into them.

    Each frame written is passed on to ``sink`` with the playing file's next
    frame mixed in (or instead, with ``replace``); the file advances one
    frame per frame written.
    """

    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self.sink = sink

    def write(self, frame: AudioFrame) -> None:
        """Pass ``frame`` on to the sink, with the file mixed in while it plays."""
        base = np.asarray(frame, dtype=np.int16).reshape(-1)
        self.sink.write(self._overlay.apply(base, None))


def _check_region(region: str) -> None:
    if region.lower() not in RINGBACK:
        raise LocalProtocolError(f"no ring cadence for region {region!r}: {sorted(RINGBACK)}")


class _StoppableSource:
    """A source that plays until stopped, then gives silence."""

    def __init__(self, rate: int, frame_duration: float, file: str | Path | None) -> None:
        self.rate = rate
        self.frame_duration = frame_duration
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.file = None if file is None else Path(file)
        self._source: FrameSource | None = None
        self.start()

    def _builtin(self) -> FrameSource:
        raise NotImplementedError

    @property
    def active(self) -> bool:
        """True between :meth:`start` (or creation) and :meth:`stop`."""
        return self._source is not None

    @property
    def finished(self) -> bool:
        """True once stopped (so a :class:`MixedSource` or :class:`LocalPlayback` lets go)."""
        return self._source is None

    def start(self) -> None:
        """(Re)start from the beginning: the file, or the built-in tone's first burst."""
        self.stop()
        if self.file is not None:
            self._source = FilePlayer(
                self.file, self.rate, loop=True, frame_duration=self.frame_duration
            )
        else:
            self._source = self._builtin()

    def stop(self) -> None:
        """Silence from now on (closing the file, if any); idempotent."""
        source, self._source = self._source, None
        if source is not None:
            _close(source)

    close = stop

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame while active, else silence."""
        source = self._source
        if source is None:
            return silence(self.samples_per_frame)
        return _fit(source.read(now), self.samples_per_frame)


class Ringback(_StoppableSource):
    """The ringback heard while an outgoing call rings (a frame source).

    Plays the ringback cadence of ``region`` (``us``, ``eu``, ``uk``) at
    ``level_dbfs``, or ``file`` looped.  :meth:`stop` silences it, e.g. when
    early media starts or the call is answered; :meth:`start` starts over.
    """

    def __init__(
        self,
        rate: int,
        *,
        file: str | Path | None = None,
        region: str = "us",
        level_dbfs: float = -13.0,
        frame_duration: float = DEFAULT_FRAME_DURATION,
    ) -> None:
        _check_region(region)
        self.region = region
        self.level_dbfs = level_dbfs
        super().__init__(rate, frame_duration, file)

    def _builtin(self) -> FrameSource:
        spec = RINGBACK[self.region.lower()]
        return CadenceSource(
            spec.frequencies,
            spec.cadence,
            self.rate,
            level_dbfs=self.level_dbfs,
            frame_duration=self.frame_duration,
        )


def _cadence_edges(cadence: tuple[tuple[float, float], ...], rate: int) -> NDArray[np.int64]:
    """Cumulated sample offsets where a cadence switches: on0, off0, on1, off1..."""
    edges: NDArray[np.int64] = np.cumsum(
        [round(seconds * rate) for pair in cadence for seconds in pair], dtype=np.int64
    )
    return edges


class _WarbleRing:
    """Two tones alternating every :data:`RINGTONE_WARBLE` seconds, gated by a cadence."""

    def __init__(
        self,
        rate: int,
        cadence: tuple[tuple[float, float], ...],
        level_dbfs: float,
        frame_duration: float,
    ) -> None:
        low, high = RINGTONE_FREQUENCIES
        self._low = ToneSource(low, rate, level_dbfs=level_dbfs, frame_duration=frame_duration)
        self._high = ToneSource(high, rate, level_dbfs=level_dbfs, frame_duration=frame_duration)
        self._half = max(1, round(RINGTONE_WARBLE * rate))
        self._edges = _cadence_edges(cadence, rate)
        self._cycle = int(self._edges[-1])
        self._count = frame_samples(rate, frame_duration)
        self._position = 0

    def read(self, now: float | None = None) -> AudioFrame:
        positions = self._position + np.arange(self._count, dtype=np.int64)
        self._position += self._count
        low, high = self._low.read(now), self._high.read(now)
        tone = np.where((positions // self._half) % 2 == 0, low, high)
        within = positions % self._cycle
        on = np.searchsorted(self._edges, within, side="right") % 2 == 0
        frame: AudioFrame = np.where(on, tone, 0).astype(np.int16)
        return frame


class Ringtone(_StoppableSource):
    """The ring of an incoming call (a frame source, for the ringer device).

    Plays ``file`` looped, or a built-in ring: :data:`RINGTONE_FREQUENCIES`
    alternating in a fast warble, switched on and off by the ringing cadence
    of ``region``.  :meth:`stop` silences it (answered, cancelled);
    :meth:`start` starts over.
    """

    def __init__(
        self,
        rate: int,
        *,
        file: str | Path | None = None,
        region: str = "us",
        level_dbfs: float = -10.0,
        frame_duration: float = DEFAULT_FRAME_DURATION,
    ) -> None:
        _check_region(region)
        self.region = region
        self.level_dbfs = level_dbfs
        super().__init__(rate, frame_duration, file)

    def _builtin(self) -> FrameSource:
        cadence = RINGBACK[self.region.lower()].cadence
        return _WarbleRing(self.rate, cadence, self.level_dbfs, self.frame_duration)
