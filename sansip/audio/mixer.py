"""A local conference mixer: N parties, each hears everyone else (mix-minus).

:class:`ConferenceMixer` runs at one rate (16 kHz by default) and one frame
size (20 ms).  Every tick, :meth:`ConferenceMixer.mix` takes one frame per
party and gives one frame back per party:

1. each input is brought to the mixer rate (a party with its own ``rate`` has
   two streaming :class:`~sansip.audio.resample.Resampler`, one per
   direction), fitted to the frame size, and weighted by the party's gain
   (0 when muted);
2. the weighted inputs are summed once (float32), and each party's output is
   that total minus its own contribution, so the cost is one pass over the
   inputs and one over the outputs whatever the number of parties;
3. each output goes through a limiter (a per-party gain that drops at once to
   keep the peak under :data:`LIMITER_CEILING` and recovers with a
   :data:`LIMITER_RELEASE` time constant) and a soft clipper
   (:func:`soft_clip`: linear up to :data:`SOFT_KNEE`, then a tanh knee that
   never reaches full scale), so a loud sum never wraps around;
4. a deaf party gets silence; every other output goes back to the party's
   own rate.

A party whose input is missing counts as silent.  A muted party is not heard
by the others but still hears them.  Gain and mute changes ramp over one
frame, so they do not click.

Plugging into media streams
---------------------------
:meth:`ConferenceMixer.add_party` returns a :class:`PartyPort`: ``port.sink``
is the :class:`~sansip.audio.frames.FrameSink` the party's call writes what
it received to (mixer input), and ``port.source`` the
:class:`~sansip.audio.frames.FrameSource` the call reads what it sends from
(mixer output).  The media clock ticks the streams one after another, each
reading its source then writing its sink, so the mixer computes once per
tick, lazily:

- writes only queue the frame (at most ``max_backlog`` per party; older ones
  are dropped and counted in :attr:`ConferenceMixer.inputs_dropped`);
- a read starts a new mixer tick (:meth:`ConferenceMixer.tick`) when there
  was none yet, when the reading party has already read in the current one,
  or when ``now`` is at
  least half a frame past the ``now`` of the current one; the new tick mixes
  the oldest queued frame of every party, i.e. what the streams wrote during
  the previous media clock tick;
- every other read of the same tick returns the output already computed.

So whatever order the streams tick in, the mixer adds one frame (20 ms) of
latency and computes once per tick.  A driver may also call
:meth:`ConferenceMixer.tick` itself once per clock tick (before or after the
streams); reads then never trigger one, and the latency is the same.

The user's own microphone and speaker join as a party with
:meth:`ConferenceMixer.add_local_party`: on every tick the mixer reads the
microphone (this tick's frame, no added latency) and writes the party's
output to the speaker.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
from numpy.typing import NDArray

from sansip.audio.frames import (
    DEFAULT_FRAME_DURATION,
    AudioFrame,
    FrameSink,
    FrameSource,
    as_frame,
    frame_samples,
    silence,
)
from sansip.audio.resample import Resampler
from sansip.errors import LocalProtocolError

__all__ = [
    "LIMITER_CEILING",
    "LIMITER_RELEASE",
    "MAX_GAIN",
    "SOFT_KNEE",
    "ConferenceMixer",
    "PartyId",
    "PartyInput",
    "PartyOutput",
    "PartyPort",
    "PartySettings",
    "soft_clip",
]

#: Anything hashable names a party (a call id, a line number, "local").
PartyId: TypeAlias = Hashable

_FULL_SCALE: Final = 32767.0
#: Where the soft clipper leaves the straight line (fraction of full scale).
SOFT_KNEE: Final = 0.9
#: The peak the limiter aims an output at (fraction of full scale).
LIMITER_CEILING: Final = 0.85
#: Seconds for the limiter's gain to recover 63 % of the way back to 1.
LIMITER_RELEASE: Final = 0.1
#: The largest gain a party may have (+36 dB).
MAX_GAIN: Final = 64.0

_KNEE: Final = SOFT_KNEE * _FULL_SCALE
_KNEE_SPAN: Final = _FULL_SCALE - _KNEE
_CEILING: Final = LIMITER_CEILING * _FULL_SCALE
_HUGE: Final = 1e9  # far beyond the knee, well inside float32

Matrix: TypeAlias = NDArray[np.float32]


def soft_clip(samples: NDArray[np.floating]) -> AudioFrame:
    """``samples`` (floats in the int16 range, any shape) as int16, softly clipped.

    Values up to :data:`SOFT_KNEE` of full scale pass unchanged; above it a
    tanh knee bends them towards full scale, which they approach but never
    pass, so the curve is continuous, monotonic and bounded (no wrap-around).
    NaN becomes 0, infinities full scale.
    """
    values = np.nan_to_num(np.asarray(samples, dtype=np.float64), nan=0.0)
    bounded = np.clip(values, -_HUGE, _HUGE).astype(np.float32)
    return _soft_clip_float32(bounded)


def _soft_clip_float32(values: Matrix) -> AudioFrame:
    """:func:`soft_clip` of finite float32 ``values``, which it may overwrite."""
    magnitude = np.abs(values)
    if float(magnitude.max(initial=0.0)) > _KNEE:
        over = magnitude > _KNEE
        bent = _KNEE + _KNEE_SPAN * np.tanh((magnitude[over] - _KNEE) / _KNEE_SPAN)
        values[over] = np.copysign(bent, values[over])
    clipped: AudioFrame = np.clip(np.rint(values), -_FULL_SCALE, _FULL_SCALE).astype(np.int16)
    return clipped


@dataclass(frozen=True, slots=True)
class PartySettings:
    """How a party is mixed: its own ``rate``, ``gain`` (what the others hear
    of it), ``muted`` (the others do not hear it) and ``deaf`` (it hears
    nothing)."""

    rate: int
    gain: float
    muted: bool
    deaf: bool


class _SampleQueue:
    """Samples from a resampler, handed out a frame at a time.

    A short queue is padded with zeros; more than ``limit`` samples drop the
    oldest, so a resampler whose output length wobbles neither starves nor
    drifts the latency.
    """

    def __init__(self, limit: int) -> None:
        self._samples: AudioFrame = silence(0)
        self._limit = limit

    def push(self, samples: AudioFrame) -> None:
        joined = np.concatenate((self._samples, samples)) if len(self._samples) else samples
        self._samples = joined[-self._limit :]

    def pull(self, count: int) -> AudioFrame:
        out, self._samples = self._samples[:count], self._samples[count:]
        return out if len(out) == count else _fit(out, count)


def _fit(frame: AudioFrame, count: int) -> AudioFrame:
    """``frame`` cut or zero-padded to ``count`` samples."""
    if len(frame) == count:
        return frame
    if len(frame) > count:
        return frame[:count]
    return np.concatenate((frame, silence(count - len(frame))))


class _Party:
    """A party's settings and per-tick state (internal)."""

    def __init__(
        self,
        party_id: PartyId,
        rate: int,
        mixer_rate: int,
        frame_duration: float,
        max_backlog: int,
    ) -> None:
        self.party_id = party_id
        self.rate = rate
        self.samples = frame_samples(rate, frame_duration)
        self.gain = 1.0
        self.muted = False
        self.deaf = False
        self.removed = False
        self.resampling = rate != mixer_rate
        self.to_mixer: Resampler | None = None
        self.from_mixer: Resampler | None = None
        mixer_samples = frame_samples(mixer_rate, frame_duration)
        self.inbound = _SampleQueue(4 * mixer_samples)
        self.outbound = _SampleQueue(4 * self.samples)
        if self.resampling:
            self.to_mixer = Resampler(rate, mixer_rate)
            self.from_mixer = Resampler(mixer_rate, rate)
        self.queued: deque[AudioFrame] = deque(maxlen=max_backlog)
        self.output: AudioFrame = silence(self.samples)
        self.served = False
        self.mic: FrameSource | None = None
        self.speaker: FrameSink | None = None

    @property
    def settings(self) -> PartySettings:
        return PartySettings(self.rate, self.gain, self.muted, self.deaf)

    def to_mixer_rate(self, frame: AudioFrame | None, count: int) -> AudioFrame:
        """This party's input frame at the mixer rate, exactly ``count`` samples."""
        if frame is None:
            own = silence(self.samples)
        else:
            if frame.dtype != np.int16:  # floats: rounded, clipped, NaN as 0
                frame = as_frame(np.nan_to_num(frame))
            own = _fit(frame, self.samples)
        if self.to_mixer is None:
            return _fit(own, count)
        self.inbound.push(self.to_mixer.process(own))
        return self.inbound.pull(count)

    def from_mixer_rate(self, frame: AudioFrame) -> AudioFrame:
        """A mixer-rate output frame at this party's rate."""
        if self.from_mixer is None:
            return frame
        self.outbound.push(self.from_mixer.process(frame))
        return self.outbound.pull(self.samples)


