"""Which codecs a phone can use, checked before it starts: the ``codec``,
``prefcodec`` and ``use_<codec>`` parameters against the codecs that can
run on this machine (Opus needs libopus)."""

from __future__ import annotations

from collections.abc import Mapping

from sansip.audio.codecs import available_codecs, unavailable_codecs
from sansip.errors import LocalProtocolError
from sansip.sdp import CodecPreferences, codec_preferences

__all__ = ["CodecError", "check_codecs", "codecs_of"]


class CodecError(LocalProtocolError):
    """A codec name that is no codec, or no codec left that can run here."""


def codecs_of(values: Mapping[str, str]) -> CodecPreferences:
    """The preferences of ``codec``, ``prefcodec`` and ``use_<codec>`` in
    ``values``; :class:`CodecError` for a name that is no codec (it names
    the closest known one)."""
    try:
        return codec_preferences(
            codec=values.get("codec", ""), prefcodec=values.get("prefcodec", ""),
            use={k: v for k, v in values.items() if k.startswith("use_")},
        )  # fmt: skip
    except LocalProtocolError as exc:
        raise CodecError(str(exc)) from None


def check_codecs(values: Mapping[str, str], *, offering: bool, media: bool = True) -> list[str]:
    """Whether calls with these codec parameters can have audio: the
    warnings to show (a codec sansip does not have), or :class:`CodecError`
    when a name is no codec or, with ``media``, no codec that can run here is
    left to offer (``offering``) or to accept; the error says what cannot
    run and why (the package to install)."""
    codecs = codecs_of(values)
    runnable = codecs.restrict(available_codecs())
    if media and not (runnable.offered if offering else runnable.accepted):
        reasons = unavailable_codecs()
        why = "; ".join(f"{c.name} cannot run here: {reasons.get(c.name, 'unavailable')}"
                        for c in runnable.unavailable)  # fmt: skip
        what = "offer" if offering else "accept"
        raise CodecError(f"no codec to {what}" + (f" ({why})" if why else ""))
    return list(codecs.warnings)
