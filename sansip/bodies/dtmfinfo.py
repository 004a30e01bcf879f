"""DTMF in SIP INFO requests: application/dtmf-relay and application/dtmf.

application/dtmf-relay carries key=value lines::

    Signal=5
    Duration=160

application/dtmf carries the digit alone (``5``).  Digits are 0-9, ``*``,
``#`` and A-D; as some PBXs do, the RFC 4733 event numbers are read too
(``Signal=10`` is ``*``, ``11`` is ``#``, 12-15 are A-D).  Durations are
in milliseconds; a body without one gets :data:`DEFAULT_DURATION`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sansip.bodies.errors import BodyError
from sansip.errors import LocalProtocolError

__all__ = [
    "DEFAULT_DURATION",
    "DIGITS",
    "MAX_DURATION",
    "Dtmf",
    "build_dtmf",
    "build_dtmf_relay",
    "parse_dtmf",
    "parse_dtmf_relay",
]

#: The DTMF digits, in RFC 4733 event order (event 10 is ``*``).
DIGITS = "0123456789*#ABCD"
#: Duration (ms) of a digit whose body gives none.
DEFAULT_DURATION = 250
#: Longest duration (ms) read or written: ten minutes.
MAX_DURATION = 600_000
_MAX_SIZE = 4096


@dataclass(frozen=True)
class Dtmf:
    """One DTMF digit (one of :data:`DIGITS`) and its duration in ms."""

    digit: str
    duration: int = DEFAULT_DURATION


def _digit(signal: str) -> str:
    signal = signal.strip(" \t").upper()
    if len(signal) == 1 and signal in DIGITS:
        return signal
    if signal.isascii() and signal.isdigit() and len(signal) <= 2 and int(signal) < len(DIGITS):
        return DIGITS[int(signal)]
    raise BodyError("DTMF signal is not a digit")


def _text(data: bytes) -> str:
    if len(data) > _MAX_SIZE:
        raise BodyError(f"DTMF body larger than {_MAX_SIZE} bytes", 413)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("DTMF body is not UTF-8") from None


def parse_dtmf_relay(data: bytes) -> Dtmf:
    """Parse an application/dtmf-relay body (``Signal=``, ``Duration=``;
    keys in any case and order, other keys ignored); raises
    :class:`BodyError` without exactly one Signal or with a bad value."""
    signal: str | None = None
    duration: int | None = None
    for line in _text(data).replace("\r\n", "\n").split("\n"):
        if not line.strip(" \t"):
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise BodyError("DTMF relay line without '='")
        key, value = key.strip(" \t").lower(), value.strip(" \t")
        if key == "signal":
            if signal is not None:
                raise BodyError("DTMF relay body with two Signal lines")
            signal = _digit(value)
        elif key == "duration":
            if duration is not None:
                raise BodyError("DTMF relay body with two Duration lines")
            if not value.isascii() or not value.isdigit() or len(value) > 9:
                raise BodyError("DTMF duration is not a number")
            duration = int(value)
            if duration > MAX_DURATION:
                raise BodyError("DTMF duration too long")
    if signal is None:
        raise BodyError("DTMF relay body without Signal")
    return Dtmf(signal, DEFAULT_DURATION if duration is None else duration)


def parse_dtmf(data: bytes) -> Dtmf:
    """Parse an application/dtmf body: one digit (or event number), with
    :data:`DEFAULT_DURATION`; a body in the dtmf-relay form is read as
    such.  Raises :class:`BodyError` for anything else."""
    text = _text(data)
    if "=" in text:
        return parse_dtmf_relay(data)
    return Dtmf(_digit(text.strip(" \t\r\n")))


def _checked(digit: str, duration: int) -> str:
    if len(digit) != 1 or digit.upper() not in DIGITS:
        raise LocalProtocolError(f"{digit!r} is not a DTMF digit")
    if not 0 <= duration <= MAX_DURATION:
        raise LocalProtocolError(f"DTMF duration {duration} out of range")
    return digit.upper()


def build_dtmf_relay(digit: str, duration: int = DEFAULT_DURATION) -> bytes:
    """The application/dtmf-relay body ``Signal=<digit>\\r\\nDuration=<ms>\\r\\n``.

    Raises :class:`LocalProtocolError` for a character that is not a DTMF
    digit or a duration outside 0..:data:`MAX_DURATION`.
    """
    return f"Signal={_checked(digit, duration)}\r\nDuration={duration}\r\n".encode("ascii")


def build_dtmf(digit: str) -> bytes:
    """The application/dtmf body: the digit alone.  Raises
    :class:`LocalProtocolError` for a character that is not a DTMF digit."""
    return _checked(digit, 0).encode("ascii")
