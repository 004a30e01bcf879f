"""RFC 4235 dialog-info documents, their merging and the BLF state."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import (
    BodyError,
    Dialog,
    DialogInfo,
    MergeResult,
    Participant,
    blf_state,
    build_dialog_info,
    merge_dialog_info,
    parse_body,
    parse_dialog_info,
)
from sansip.bodies.dialoginfo import BLF_STATES
from sansip.errors import LocalProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, attribute, junk, mutated, uris, xml_text

# A PBX's full state for an extension answering a call.
PBX_CONFIRMED = b"""<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" xmlns:sa="urn:ietf:params:xml:ns:sa"
 version="3" state="full" entity="sip:1001@pbx.example.com">
 <sa:exten>1001</sa:exten>
 <dialog id="1001" direction="recipient">
  <state>confirmed</state>
  <local>
   <identity display="Reception">sip:1001@pbx.example.com</identity>
   <target uri="sip:1001@pbx.example.com"/>
  </local>
  <remote>
   <identity display="Alice">sip:2002@pbx.example.com</identity>
   <target uri="sip:2002@pbx.example.com"/>
  </remote>
 </dialog>
</dialog-info>
"""

# The same extension idle again.
PBX_IDLE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info '
    b'xmlns="urn:ietf:params:xml:ns:dialog-info" version="4" state="full" '
    b'entity="sip:1001@pbx.example.com"><dialog id="1001"><state>terminated</state></dialog>'
    b"</dialog-info>\n"
)

# A proxy's partial update: one dialog ended by the remote party's BYE.
PROXY_PARTIAL = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="5" state="partial"
    entity="sip:bob@example.org">
  <dialog id="ZGlhbG9nMQ" call-id="3c26700d0b4a@192.0.2.4" local-tag="6a3f" remote-tag="77b1"
      direction="recipient">
    <state event="remote-bye" code="200">terminated</state>
    <duration>134</duration>
    <remote><identity>sip:alice@example.org</identity>
      <target uri="sip:alice@192.0.2.4:5060"/></remote>
    <local><identity>sip:bob@example.org</identity></local>
  </dialog>
</dialog-info>
"""

# RFC 4235's example of an outgoing call in the early state.
RFC_EARLY = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
  version="0" state="full" entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710" local-tag="1928301774"
    direction="initiator">
    <state>early</state>
  </dialog>
