"""The phone's parameters: the table, the five sources and their order,
conversion of text to typed values, the errors, clearing, the TOML and
environment loaders and the documentation table."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.phone.params import (
    ALIASES,
    PARAMETERS,
    TABLE,
    Kind,
    ParameterError,
    Parameters,
    ParamSpec,
    ParamType,
    Source,
    Value,
    coerce,
    format_value,
    from_environ,
    load_toml,
    lookup,
    parse_assignments,
    parse_toml,
    render_markdown,
)
from tests.conftest import examples

# -- the table ------------------------------------------------------------------------------------


def test_the_table_is_consistent() -> None:
    names = [spec.name for spec in TABLE]
    assert len(names) == len(set(names)) == len(PARAMETERS)
    assert len({name.lower() for name in names}) == len(names)
    for spec in TABLE:
        assert spec.description and "\n" not in spec.description, spec.name
        assert spec.group, spec.name
        assert (spec.kind is not Kind.ACTIVE) == bool(spec.reason), spec.name
        if spec.type is ParamType.ENUM:
            assert spec.choices, spec.name
            values = [value for value, _label in spec.choices]
            assert len(values) == len(set(values)), spec.name
    for old, new in ALIASES.items():
        assert new in PARAMETERS and old.lower() not in {n.lower() for n in names}, old


def test_the_table_covers_the_reference_vocabulary() -> None:
    for name in ("serveraddress", "username", "sipusername", "password", "displayname", "realm",
                 "proxyaddress", "register", "registerinterval", "mustconnect", "regtimeout",
                 "md5", "transport", "use_rport", "use_fast_stun", "mediaencryption",
                 "dtmfmode", "jittersize", "use_opus", "holdtype", "transfertype",
                 "callforwardonnoanswertimeout", "ringtimeoutin", "languageautodetect",
                 "scurl_oninccalldisconnected", "creditrequest", "enginepriority_webrtc",
                 "enginedefpriority_callback", "video_max_height", "bundlePolicy"):  # fmt: skip
        assert name in PARAMETERS, name
    kinds = Counter(spec.kind for spec in TABLE)
    assert kinds[Kind.ACTIVE] > 80 and kinds[Kind.IGNORED] > 100 and kinds[Kind.PLANNED] > 0


def test_browser_ui_and_vendor_parameters_are_marked_ignored() -> None:
    assert lookup("enginepriority_java").kind is Kind.IGNORED
    assert "[B]" in lookup("preferred_storage").reason
    assert "[UI]" in lookup("colortheme").reason
    assert lookup("usetunneling").kind is Kind.IGNORED
    for name in ("serveraddress", "transport", "mediaencryption"):
        assert lookup(name).kind is Kind.ACTIVE, name
    for name in ("textmessaging", "scurl_onstart", "p2p"):  # the web back end: not built yet
        assert lookup(name).kind is Kind.PLANNED, name


def test_lookup_ignores_case_and_knows_old_names() -> None:
    assert lookup("ServerAddress").name == "serveraddress"
    assert lookup("BUNDLEPOLICY").name == "bundlePolicy"
    assert lookup("p2prtp").name == "use_fast_ice"
    assert lookup("prefercodec").name == "prefcodec"


# -- sources and precedence -----------------------------------------------------------------------


def test_each_source_beats_the_ones_below() -> None:
    params = Parameters()
    assert params.get("registerinterval") == 300
    assert params.source("registerinterval") is Source.DEFAULT
    steps = [(Source.FILE, 600), (Source.ENVIRONMENT, 900), (Source.COMMAND_LINE, 1200),
             (Source.RUNTIME, 1800)]  # fmt: skip
    for source, value in steps:
        params.load({"registerinterval": str(value)}, source)
        assert params.get("registerinterval") == value
        assert params.source("registerinterval") is source
    # A lower source changing its value changes nothing while a higher one sets it.
    params.load({"registerinterval": 60}, Source.FILE)
    assert params.get("registerinterval") == 1800
    # Clearing from the top shows each lower source in turn.
    for (source, _value), below in zip(reversed(steps), [1200, 900, 60, 300], strict=True):
        params.load({"registerinterval": "DEF"}, source)
        assert params.get("registerinterval") == below


def test_the_constructor_takes_file_environment_and_command_line() -> None:
    params = Parameters(
        file={"registerinterval": 600, "transport": 0, "username": "alice"},
        environ={"SANSIP_REGISTERINTERVAL": "900", "SANSIP_TRANSPORT": "1"},
        command_line=["transport=2"],
    )
    params.set("username", "bob")
    assert params.get("registerinterval") == 900
    assert params.source("registerinterval") is Source.ENVIRONMENT
    assert (params.get("transport"), params.source("transport")) == (2, Source.COMMAND_LINE)
    assert (params.get("username"), params.source("username")) == ("bob", Source.RUNTIME)
    assert params.values_from(Source.FILE) == {"registerinterval": 600, "transport": 0,
                                               "username": "alice"}  # fmt: skip
    assert params.values_from(Source.DEFAULT) == {}


def test_sources_read_as_words() -> None:
    assert str(Source.COMMAND_LINE) == "command line"
    assert f"{Source.FILE}" == "file"
    assert Source.RUNTIME > Source.COMMAND_LINE > Source.ENVIRONMENT > Source.FILE


def test_defaults_cannot_be_loaded() -> None:
    with pytest.raises(ValueError):
        Parameters().load({"register": 0}, Source.DEFAULT)


# -- conversion -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("username", "alice", "alice"),
        ("username", 1001, "1001"),
        ("password", "  spaces kept  ", "  spaces kept  "),
        ("registerinterval", " 45 ", 45),
        ("registerinterval", "+60", 60),
        ("registerinterval", 3600, 3600),
        ("rtpstat", "-1", -1),
        ("plc", "0", False),
        ("plc", "no", False),
        ("plc", "Off", False),
        ("mustconnect", "1", True),
        ("mustconnect", "TRUE", True),
        ("mustconnect", "yes", True),
        ("mustconnect", 1, True),
        ("mustconnect", True, True),
        ("transport", "2", 2),
        ("transport", -1, -1),
        ("use_rport", "9", 9),
        ("videofacing", "User", "user"),
        ("prefcodec", "PCMU", "pcmu"),
        ("codec", "opus, PCMU,,pcma ", ("opus", "PCMU", "pcma")),
        ("codec", ["opus", " g722 "], ("opus", "g722")),
        ("blfuserlist", (), ()),
    ],
)
def test_text_and_values_are_converted(name: str, given: object, expected: Value) -> None:
    value = coerce(lookup(name), given)
    assert value == expected and type(value) is type(expected)
    params = Parameters()
    params.set(name, given)
    assert params.get(name) == expected


# A number parameter (the reference vocabulary has none, so one made up here).
GAIN = ParamSpec("gain", ParamType.FLOAT, 0.0, "test gain", minimum=-10, maximum=10, unit="%")


@pytest.mark.parametrize(
    ("given", "expected"), [("1.5", 1.5), (" -2 ", -2.0), (3, 3.0), (".5e1", 5.0), (0.25, 0.25)]
)
def test_numbers_are_converted(given: object, expected: float) -> None:
    value = coerce(GAIN, given)
    assert value == expected and isinstance(value, float)


@pytest.mark.parametrize("given", ["nan", "inf", "11", "-10.5", "1,5", True, None, "0x10"])
def test_numbers_out_of_range_or_malformed_are_refused(given: object) -> None:
    with pytest.raises(ParameterError, match=r"gain=.*accepted: a number from -10 to 10"):
        coerce(GAIN, given)


def test_typed_getters() -> None:
    params = Parameters(file={"username": "alice", "codec": "opus,pcmu"})
    assert params.get_str("username") == "alice"
    assert params.get_int("registerinterval") == 300
    assert params.get_int("transport") == -1
    assert params.get_bool("plc") is True
    assert params.get_list("codec") == ("opus", "pcmu")
    assert params.text("codec") == "opus,pcmu"
    with pytest.raises(TypeError):
        params.get_int("plc")
    with pytest.raises(TypeError):
        params.get_float("registerinterval")
    with pytest.raises(TypeError):
        params.get_bool("username")


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "accepted"),
    [
        ("registerinterval", "29", "an integer from 30 to 3600"),
        ("registerinterval", 3601, "an integer from 30 to 3600"),
        ("registerinterval", "5m", "an integer from 30 to 3600"),
        ("registerinterval", True, "an integer from 30 to 3600"),
        ("registerinterval", 300.0, "an integer from 30 to 3600"),
        ("jittersize", "7", "an integer from 0 to 6"),
        ("jittersize", -1, "an integer from 0 to 6"),
        ("signalingport", "70000", "an integer from 0 to 65535"),
        ("regtimeout", "-1", "an integer of at least 0"),
        ("transport", "6", "one of -1 (auto), 0 (UDP), 1 (TCP), 2 (TLS)"),
        ("transport", "tls", "one of -1 (auto)"),
        ("use_rport", 4, "3 (asked and used even when public), 9 (asked, local address kept)"),
        ("holdtype", "5", "-2 (hold requests ignored)"),
        ("videofacing", "up", "one of 'no', 'user', 'environment', 'left', 'right'"),
        ("plc", "maybe", "true or false"),
        ("plc", 2, "true or false"),
        ("username", True, "any text"),
        ("username", ["a"], "any text"),
        ("codec", ["a,b"], "a comma-separated list"),
        ("codec", 5, "a comma-separated list"),
        ("codec", [None], "a comma-separated list"),
    ],
)
def test_a_bad_value_names_the_parameter_the_value_and_what_is_accepted(
    name: str, given: object, accepted: str
) -> None:
    params = Parameters()
    with pytest.raises(ParameterError) as caught:
        params.set(name, given)
    message = str(caught.value)
    assert message.startswith(f"{name}={given!r}: ")
    assert f"accepted: {accepted}" in message or accepted in message
    assert caught.value.name == name and caught.value.value == given
    assert isinstance(caught.value, LocalProtocolError)
    assert params.source(name) is Source.DEFAULT


def test_a_misspelt_name_gets_a_suggestion() -> None:
    with pytest.raises(ParameterError, match=r"serveradress.*did you mean serveraddress\?"):
        Parameters().set("serveradress", "pbx.example.com")
    with pytest.raises(ParameterError, match="did you mean registerinterval"):
        lookup("registerintervall")
    with pytest.raises(ParameterError, match="did you mean use_fast_ice"):
        lookup("p2prtpp")  # an old name's suggestion is the name it stands for
    with pytest.raises(ParameterError) as caught:
        lookup("xyzzy")
    assert "did you mean" not in str(caught.value) and caught.value.name == "xyzzy"


def test_a_refused_load_changes_nothing() -> None:
    params = Parameters()
    with pytest.raises(ParameterError, match=r"^my\.toml: transport='9'"):
        params.load({"username": "alice", "transport": "9"}, Source.FILE, origin="my.toml")
    assert params.changed() == {}


# -- clearing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("clear", ["NULL", "DEF", "", None, 300, "300"])
def test_null_def_empty_and_the_default_clear_down_to_the_next_source(clear: object) -> None:
    params = Parameters(file={"registerinterval": 600})
    params.set("registerinterval", 900)
    params.set("registerinterval", clear)
    assert params.get("registerinterval") == 600
    assert params.source("registerinterval") is Source.FILE
    params.load({"registerinterval": clear}, Source.FILE)
    assert params.get("registerinterval") == 300
    assert params.source("registerinterval") is Source.DEFAULT


def test_null_clears_a_string_parameter() -> None:
    params = Parameters(environ={"SANSIP_STUNSERVERADDRESS": "stun.example.com:3478"})
    assert params.get("stunserveraddress") == "stun.example.com:3478"
    params.load({"stunserveraddress": "NULL"}, Source.ENVIRONMENT)
    assert params.get("stunserveraddress") == ""
    params.set("codec", "opus")
    params.set("codec", "NULL")
    assert params.get("codec") == () and params.changed() == {}


def test_setting_the_default_is_not_a_change() -> None:
    params = Parameters()
    params.set("plc", "true")
    params.set("transport", "-1")
    assert params.changed() == {} and params.source("plc") is Source.DEFAULT


# -- ignored parameters ---------------------------------------------------------------------------


def test_browser_and_ui_parameters_are_accepted_and_reported_ignored() -> None:
    params = Parameters(file={"enginepriority_webrtc": 5, "colortheme": 3})
    params.set("bundlePolicy", "max-bundle")
    params.set("serveraddress", "pbx.example.com")
    params.set("preferred_storage", "-1")  # the default: not set, not reported
    ignored = params.ignored()
    assert set(ignored) == {"enginepriority_webrtc", "colortheme", "bundlePolicy"}
    assert ignored["enginepriority_webrtc"] == "browser-only [B]"
    assert "[UI]" in ignored["colortheme"]
    assert params.get("enginepriority_webrtc") == 5  # still kept and typed
    with pytest.raises(ParameterError, match="enginepriority_webrtc"):
        params.set("enginepriority_webrtc", 6)  # and still checked


def test_a_planned_parameter_is_reported_as_not_yet_acted_on() -> None:
    params = Parameters()
    params.set("stunserveraddress", "stun.example.com")
    assert params.ignored() == {"stunserveraddress": "not yet: NAT traversal (STUN, TURN, ICE)"}


def test_active_parameters_are_read_by_the_code_and_planned_ones_are_not() -> None:
    """The table says "active" only of what some module reads: a parameter
    no code reads is planned (sansip/phone/planned.py), and one the code
    reads now is no longer planned."""
    package = Path(__file__).parents[2] / "sansip"
    code = "\n".join(path.read_text(encoding="utf-8") for path in package.rglob("*.py")
                     if path.name not in ("paramtable.py", "planned.py"))  # fmt: skip
    for spec in TABLE:
        codec = spec.name.startswith("use_") and spec.kind is Kind.ACTIVE  # read by prefix
        if spec.kind is Kind.IGNORED or codec:
            continue
        read = re.search(rf"\b{re.escape(spec.name)}\b", code) is not None
        if spec.kind is Kind.ACTIVE:
            assert read, f"{spec.name} is active but no module reads it: planned?"
        else:
            assert not read, f"{spec.name} is read now: take it out of the planned list"


# -- helpers --------------------------------------------------------------------------------------


def test_as_dict_changed_and_as_text() -> None:
    params = Parameters(file={"registerinterval": 600, "codec": ["opus", "pcmu"]})
    params.set("mustconnect", "yes")
    everything = params.as_dict()
    assert list(everything) == [spec.name for spec in TABLE]
    assert everything["registerinterval"] == 600 and everything["plc"] is True
    assert params.changed() == {"registerinterval": 600, "mustconnect": True,
                                "codec": ("opus", "pcmu")}  # fmt: skip
    text = params.as_text()
    assert (text["registerinterval"], text["mustconnect"], text["codec"]) == (
        "600", "true", "opus,pcmu")  # fmt: skip
    # What changed() persists brings the same values back, typed or as text.
    assert Parameters(file=params.changed()).as_dict() == everything
    assert Parameters(file=params.as_text()).as_dict() == everything
    assert "registerinterval" in repr(params)


def test_the_markdown_table_renders() -> None:
    markdown = render_markdown()
    lines = markdown.splitlines()
    assert lines[0] == "| name | type | default | sansip status |"
    assert len(lines) == len(TABLE) + 2
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    rows = {line.split(" | ")[0][2:]: line for line in lines[2:]}
    assert "| int 30..3600 s | `300` | active |" in rows["`registerinterval`"]
    assert rows["`use_fast_ice` (also `p2prtp`)"].endswith(
        "| `1` | planned: NAT traversal (STUN, TURN, ICE) |"
    )
    assert "| bool | `true` |" in rows["`plc`"]
    assert rows["`enginepriority_ns`"].endswith("| ignored: browser-only [B] |")
    assert "enum (''" not in markdown and '| `""` |' in rows["`username`"]
    described = render_markdown([lookup("jittersize")], meaning=True).splitlines()
    assert described[0].endswith("| meaning |") and "jitter buffer" in described[2]
    piped = ParamSpec("x", ParamType.STR, "a|b", "one | two")
    assert "`a\\|b`" in render_markdown([piped], meaning=True)


# -- loaders --------------------------------------------------------------------------------------


def test_a_toml_file_with_a_sansip_table(tmp_path: Path) -> None:
    path = tmp_path / "sansip.toml"
    path.write_text(
        '[sansip]\nserveraddress = "pbx.example.com"\nusername = 1001\nregisterinterval = 600\n'
        'plc = false\ncodec = ["opus", "PCMU"]\np2prtp = "2"\n\n[other]\nserveraddress = 5\n',
        encoding="utf-8",
    )
    params = Parameters(file=load_toml(path))
    assert params.changed() == {"serveraddress": "pbx.example.com", "username": "1001",
                                "registerinterval": 600, "plc": False,
                                "codec": ("opus", "PCMU"), "use_fast_ice": 2}  # fmt: skip
    assert params.source("username") is Source.FILE


def test_a_toml_file_at_top_level(tmp_path: Path) -> None:
    path = tmp_path / "sansip.toml"
    path.write_text('transport = 2\nstunserveraddress = "NULL"\n', encoding="utf-8")
    assert load_toml(str(path)) == {"transport": 2, "stunserveraddress": "NULL"}
    assert Parameters(file=load_toml(path)).changed() == {"transport": 2}


def test_toml_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('transport = "nine"\n', encoding="utf-8")
    with pytest.raises(ParameterError, match=r"bad\.toml: transport='nine': not an integer"):
        Parameters().load(load_toml(path), Source.FILE, origin=str(path))
    path.write_text("transport = \n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"bad\.toml: not valid TOML"):
        load_toml(path)
    path.write_bytes(b'username = "\xff"\n')
    with pytest.raises(ParameterError, match="not UTF-8"):
        load_toml(path)
    with pytest.raises(ParameterError, match=r"'sansip' must be a table"):
        parse_toml('sansip = "yes"')
    with pytest.raises(ParameterError, match="serveraddress="):
        Parameters(file=parse_toml("[sansip.serveraddress]\nhost = 'x'"))
    with pytest.raises(OSError):
        load_toml(tmp_path / "missing.toml")


def test_the_environment_gives_the_sansip_variables_of_known_names() -> None:
    environ = {
        "SANSIP_REGISTERINTERVAL": "900",
        "SANSIP_USE_RPORT": "2",
        "sansip_plc": "off",
        "SANSIP_P2PRTP": "0",
        "SANSIP_CONFORMANCE_DATA": "/elsewhere",  # another part of sansip's variable
        "PATH": "/usr/bin",
        "REGISTERINTERVAL": "60",
    }
    assert from_environ(environ) == {"registerinterval": "900", "use_rport": "2", "plc": "off",
                                     "use_fast_ice": "0"}  # fmt: skip
    params = Parameters(environ=environ)
    assert (params.get("registerinterval"), params.get("use_rport")) == (900, 2)
    assert params.get("plc") is False and params.source("plc") is Source.ENVIRONMENT


def test_command_line_assignments() -> None:
    assert parse_assignments(["transport=2", " codec = opus,pcmu ", "password=a=b"]) == {
        "transport": "2", "codec": "opus,pcmu", "password": "a=b"}  # fmt: skip
    for bad in ("transport", "=2"):
        with pytest.raises(ParameterError, match="name=value"):
            parse_assignments([bad])
    with pytest.raises(ParameterError, match=r"^command line \(-p\): .*did you mean transport"):
        Parameters(command_line=["transprt=2"])
    with pytest.raises(ParameterError, match=r"^environment \(SANSIP_\*\): use_rport='4'"):
        Parameters(environ={"SANSIP_USE_RPORT": "4"})
    with pytest.raises(ParameterError, match=r"^file: plc=2"):
        Parameters(file={"plc": 2})


# -- properties -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", TABLE, ids=lambda spec: spec.name)
def test_every_default_validates_and_round_trips(spec: ParamSpec) -> None:
    assert coerce(spec, spec.default) == spec.default
    assert coerce(spec, format_value(spec.default)) == spec.default
    if not isinstance(spec.default, tuple):
        assert coerce(spec, str(spec.default)) == spec.default
    params = Parameters()
    params.set(spec.name, format_value(spec.default))
    assert params.get(spec.name) == spec.default
    assert params.source(spec.name) is Source.DEFAULT


def _valid_values(spec: ParamSpec) -> st.SearchStrategy[Value]:
    if spec.type is ParamType.ENUM:
        return st.sampled_from([value for value, _label in spec.choices])
    if spec.type is ParamType.BOOL:
        return st.booleans()
    if spec.type is ParamType.LIST:
        item = st.text(st.characters(blacklist_characters=","), min_size=1).map(str.strip)
        return st.lists(item.filter(bool), max_size=4).map(tuple)
    if spec.type in (ParamType.INT, ParamType.FLOAT):
        low = -(10**9) if spec.minimum is None else spec.minimum
        high = 10**9 if spec.maximum is None else spec.maximum
        return st.integers(low, high)
    return st.text()


@settings(max_examples=examples(300))
@given(st.data())
def test_valid_values_round_trip_through_text_and_set(data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(TABLE))
    value = data.draw(_valid_values(spec))
    assert coerce(spec, value) == value
    text = format_value(value)
    params = Parameters()
    params.set(spec.name, text)
    expected = spec.default if text in ("", "NULL", "DEF") else value
    assert params.get(spec.name) == expected
    assert params.source(spec.name) is (Source.DEFAULT if expected == spec.default
                                        else Source.RUNTIME)  # fmt: skip


_NAMES = st.sampled_from([spec.name for spec in TABLE] + list(ALIASES)) | st.text()
_ANYTHING = (
    st.text()
    | st.integers()
    | st.booleans()
    | st.floats()
    | st.none()
    | st.lists(st.text() | st.integers(), max_size=3)
)


@settings(max_examples=examples(500))
@given(name=_NAMES, value=_ANYTHING)
def test_arbitrary_input_raises_only_parameter_errors(name: str, value: object) -> None:
    params = Parameters()
    try:
        params.set(name, value)
    except ParameterError as exc:
        assert exc.name == name or name.strip().lower() in str(exc).lower()
    else:
        assert params.get(name) is not None
    for attempt in (lambda: lookup(name), lambda: parse_assignments([f"{name}={value}"])):
        with contextlib.suppress(ParameterError):
            attempt()
    assert set(from_environ({f"SANSIP_{name}": str(value)})) <= set(PARAMETERS)