class PartyInput:
    """The :class:`~sansip.audio.frames.FrameSink` of a party: what its call
    received goes into the mixer (queued until the next mixer tick)."""

    def __init__(self, mixer: ConferenceMixer, party: _Party) -> None:
        self._mixer = mixer
        self._party = party

    def write(self, frame: AudioFrame) -> None:
        """Queue ``frame`` as the party's next input (dropped once the party left)."""
        self._mixer._queue_input(self._party, frame)


class PartyOutput:
    """The :class:`~sansip.audio.frames.FrameSource` of a party: what its call
    sends comes out of the mixer (see the module docstring for the timing)."""

    def __init__(self, mixer: ConferenceMixer, party: _Party) -> None:
        self._mixer = mixer
        self._party = party

    def read(self, now: float | None = None) -> AudioFrame:
        """This tick's mix for the party (silence once the party left)."""
        return self._mixer._read_output(self._party, now)


@dataclass(frozen=True, slots=True)
class PartyPort:
    """A party's two ends: give ``source`` and ``sink`` to its media stream."""

    party_id: PartyId
    sink: PartyInput
    source: PartyOutput


def _check_gain(gain: float) -> float:
    value = float(gain)
    if not (math.isfinite(value) and 0.0 <= value <= MAX_GAIN):
        raise LocalProtocolError(f"a gain is a number from 0 to {MAX_GAIN}, not {gain!r}")
    return value


