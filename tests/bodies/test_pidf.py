"""PIDF presence documents (RFC 3863) with RPID activities (RFC 4480)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import (
    BodyError,
    Presence,
    Tuple,
    build_pidf,
    build_presence,
    parse_body,
    parse_pidf,
    presence_for_status,
    presence_status,
)
from sansip.bodies.pidf import STATUSES
from sansip.bodies.xml import parse_xml
from sansip.errors import LocalProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, attribute, junk, mutated, uris, xml_text

# As a PBX's PJSIP channel sends it for an extension on a call.
PBX_ON_THE_PHONE = b"""<?xml version="1.0" encoding="UTF-8"?>
<presence entity="sip:1001@pbx.example.com" xmlns="urn:ietf:params:xml:ns:pidf"
 xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">
 <note>On the phone</note>
 <tuple id="1001">
  <status>
   <basic>open</basic>
  </status>
  <contact priority="1">sip:1001@pbx.example.com</contact>
 </tuple>
 <dm:person>
  <rpid:activities>
   <rpid:on-the-phone />
  </rpid:activities>
 </dm:person>
</presence>
"""

# The older person namespace some PBXs still use.
PBX_LEGACY_AWAY = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:pp="urn:ietf:params:xml:ns:pidf:person"
 xmlns:es="urn:ietf:params:xml:ns:pidf:rpid:status:rpid-status"
 xmlns:ep="urn:ietf:params:xml:ns:pidf:rpid:rpid-person" entity="sip:1002@pbx.example.com">
<pp:person><status><ep:activities><ep:away/></ep:activities></status></pp:person>
<note>Away</note>
<tuple id="1002"><contact priority="1">sip:1002@pbx.example.com</contact>
<status><basic>open</basic></status></tuple>
</presence>
"""

# A softphone's PUBLISH as a presence server relays it to watchers.
RELAYED_PUBLISH = b"""<?xml version='1.0' encoding='UTF-8'?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
  xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" xmlns:c="urn:ietf:params:xml:ns:pidf:cipid"
  entity="sip:bob@example.org">
  <tuple id="t5430be5e"><status><basic>open</basic></status>
    <timestamp>2024-05-01T10:00:00Z</timestamp></tuple>
  <dm:person id="p65"><rpid:activities><rpid:meeting/></rpid:activities>
    <dm:note>In a meeting until 11</dm:note></dm:person>
</presence>
"""

# A presence server's answer for a presentity with no publication.
SERVER_OFFLINE = (
    b'<?xml version="1.0"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    b'entity="sip:carol@example.org"><tuple id="0x7f"><status><basic>closed</basic>'
    b"</status></tuple></presence>"
)

# RFC 3863 §6-style document: two tuples, a note per tuple and per document.
RFC_STYLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:im="urn:ietf:params:xml:ns:pidf:im"
    entity="pres:someone@example.com">
  <tuple id="bs35r9">
    <status><basic>closed</basic><im:im>away</im:im></status>
    <contact priority="0.8">im:someone@mobilecarrier.net</contact>
    <note xml:lang="en">Don't Disturb Please!</note>
    <note xml:lang="fr">Ne derangez pas, s'il vous plait</note>
    <timestamp>2001-10-27T16:49:29Z</timestamp>
  </tuple>
  <tuple id="eg92n8">
    <status><basic>OPEN</basic></status>
    <contact>mailto:someone@example.com</contact>
  </tuple>
  <note>I'll be in Tokyo next week</note>
