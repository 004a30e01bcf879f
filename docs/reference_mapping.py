"""Writes docs/reference-mapping.md: every function, callback and parameter
of the reference client's vocabulary and what sansip offers for it.

    python docs/reference_mapping.py          # rewrite the file
    python docs/reference_mapping.py --check  # exit 1 if it is out of date

The tests run the check, so the file cannot drift from the code: the
parameter table comes from sansip.phone.params, and every name the tables
below give as sansip's is looked up on the phone classes."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sansip.phone.params import render_markdown  # noqa: E402

OUT = ROOT / "docs" / "reference-mapping.md"

#: (reference function, sansip name or "", status when not offered)
FUNCTIONS: list[tuple[str, str, str]] = [
    # lifecycle, settings, registration
    ("setparameter", "setparameter", ""), ("getparameter", "getparameter", ""),
    ("start", "start", ""), ("stop", "stop", ""), ("register", "register", ""),
    ("registerex", "registerex", ""),
    ("unregister", "unregister", ""), ("delsettings", "delsettings", ""),
    ("getworkdir", "", "ignored (no engine working directory; see history=)"),
    ("getenginename", "getenginename", ""), ("getregfailreason", "getregfailreason", ""),
    ("jvoip", "", "ignored (native engine passthrough)"),
    ("get_version_ns_num / get_version_ns", "", "ignored (browser plugin only)"),
    # calls
    ("call", "call", ""), ("videocall", "", "not yet (video)"),
    ("hangup", "hangup", ""), ("accept", "accept", ""), ("reject", "reject", ""),
    ("ignore", "ignore", ""), ("forward", "forward", "302 with the target as Contact"),
    ("hold", "hold", ""), ("mute", "mute", ""), ("mutevideo", "", "not yet (video)"),
    ("transfer", "transfer", "REFER; '' with two calls: attended, with Replaces"),
    ("conference", "conference", "the local mixer (conferencetype 2)"),
    ("dtmf", "dtmf", ""), ("play", "play", ""), ("voicerecord", "voicerecord", ""),
    ("screenshare / stopscreenshare", "", "ignored (browser only)"),
    ("nextcallid", "nextcallid", "returns the Call-ID"),
    # messaging, presence, BLF
    ("sendchat", "sendchat", ""), ("sendsms", "sendsms", "MESSAGE with X-Sms: yes"),
    ("checkpresence", "checkpresence", "SUBSCRIBE presence"),
    ("setpresencestatus", "setpresencestatus", "to watchers peer to peer; no PUBLISH to a "
     "presence server yet"),
    ("checkblf", "checkblf", "SUBSCRIBE dialog; our own calls are offered to watchers"),
    # devices
    ("getdevicelist", "getdevicelist", "with audio=AudioPlan(devices=True)"),
    ("getdevice", "getdevice", "with audio=AudioPlan(devices=True)"),
    ("setdevice", "setdevice", "with audio=AudioPlan(devices=True)"),
    ("getvolume", "getvolume", ""), ("setvolume", "setvolume", "with audio=AudioPlan(...)"),
    ("setloudspeaker", "", "ignored (mobile only)"), ("devicepopup", "", "ignored (UI)"),
    ("setvideodisplaysize", "", "ignored (UI)"),
    # SIP headers and raw messages
    ("setsipheader", "setsipheader", ""), ("getsipheader", "getsipheader", ""),
    ("getsipmessage", "getsipmessage", "returns the text; sipmessages() gives every kept one"),
    ("getlastrecinvite", "getlastrecinvite", ""),
    ("getlastsentinvite", "getlastsentinvite", ""),
    # lines and state
    ("setline", "setline", ""), ("getline", "getline", ""),
    ("linetocallid", "linetocallid", ""), ("callidtoline", "callidtoline", ""),
    ("getlinedetails", "getlinedetails", ""), ("getlastcalldetails", "getlastcalldetails", ""),
    ("getcallerdisplayfull", "getcallerdisplayfull", ""),
    ("isregistered", "isregistered", ""), ("isincall", "isincall", ""),
    ("ismuted", "ismuted", ""), ("isonhold", "isonhold", ""),
    ("isencrypted", "isencrypted", "SRTP media and TLS signalling: 2 both, 1 one of them"),
    ("getStatus", "", "not yet (the global STATUS text)"),
    ("getlogs", "getlogs", "the SIP messages kept; Python logging has the rest"),
    # contacts and history
    ("listcallhistory", "listcallhistory", ""), ("listcontacts", "listcontacts", ""),
    ("addcontact", "addcontact", ""), ("getcontact", "getcontact", ""),
    ("delcontact", "delcontact", ""), ("delallcontacts", "delallcontacts", ""),
    ("getrtcsocket / getcallsession / getrtcpeerconnection", "", "ignored (browser only)"),
]  # fmt: skip

CALLBACKS: list[tuple[str, str, str]] = [
    ("onAppStateChange", "on_app_state_change", ""),
    ("onRegStateChange", "on_reg_state_change", ""),
    ("onCallStateChange", "on_call_state_change", ""),
    ("onPresenceStateChange", "on_presence_state_change", ""),
    ("onBLFStateChange", "on_blf_state_change", ""),
    ("onChat", "on_chat", ""),
    ("onSMS", "on_chat", "an SMS gateway's MESSAGE arrives as a chat message"),
    ("onDTMF", "on_dtmf", ""), ("onCdr", "on_cdr", ""), ("onEvent", "on_event", ""),
]  # fmt: skip


def _rows(entries: list[tuple[str, str, str]]) -> list[str]:
    rows = ["| reference | sansip | status |", "|---|---|---|"]
    for reference, name, status in entries:
        rows.append(f"| `{reference}` | {f'`{name}`' if name else ''} | {status or 'works'} |")
    return rows


def render() -> str:
    """The whole document."""
    lines = [
        "# The reference vocabulary in sansip",
        "",
        "sansip's phone API (`sansip.phone`: `AsyncPhone`, `Phone`, `TrioPhone`) uses the",
        "function, callback and parameter names of a classic full-featured SIP client.",
        "This table says, for each of them, what sansip offers: the name to use, or",
        "\"not yet\" with the capability it waits for, or \"ignored\" with why.",
        "Generated by `docs/reference_mapping.py` (the tests check it is current).",
        "",
        "Functions return their result instead of handing it to a callback; they",
        "run where the phone's core lives and return at once (`register` waits for",
        "the outcome; in asyncio and trio `start`, `register` and `call` are coroutines).",
        "",
        "## Functions",
        "",
        *_rows(FUNCTIONS),
        "",
        "## Callbacks",
        "",
        "Each takes a function; several accumulate; `None` clears the list.",
        "`on_phone_event` (sansip's own) gets every event as a dataclass.",
        "",
        *_rows(CALLBACKS),
        "",
        "## Parameters",
        "",
        "From (lowest first) the defaults, a `sansip.toml` file, `SANSIP_<NAME>`",
        "environment variables, `-p name=value`, and `setparameter()`. Every one is",
        "typed and checked; \"active\" ones are acted on, \"planned\" ones wait for",
        "the part named (a test keeps this in step with the code), \"ignored\" ones",
        "never will be, for the reason given.",
        "",
        render_markdown().rstrip(),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        return 0 if OUT.exists() and OUT.read_text(encoding="utf-8") == text else 1
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