class ConferenceMixer:
    """Mix-minus for any number of parties (see the module docstring).

    ``rate`` and ``frame_duration`` fix the mixing grid; ``max_backlog`` is
    how many input frames a party's sink holds between two mixer ticks.
    """

    def __init__(
        self,
        rate: int = 16000,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        *,
        max_backlog: int = 2,
    ) -> None:
        if max_backlog < 1:
            raise LocalProtocolError("max_backlog must be at least 1")
        self.rate = rate
        self.frame_duration = frame_duration
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self._max_backlog = max_backlog
        self._parties: dict[PartyId, _Party] = {}
        self._order: list[_Party] = []
        self._inputs: Matrix = np.zeros((0, self.samples_per_frame), dtype=np.float32)
        self._applied = np.zeros(0, dtype=np.float32)  # gains used in the last mix
        self._limiter = np.ones(0, dtype=np.float32)
        self._release = math.exp(-frame_duration / LIMITER_RELEASE)
        # The weights of a one-frame linear ramp: 1/n, 2/n, ..., 1.
        self._ramp: Matrix = (np.arange(1, self.samples_per_frame + 1)
                              / self.samples_per_frame).astype(np.float32)  # fmt: skip
        self._round_now: float | None = None
        self._half_frame = frame_duration / 2
        #: Mixer ticks computed so far.
        self.ticks = 0
        #: Input frames dropped because a party's sink held ``max_backlog`` already.
        self.inputs_dropped = 0

    # -- parties -----------------------------------------------------------------------
    @property
    def parties(self) -> tuple[PartyId, ...]:
        """The parties, in the order they joined."""
        return tuple(self._parties)

    def __len__(self) -> int:
        return len(self._parties)

    def __contains__(self, party_id: object) -> bool:
        return party_id in self._parties

    def add_party(
        self,
        party_id: PartyId,
        *,
        rate: int | None = None,
        gain: float = 1.0,
        muted: bool = False,
        deaf: bool = False,
    ) -> PartyPort:
        """Add a party whose frames are at ``rate`` Hz (default: the mixer's);
        returns the port its media stream reads from and writes to."""
        if party_id in self._parties:
            raise LocalProtocolError(f"party {party_id!r} is already in the conference")
        party = _Party(party_id, rate or self.rate, self.rate, self.frame_duration,
                       self._max_backlog)  # fmt: skip
        party.gain, party.muted, party.deaf = _check_gain(gain), bool(muted), bool(deaf)
        self._parties[party_id] = party
        self._rebuild()
        return PartyPort(party_id, PartyInput(self, party), PartyOutput(self, party))

    def add_local_party(
        self,
        mic: FrameSource | None,
        speaker: FrameSink | None,
        *,
        party_id: PartyId = "local",
        rate: int | None = None,
        gain: float = 1.0,
        muted: bool = False,
        deaf: bool = False,
    ) -> PartyPort:
        """Add the user's own microphone and speaker (at ``rate``) as a party:
        every mixer tick reads one frame from ``mic`` and writes the party's
        output to ``speaker`` (either may be None)."""
        port = self.add_party(party_id, rate=rate, gain=gain, muted=muted, deaf=deaf)
        party = self._parties[party_id]
        party.mic, party.speaker = mic, speaker
        return port

    def remove_party(self, party_id: PartyId) -> None:
        """Take a party out; its port then reads silence and drops writes."""
        party = self._party(party_id)
        party.removed = True
        del self._parties[party_id]
        self._rebuild()

    def set_gain(self, party_id: PartyId, gain: float) -> None:
        """How loud the others hear ``party_id`` (linear, 1.0 = unchanged)."""
        self._party(party_id).gain = _check_gain(gain)

    def set_mute(self, party_id: PartyId, muted: bool) -> None:
        """Muted: the others do not hear ``party_id`` (it still hears them)."""
        self._party(party_id).muted = bool(muted)

    def set_deaf(self, party_id: PartyId, deaf: bool) -> None:
        """Deaf: ``party_id`` hears nothing (the others still hear it)."""
        self._party(party_id).deaf = bool(deaf)

    def settings(self, party_id: PartyId) -> PartySettings:
        """A party's current settings."""
        return self._party(party_id).settings

    def _party(self, party_id: PartyId) -> _Party:
        try:
            return self._parties[party_id]
        except KeyError:
            raise LocalProtocolError(f"no party {party_id!r} in the conference") from None

    def _rebuild(self) -> None:
        """Resize the per-party arrays after a party joined or left."""
        old = {id(party): index for index, party in enumerate(self._order)}
        self._order = list(self._parties.values())
        count = len(self._order)
        self._inputs = np.zeros((count, self.samples_per_frame), dtype=np.float32)
        applied = np.zeros(count, dtype=np.float32)  # a newcomer fades in
        limiter = np.ones(count, dtype=np.float32)
        for index, party in enumerate(self._order):
            before = old.get(id(party))
            if before is not None:
                applied[index] = self._applied[before]
                limiter[index] = self._limiter[before]
        self._applied, self._limiter = applied, limiter

    # -- mixing ------------------------------------------------------------------------
    def mix(self, inputs: Mapping[Any, AudioFrame]) -> dict[PartyId, AudioFrame]:
        """One tick: each party's frame in (at its own rate; missing = silence,
        unknown ids ignored), each party's mix-minus out (at its own rate).

        Stateful (resamplers, limiter, gain ramps): call it once per tick.
        """
        order = self._order
        if not order:
            return {}
        size = self.samples_per_frame
        matrix = self._inputs
        gains = np.array([0.0 if party.muted else party.gain for party in order],
                         dtype=np.float32)  # fmt: skip
        previous = self._applied
        for index, party in enumerate(order):
            if gains[index] == 0.0 and previous[index] == 0.0:
                continue  # not heard this tick nor the last: its row counts for 0
            matrix[index] = party.to_mixer_rate(inputs.get(party.party_id), size)
        contributions = self._weighted(matrix, gains)
        total = contributions.sum(axis=0)
        mixed: Matrix = total[None, :] - contributions
        self._limit(mixed)
        pcm = _soft_clip_float32(mixed)
        outputs: dict[PartyId, AudioFrame] = {}
        for index, party in enumerate(order):
            out = silence(size) if party.deaf else pcm[index]
            outputs[party.party_id] = party.from_mixer_rate(out)
        return outputs

    def _weighted(self, matrix: Matrix, target: NDArray[np.float32]) -> Matrix:
        """Inputs times their gains; a changed gain ramps over the frame."""
        previous = self._applied
        self._applied = target
        if np.array_equal(previous, target):
            weighted: Matrix = matrix * target[:, None]
            return weighted
        gains = previous[:, None] + (target - previous)[:, None] * self._ramp[None, :]
        ramped: Matrix = matrix * gains
        return ramped

    def _limit(self, mixed: Matrix) -> None:
        """Scale each output (in place) so its peak stays under the ceiling."""
        peaks = np.abs(mixed).max(axis=1)
        previous = self._limiter
        wanted = np.minimum(1.0, _CEILING / np.maximum(peaks, 1.0)).astype(np.float32)
        recovered = 1.0 - (1.0 - previous) * self._release
        target = np.minimum(wanted, recovered).astype(np.float32)
        self._limiter = target
        if float(previous.min(initial=1.0)) >= 1.0 and float(target.min(initial=1.0)) >= 1.0:
            return
        mixed *= previous[:, None] + (target - previous)[:, None] * self._ramp[None, :]

    # -- tick-driven use (ports and local devices) -------------------------------------
    def tick(self, now: float | None = None) -> None:
        """Mix the oldest queued input of every party (and this tick's
        microphone frame); the outputs are what the ports read until the next
        tick, and the local party's goes to its speaker."""
        inputs: dict[PartyId, AudioFrame] = {}
        for party in self._order:
            if party.mic is not None:
                inputs[party.party_id] = party.mic.read(now)
            elif party.queued:
                inputs[party.party_id] = party.queued.popleft()
        outputs = self.mix(inputs)
        for party in self._order:
            party.output = outputs[party.party_id]
            party.served = False
            if party.speaker is not None:
                party.speaker.write(party.output)
        self._round_now = now
        self.ticks += 1

    def _queue_input(self, party: _Party, frame: AudioFrame) -> None:
        if party.removed:
            return
        if len(party.queued) == self._max_backlog:
            self.inputs_dropped += 1
        party.queued.append(np.array(frame, dtype=np.int16, copy=True))

    def _read_output(self, party: _Party, now: float | None) -> AudioFrame:
        if party.removed:
            return silence(party.samples)
        started = self._round_now
        if (
            party.served
            or not self.ticks
            or (now is not None and started is not None and now - started >= self._half_frame)
        ):
            self.tick(now)
        party.served = True
        return party.output