</presence>
"""


def test_pbx_on_the_phone_reads_busy() -> None:
    doc = parse_pidf(PBX_ON_THE_PHONE)
    assert doc == Presence(
        "sip:1001@pbx.example.com",
        (Tuple("1001", "open", "sip:1001@pbx.example.com"),),
        "On the phone",
        ("on-the-phone",),
    )
    assert doc.basic == "open"
    assert presence_status(doc) == "busy"


def test_legacy_person_namespace_reads_away() -> None:
    doc = parse_pidf(PBX_LEGACY_AWAY)
    assert doc.activities == ("away",)
    assert doc.note == "Away"
    assert presence_status(doc) == "away"


def test_relayed_publish_takes_the_person_note() -> None:
    doc = parse_pidf(RELAYED_PUBLISH)
    assert doc.entity == "sip:bob@example.org"
    assert doc.tuples == (Tuple("t5430be5e", "open"),)
    assert doc.note == "In a meeting until 11"
    assert presence_status(doc) == "busy"


def test_server_offline_document() -> None:
    doc = parse_pidf(SERVER_OFFLINE)
    assert doc.basic == "closed"
    assert presence_status(doc) == "offline"


def test_rfc_style_document() -> None:
    doc = parse_pidf(RFC_STYLE)
    first, second = doc.tuples
    assert first == Tuple(
        "bs35r9", "closed", "im:someone@mobilecarrier.net", "Don't Disturb Please!"
    )
    assert second == Tuple("eg92n8", "open", "mailto:someone@example.com")
    assert doc.note == "I'll be in Tokyo next week"
    assert doc.activities == ()
    assert presence_status(doc) == "online"  # one way to reach them is open


@pytest.mark.parametrize(
    ("basic", "activities", "status"),
    [
        ("open", (), "online"),
        ("open", ("away",), "away"),
        ("open", ("vacation",), "away"),
        ("open", ("busy",), "busy"),
        ("open", ("on-the-phone", "away"), "busy"),
        ("closed", ("busy",), "dnd"),
        ("closed", ("meeting",), "dnd"),
        ("closed", ("away",), "offline"),
        ("closed", (), "offline"),
        (None, (), "offline"),
        (None, ("away",), "away"),
        ("open", ("unknown",), "online"),
    ],
)
def test_status_mapping(basic: str | None, activities: tuple[str, ...], status: str) -> None:
    assert presence_status(Presence("sip:a@b", (Tuple("t", basic),), "", activities)) == status


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_survives_publication(status: str) -> None:
    body = build_pidf("sip:alice@example.com", status, "a note", contact="sip:alice@192.0.2.1")
    doc = parse_pidf(body)
    assert doc.entity == "sip:alice@example.com" and doc.note == "a note"
    assert doc.tuples[0].contact == "sip:alice@192.0.2.1"
    assert presence_status(doc) == ("offline" if status == "invisible" else status)


def test_built_document_shape() -> None:
    body = build_pidf("sip:alice@example.com", "away", "back soon")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<presence ')
    root = parse_xml(body)
    pidf = "{urn:ietf:params:xml:ns:pidf}"
    assert [child.tag for child in root] == [
        f"{pidf}tuple",
        f"{pidf}note",
        "{urn:ietf:params:xml:ns:pidf:data-model}person",
    ]
    activities = root[2][0]
    assert activities.tag == "{urn:ietf:params:xml:ns:pidf:rpid}activities"
    assert activities[0].tag == "{urn:ietf:params:xml:ns:pidf:rpid}away"
    assert b"dm:person" not in build_pidf("sip:alice@example.com", "online")


def test_parse_body_dispatches_pidf() -> None:
    assert parse_body("application/pidf+xml", SERVER_OFFLINE) == parse_pidf(SERVER_OFFLINE)


def test_builder_refusals() -> None:
    with pytest.raises(LocalProtocolError):
        build_pidf("sip:a@b", "sleepy")
    with pytest.raises(LocalProtocolError):
        presence_for_status("sip:a@b", "Online")
    with pytest.raises(LocalProtocolError):
        build_presence(Presence("sip:a@b", (Tuple("t", "maybe"),)))
    with pytest.raises(LocalProtocolError):
        build_presence(Presence("sip:a@b", activities=("not a name",)))
    with pytest.raises(LocalProtocolError):
        build_pidf("sip:a@b", "online", "bell \x07")


MALFORMED = {
    "not PIDF": b'<presence xmlns="urn:other" entity="sip:a@b"/>',
    "no namespace": b'<presence entity="sip:a@b"/>',
    "no entity": b'<presence xmlns="urn:ietf:params:xml:ns:pidf"/>',
    "tuple without id": b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple/>'
    b"</presence>",
    "bad basic": b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="t">'
    b"<status><basic>maybe</basic></status></tuple></presence>",
    "not XML": b"Messages-Waiting: yes\r\n",
    "truncated": PBX_ON_THE_PHONE[:200],
    "external entity": b'<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&x;"/>',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_documents_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_pidf(body)


ACTIVITIES = ["away", "busy", "on-the-phone", "meeting", "vacation", "sleeping", "unknown", "tv"]

tuples = st.builds(
    Tuple,
    attribute(),
    st.sampled_from([None, "open", "closed"]),
    st.none() | uris | xml_text(),
    xml_text(),
)
presences = st.builds(
    Presence,
    attribute(),
    st.lists(tuples, max_size=3).map(tuple),
    xml_text(),
    st.lists(st.sampled_from(ACTIVITIES), unique=True, max_size=3).map(tuple),
)


@ROUND_TRIP
@given(presences)
def test_build_then_parse_round_trips(doc: Presence) -> None:
    assert parse_pidf(build_presence(doc)) == doc


@ROUND_TRIP
@given(attribute(), st.sampled_from(STATUSES), xml_text(), st.none() | uris)
def test_statuses_round_trip(entity: str, status: str, note: str, contact: str | None) -> None:
    doc = parse_pidf(build_pidf(entity, status, note, contact=contact))
    assert doc == presence_for_status(entity, status, note, contact=contact)
    assert presence_status(doc) == ("offline" if status == "invisible" else status)


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_pidf(data)


@FUZZ
@given(mutated(st.sampled_from([PBX_ON_THE_PHONE, PBX_LEGACY_AWAY, RFC_STYLE, SERVER_OFFLINE])))
def test_mutated_documents_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        presence_status(parse_pidf(data))