</dialog-info>
"""


def test_pbx_confirmed_call() -> None:
    doc = parse_dialog_info(PBX_CONFIRMED)
    assert (doc.entity, doc.version, doc.state) == ("sip:1001@pbx.example.com", 3, "full")
    (dialog,) = doc.dialogs
    assert dialog == Dialog(
        "1001",
        "confirmed",
        direction="recipient",
        local=Participant("sip:1001@pbx.example.com", "Reception", "sip:1001@pbx.example.com"),
        remote=Participant("sip:2002@pbx.example.com", "Alice", "sip:2002@pbx.example.com"),
    )
    assert blf_state(doc) == ("receiver", "confirmed")
    assert doc.dialog("1001") is dialog and doc.dialog("x") is None


def test_pbx_idle() -> None:
    assert blf_state(parse_dialog_info(PBX_IDLE)) == ("undefined", "terminated")


def test_proxy_partial_update() -> None:
    doc = parse_dialog_info(PROXY_PARTIAL)
    assert doc.state == "partial" and doc.version == 5
    (dialog,) = doc.dialogs
    assert (dialog.call_id, dialog.local_tag, dialog.remote_tag) == (
        "3c26700d0b4a@192.0.2.4",
        "6a3f",
        "77b1",
    )
    assert (dialog.state, dialog.event, dialog.code, dialog.duration) == (
        "terminated",
        "remote-bye",
        200,
        134,
    )
    assert dialog.remote == Participant("sip:alice@example.org", None, "sip:alice@192.0.2.4:5060")
    assert dialog.local == Participant("sip:bob@example.org")


def test_rfc_early_dialog() -> None:
    doc = parse_dialog_info(RFC_EARLY)
    assert blf_state(doc) == ("initiator", "early")
    assert parse_body("application/dialog-info+xml", RFC_EARLY) == doc


# ------------------------------------------------------------------ merging


def _info(version: int, state: str, *dialogs: tuple[str, str]) -> DialogInfo:
    return DialogInfo("sip:b@x", version, state, tuple(Dialog(i, s) for i, s in dialogs))


def test_first_full_document_is_taken() -> None:
    full = _info(0, "full", ("a", "trying"))
    assert merge_dialog_info(None, full) == MergeResult(full, applied=True)


def test_partial_updates_replace_and_add_dialogs() -> None:
    view = _info(1, "full", ("a", "early"), ("b", "confirmed"))
    result = merge_dialog_info(view, _info(2, "partial", ("a", "confirmed"), ("c", "trying")))
    assert result == MergeResult(
        _info(2, "full", ("a", "confirmed"), ("b", "confirmed"), ("c", "trying")), True
    )


def test_stale_and_repeated_versions_are_ignored() -> None:
    view = _info(4, "full", ("a", "early"))
    for version in (0, 3, 4):
        for state in ("full", "partial"):
            update = _info(version, state, ("a", "terminated"))
            assert merge_dialog_info(view, update) == MergeResult(view, applied=False)


def test_a_gap_asks_for_a_refresh() -> None:
    view = _info(1, "full", ("a", "early"))
    result = merge_dialog_info(view, _info(3, "partial", ("a", "confirmed")))
    assert result.applied and result.refresh
    assert result.info == _info(3, "full", ("a", "confirmed"))
    assert merge_dialog_info(view, _info(7, "full")) == MergeResult(_info(7, "full"), True)


def test_a_first_partial_asks_for_a_refresh() -> None:
    result = merge_dialog_info(None, _info(5, "partial", ("a", "early")))
    assert result == MergeResult(_info(5, "full", ("a", "early")), True, refresh=True)


def test_terminated_dialogs_are_dropped_after_being_reported() -> None:
    view = _info(1, "full", ("a", "confirmed"), ("b", "early"))
    ended = merge_dialog_info(view, _info(2, "partial", ("a", "terminated"))).info
    assert ended == _info(2, "full", ("a", "terminated"), ("b", "early"))
    assert ended is not None
    later = merge_dialog_info(ended, _info(3, "partial", ("b", "confirmed"))).info
    assert later == _info(3, "full", ("b", "confirmed"))


def test_parsed_documents_merge() -> None:
    view = merge_dialog_info(None, parse_dialog_info(PBX_CONFIRMED)).info
    idle = merge_dialog_info(view, parse_dialog_info(PBX_IDLE))
    assert idle.applied and not idle.refresh and idle.info is not None
    assert blf_state(idle.info) == ("undefined", "terminated")


# -------------------------------------------------------------------- BLF


@pytest.mark.parametrize(
    ("dialogs", "expected"),
    [
        ((), ("undefined", "terminated")),
        ((("initiator", "trying"),), ("initiator", "trying")),
        ((("recipient", "proceeding"),), ("receiver", "proceeding")),
        ((("recipient", "early"), (None, "confirmed")), ("undefined", "confirmed")),
        ((("initiator", "Terminated"), ("recipient", "early")), ("receiver", "early")),
        ((("initiator", "on-hold"),), ("initiator", "unknown")),
        ((("sideways", "confirmed"),), ("undefined", "confirmed")),
        ((("initiator", "early"), ("recipient", "early")), ("initiator", "early")),
    ],
)
def test_blf_state(dialogs: tuple[tuple[str | None, str], ...], expected: tuple[str, str]) -> None:
    doc = DialogInfo(
        "sip:b@x",
        0,
        "full",
        tuple(Dialog(str(i), s, direction=d) for i, (d, s) in enumerate(dialogs)),
    )
    assert blf_state(doc) == expected


# ---------------------------------------------------------------- building


def test_build_for_our_own_call() -> None:
    doc = DialogInfo(
        "sip:alice@example.com",
        7,
        "full",
        (
            Dialog(
                "d1",
                "confirmed",
                call_id="abc@192.0.2.1",
                local_tag="lt",
                remote_tag="rt",
                direction="initiator",
                duration=12,
                local=Participant("sip:alice@example.com", "Alice & Co", "sip:alice@192.0.2.1"),
                remote=Participant("sip:bob@example.com"),
            ),
            Dialog("d2", "terminated", event="rejected", code=486),
        ),
    )
    body = build_dialog_info(doc)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info ')
    assert b'version="7" state="full"' in body and b"Alice &amp; Co" in body
    assert parse_dialog_info(body) == doc


@pytest.mark.parametrize(
    "doc",
    [
        DialogInfo("e", -1),
        DialogInfo("e", 2**64),
        DialogInfo("e", 0, "some"),
        DialogInfo("e", 0, "full", (Dialog("d", " "),)),
        DialogInfo("e", 0, "full", (Dialog("d", "\r\n\t"),)),
        DialogInfo("e", 0, "full", (Dialog("d", "early", code=99),)),
        DialogInfo("e", 0, "full", (Dialog("d", "early", duration=-1),)),
        DialogInfo("e\x00", 0),
    ],
)
def test_builder_refusals(doc: DialogInfo) -> None:
    with pytest.raises(LocalProtocolError):
        build_dialog_info(doc)


_ROOT = b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"'
MALFORMED = {
    "wrong root": b'<dialog xmlns="urn:ietf:params:xml:ns:dialog-info"/>',
    "no namespace": b'<dialog-info version="0" state="full" entity="e"/>',
    "no entity": _ROOT + b' version="0" state="full"/>',
    "no version": _ROOT + b' state="full" entity="e"/>',
    "bad version": _ROOT + b' version="-1" state="full" entity="e"/>',
    "huge version": _ROOT + b' version="18446744073709551616" state="full" entity="e"/>',
    "unicode digits": _ROOT + ' version="٣" state="full" entity="e"/>'.encode(),
    "bad state": _ROOT + b' version="0" state="delta" entity="e"/>',
    "dialog without id": _ROOT + b' version="0" state="full" entity="e"><dialog>'
    b"<state>early</state></dialog></dialog-info>",
    "dialog without state": _ROOT + b' version="0" state="full" entity="e">'
    b'<dialog id="d"/></dialog-info>',
    "bad code": _ROOT + b' version="0" state="full" entity="e"><dialog id="d">'
    b'<state code="2000">early</state></dialog></dialog-info>',
    "bad duration": _ROOT + b' version="0" state="full" entity="e"><dialog id="d">'
    b"<state>early</state><duration>soon</duration></dialog></dialog-info>",
    "not XML": b"SIP/2.0 200 OK\r\n",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_documents_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_dialog_info(body)


# -------------------------------------------------------------- properties

optional_attribute = st.none() | attribute()
participants = st.none() | st.builds(
    lambda identity, display, target: Participant(
        identity, display if identity is not None else None, target
    ),
    st.none() | uris | xml_text(),
    optional_attribute,
    st.none() | uris,
)
dialogs = st.builds(
    Dialog,
    attribute(),
    st.sampled_from(BLF_STATES) | xml_text(min_size=1),
    call_id=optional_attribute,
    local_tag=optional_attribute,
    remote_tag=optional_attribute,
    direction=st.none() | st.sampled_from(["initiator", "recipient"]) | attribute(),
    event=st.none() | st.sampled_from(["cancelled", "rejected", "replaced", "remote-bye"]),
    code=st.none() | st.integers(100, 699),
    duration=st.none() | st.integers(0, 10**12),
    local=participants,
    remote=participants,
)
documents = st.builds(
    DialogInfo,
    attribute(),
    st.integers(0, 2**64 - 1),
    st.sampled_from(["full", "partial"]),
    st.lists(dialogs, max_size=3).map(tuple),
)


@ROUND_TRIP
@given(documents)
def test_build_then_parse_round_trips(doc: DialogInfo) -> None:
    parsed = parse_dialog_info(build_dialog_info(doc))
    assert parsed == doc
    direction, state = blf_state(parsed)
    assert direction in ("undefined", "initiator", "receiver")
    assert state in (*BLF_STATES, "unknown")


small_documents = st.builds(
    DialogInfo,
    st.just("sip:b@x"),
    st.integers(0, 6),
    st.sampled_from(["full", "partial"]),
    st.lists(
        st.builds(Dialog, st.sampled_from("abc"), st.sampled_from(BLF_STATES)),
        max_size=3,
        unique_by=lambda d: d.id,
    ).map(tuple),
)


@ROUND_TRIP
@given(st.none() | small_documents, small_documents)
def test_merging_is_monotonic_and_idempotent(
    current: DialogInfo | None, update: DialogInfo
) -> None:
    result = merge_dialog_info(current, update)
    if current is not None and update.version <= current.version:
        assert result == MergeResult(current, applied=False)
        return
    assert result.applied and result.info is not None
    assert result.info.version == update.version and result.info.state == "full"
    for dialog in update.dialogs:  # every dialog the update names is as it says
        assert result.info.dialog(dialog.id) == dialog
    assert result.refresh == (
        update.state == "partial" and (current is None or update.version > current.version + 1)
    )
    assert merge_dialog_info(result.info, update) == MergeResult(result.info, applied=False)


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_dialog_info(data)


@FUZZ
@given(mutated(st.sampled_from([PBX_CONFIRMED, PBX_IDLE, PROXY_PARTIAL, RFC_EARLY])))
def test_mutated_documents_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        blf_state(parse_dialog_info(data))
