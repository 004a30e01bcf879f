"""What a phone does with an incoming call before anyone answers it:
the forwarding rules (``callforwardalways``, ``callforwardonbusy``,
``callforwardonnoanswer`` after ``callforwardonnoanswertimeout``) and the
automatic answer a caller or server may ask for (``enableautoaccept``:
1 when the INVITE has ``autoacceptheader``; 2 also on the usual hints —
``Call-Info: ...;answer-after=N``, ``Alert-Info`` with ``auto answer`` or
``alert-autoanswer``, RFC 5373 ``Answer-Mode: Auto``, ``Auto-Answer``,
``x-p-auto-answer: normal``, ``x-answer-mode: auto``; 3 every call)."""

from __future__ import annotations

import re

from sansip.message import ParseError, Request
from sansip.message.address import parse_name_addr
from sansip.phone.coreconfig import PhoneConfig

__all__ = ["auto_answer_delay", "caller_identity", "forward_rule"]

_ANSWER_AFTER = re.compile(r"answer-after\s*=\s*(\d{1,5})", re.IGNORECASE)


def forward_rule(config: PhoneConfig, *, busy: bool) -> tuple[str, str] | None:
    """``(target, reason)`` when an incoming call is forwarded at once:
    always, or while busy; None otherwise (a no-answer rule acts later)."""
    if config.callforwardalways:
        return config.callforwardalways, "forwardalways"
    if busy and config.callforwardonbusy:
        return config.callforwardonbusy, "forwardonbusy"
    return None


def _header(invite: Request, name: str) -> str:
    return ", ".join(str(v) for v in invite.headers.get_all(name)).lower()


def auto_answer_delay(invite: Request, config: PhoneConfig) -> float | None:
    """Seconds after which ``invite``'s call is answered by itself (0: at
    once), or None (it rings until someone answers)."""
    mode = config.enableautoaccept
    if mode >= 3:
        return 0.0
    wanted = config.autoacceptheader.strip()
    if mode >= 1 and wanted:
        name, _, value = wanted.partition(":")
        got = _header(invite, name.strip())
        if got and (not value.strip() or value.strip().lower() in got):
            return 0.0
    if mode < 2:
        return None
    call_info = _header(invite, "Call-Info")
    if (after := _ANSWER_AFTER.search(call_info)) is not None:
        return float(after.group(1))
    alert = _header(invite, "Alert-Info")
    if "auto answer" in alert or "autoanswer" in alert or "auto-answer" in alert:
        return 0.0
    hints = (("answer-mode", "auto"), ("auto-answer", ""), ("x-p-auto-answer", "normal"),
             ("x-answer-mode", "auto"))  # fmt: skip
    for name, value in hints:
        got = _header(invite, name)
        if got and value in got:
            return 0.0
    return None


def caller_identity(invite: Request) -> tuple[str, str] | None:
    """The caller as the network asserts it: the user (or URI) and display
    name of ``P-Asserted-Identity`` (RFC 3325), else ``Remote-Party-ID``;
    None when the INVITE has neither (the From header then says who calls)."""
    for name in ("P-Asserted-Identity", "Remote-Party-ID"):
        value = invite.headers.get(name)
        if value is None:
            continue
        try:
            identity = parse_name_addr(str(value).split(",")[0].strip(), name)
        except ParseError:
            continue
        uri = identity.uri
        user = getattr(uri, "user", None)
        return (str(user) if user else str(uri)), identity.display_name or ""
    return None
