"""The phone's parameters: the values in force, where each came from, and
the checks every value passes.

The names, types and defaults are those of :mod:`sansip.phone.paramtable`.
A value is taken from the highest of five sources (:class:`Source`, lowest
first): the table's default, a ``sansip.toml`` file, the environment
(``SANSIP_<NAME>``), the command line (``-p name=value``) and
:meth:`Parameters.set` at run time.  Values may arrive as text and are
converted to their parameter's type; a bad value or an unknown name raises
:class:`ParameterError`, which says what is accepted (and, for a misspelt
name, which name was probably meant).  Names are case-insensitive and the
older names in :data:`ALIASES` still work.

Setting ``NULL``, ``DEF``, the empty string, ``None`` or the default itself
clears the value at that source, so the next lower source shows through:
``set("registerinterval", "DEF")`` undoes an earlier run-time value and the
command line's, environment's or file's value (or the default) is in force
again.  So a higher source cannot force a parameter back to its default over
a lower source that sets it; that lower source must clear it instead.

Nothing here touches the outside world except :func:`load_toml`, which reads
the file it is given; :func:`from_environ` picks the parameters out of an
environment mapping the caller passes (usually ``os.environ``).
"""

from __future__ import annotations

import difflib
import enum
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

from sansip.errors import LocalProtocolError
from sansip.phone.paramtable import ALIASES, TABLE, Kind, ParamSpec, ParamType, Value

__all__ = [
    "ALIASES", "CLEARING_VALUES", "ENV_PREFIX", "PARAMETERS", "TABLE", "Kind", "ParamSpec",
    "ParamType", "ParameterError", "Parameters", "Source", "Value", "accepted", "coerce",
    "format_value", "from_environ", "load_toml", "lookup", "parse_assignments", "parse_toml",
    "render_markdown", "type_text",
]  # fmt: skip

#: Every parameter by its name, in table order.
PARAMETERS: Mapping[str, ParamSpec] = MappingProxyType({spec.name: spec for spec in TABLE})
#: The prefix of the environment variables that set parameters.
ENV_PREFIX = "SANSIP_"
#: Text values that clear a parameter at the source that gives them.
CLEARING_VALUES = frozenset({"", "NULL", "DEF"})

# Lower-cased names and old names -> the name in the table.
_INDEX: dict[str, str] = {
    **{old.lower(): new for old, new in ALIASES.items()},
    **{name.lower(): name for name in PARAMETERS},
}
_ALIASES_OF: dict[str, list[str]] = {}
for _old, _new in ALIASES.items():
    _ALIASES_OF.setdefault(_new, []).append(_old)

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_N = TypeVar("_N", int, float)
_UNITS = {"s": "seconds", "ms": "milliseconds", "kbps": "kbit/s", "%": "percent", "px": "pixels"}


class ParameterError(LocalProtocolError):
    """An unknown parameter name, or a value its parameter does not accept.

    ``name`` is the name as given (empty for a file that cannot be read as
    TOML) and ``value`` the value refused.
    """

    def __init__(self, message: str, name: str = "", value: object = None) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


class Source(enum.IntEnum):
    """Where a parameter's value comes from; a higher source wins."""

    DEFAULT = 0
    FILE = 1
    ENVIRONMENT = 2
    COMMAND_LINE = 3
    RUNTIME = 4

    def __str__(self) -> str:
        return self.name.lower().replace("_", " ")

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def lookup(name: str) -> ParamSpec:
    """The parameter called ``name`` (in any case, or by an old name).

    Raises :class:`ParameterError` for a name sansip does not know,
    suggesting the closest known one.
    """
    found = _INDEX.get(name.strip().lower()) if isinstance(name, str) else None
    if found is None:
        raise _unknown(name)
    return PARAMETERS[found]


def _unknown(name: object, value: object = None) -> ParameterError:
    text = name if isinstance(name, str) else repr(name)
    close = difflib.get_close_matches(text.strip().lower(), _INDEX, n=1, cutoff=0.75)
    hint = f"; did you mean {_INDEX[close[0]]}?" if close else ""
    given = "" if value is None else f" (value {_show(value)})"
    return ParameterError(f"unknown parameter {text!r}{given}{hint}", text, value)


def accepted(spec: ParamSpec) -> str:
    """What ``spec`` accepts, in words (used in error messages)."""
    if spec.type is ParamType.STR:
        return "any text"
    if spec.type is ParamType.BOOL:
        return "true or false (or 1/0, yes/no, on/off)"
    if spec.type is ParamType.LIST:
        return "a comma-separated list, or a list of strings without commas"
    if spec.type is ParamType.ENUM:
        return "one of " + ", ".join(
            f"{value} ({label})" if label else repr(value) for value, label in spec.choices
        )
    noun = "an integer" if spec.type is ParamType.INT else "a number"
    low, high = spec.minimum, spec.maximum
    if low is not None and high is not None:
        noun += f" from {low} to {high}"
    elif low is not None:
        noun += f" of at least {low}"
    elif high is not None:
        noun += f" of at most {high}"
    return noun + (f", in {_UNITS.get(spec.unit, spec.unit)}" if spec.unit else "")


def _refuse(spec: ParamSpec, value: object, problem: str) -> ParameterError:
    return ParameterError(
        f"{spec.name}={_show(value)}: {problem}; accepted: {accepted(spec)}", spec.name, value
    )


def _integer(spec: ParamSpec, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        try:
            return int(value.strip())
        except ValueError:  # more digits than Python converts
            pass
    raise _refuse(spec, value, "not an integer")


def _number(spec: ParamSpec, value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value.strip())
    if number is None or not math.isfinite(number):
        raise _refuse(spec, value, "not a finite number")
    return number


def _bounded(spec: ParamSpec, value: object, number: _N) -> _N:
    if (spec.minimum is not None and number < spec.minimum) or (
        spec.maximum is not None and number > spec.maximum
    ):
        raise _refuse(spec, value, "out of range")
    return number


def _items(spec: ParamSpec, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list | tuple):
        parts = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise _refuse(spec, value, f"the item {_show(item)} is not text")
            if "," in str(item):
                raise _refuse(spec, value, f"the item {_show(item)} holds a comma")
            parts.append(str(item))
    else:
        raise _refuse(spec, value, "not a list")
    return tuple(part.strip() for part in parts if part.strip())


def coerce(spec: ParamSpec, value: object) -> Value:
    """``value`` as a value of ``spec``'s type.

    Text (as it comes from a file, the environment or a command line) is
    converted; typed values are checked.  Integers and numbers must lie in
    the parameter's range and an enumeration's value must be one of its
    choices (a string enumeration's in any case).  Raises
    :class:`ParameterError` naming the parameter, the value and what is
    accepted.  The clearing values are not special here (see
    :meth:`Parameters.set`).
    """
    kind = spec.type
    if kind is ParamType.STR:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # ``username = 1001`` in a TOML file
        raise _refuse(spec, value, "not text")
    if kind is ParamType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        word = value.strip().lower() if isinstance(value, str) else None
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _refuse(spec, value, "not a boolean")
    if kind is ParamType.LIST:
        return _items(spec, value)
    if kind is ParamType.FLOAT:
        return _bounded(spec, value, _number(spec, value))
    if kind is ParamType.INT:
        return _bounded(spec, value, _integer(spec, value))
    if spec.choices and isinstance(spec.choices[0][0], str):
        if isinstance(value, str):
            for choice, _label in spec.choices:
                if str(choice).lower() == value.strip().lower():
                    return str(choice)
        raise _refuse(spec, value, "not one of the choices")
    number = _integer(spec, value)
    if all(number != choice for choice, _label in spec.choices):
        raise _refuse(spec, value, "not one of the choices")
    return number


def format_value(value: Value) -> str:
    """``value`` as text that :func:`coerce` reads back as the same value
    (``true``/``false``, lists joined with commas)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Parameters:
    """The parameter values in force, each from the highest source that sets it.

    ``file`` is the parameter mapping of a TOML file (see :func:`load_toml`),
    ``environ`` an environment mapping (its ``SANSIP_<NAME>`` entries are
    used), ``command_line`` the ``name=value`` texts of repeated ``-p``
    options.  :meth:`set` is the run-time source (the reference's
    ``setparameter``), :meth:`get` the typed value in force
    (``getparameter``).
    """

    def __init__(
        self,
        *,
        file: Mapping[str, object] | None = None,
        environ: Mapping[str, str] | None = None,
        command_line: Iterable[str] = (),
    ) -> None:
        self._levels: dict[Source, dict[str, Value]] = {
            source: {} for source in Source if source is not Source.DEFAULT
        }
        if file is not None:
            self.load(file, Source.FILE, origin="file")
        if environ is not None:
            self.load(
                from_environ(environ), Source.ENVIRONMENT, origin=f"environment ({ENV_PREFIX}*)"
            )
        self.load(parse_assignments(command_line), Source.COMMAND_LINE, origin="command line (-p)")

    def __repr__(self) -> str:
        return f"Parameters({self.changed()!r})"

    @staticmethod
    def _check(name: str, value: object) -> tuple[str, Value | None]:
        """The parameter's name and typed value; None if ``value`` clears it."""
        if not isinstance(name, str) or name.strip().lower() not in _INDEX:
            raise _unknown(name, value)
        spec = lookup(name)
        if value is None or (isinstance(value, str) and value in CLEARING_VALUES):
            return spec.name, None
        try:
            typed = coerce(spec, value)
        except ParameterError as exc:
            if name.strip().lower() == spec.name.lower():
                raise
            message = f"{name.strip()} (an old name of {spec.name}): {exc}"
            raise ParameterError(message, name, value) from None
        return spec.name, None if typed == spec.default else typed

    def load(
        self, values: Mapping[str, object], source: Source = Source.RUNTIME, origin: str = ""
    ) -> None:
        """Set every value of ``values`` at ``source``: all of them, or none
        if one is refused (the error then starts with ``origin``, e.g. a
        file's path)."""
        if source is Source.DEFAULT:
            raise ValueError("the defaults come from the parameter table")
        checked = []
        for name, value in values.items():
            try:
                checked.append(self._check(name, value))
            except ParameterError as exc:
                if not origin:
                    raise
                raise ParameterError(f"{origin}: {exc}", exc.name, exc.value) from None
        level = self._levels[source]
        for name, typed in checked:
            if typed is None:
                level.pop(name, None)
            else:
                level[name] = typed

    def set(self, name: str, value: object) -> None:
        """Set a parameter at run time (text is converted; ``NULL``, ``DEF``,
        ``""``, None or the default clear the run-time value)."""
        self.load({name: value}, Source.RUNTIME)

    def get(self, name: str) -> Value:
        """The typed value of a parameter."""
        spec = lookup(name)
        for source in (Source.RUNTIME, Source.COMMAND_LINE, Source.ENVIRONMENT, Source.FILE):
            level = self._levels[source]
            if spec.name in level:
                return level[spec.name]
        return spec.default

    def source(self, name: str) -> Source:
        """Where the value of a parameter comes from."""
        spec = lookup(name)
        for source in (Source.RUNTIME, Source.COMMAND_LINE, Source.ENVIRONMENT, Source.FILE):
            if spec.name in self._levels[source]:
                return source
        return Source.DEFAULT

    def text(self, name: str) -> str:
        """The value of a parameter as text (see :func:`format_value`)."""
        return format_value(self.get(name))

    def get_str(self, name: str) -> str:
        """The value of a text or string-enumeration parameter."""
        value = self.get(name)
        if not isinstance(value, str):
            raise TypeError(f"{name} is not a text parameter")
        return value

    def get_int(self, name: str) -> int:
        """The value of an integer or integer-enumeration parameter."""
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} is not an integer parameter")
        return value

    def get_bool(self, name: str) -> bool:
        """The value of a boolean parameter."""
        value = self.get(name)
        if not isinstance(value, bool):
            raise TypeError(f"{name} is not a boolean parameter")
        return value

    def get_float(self, name: str) -> float:
        """The value of a number parameter."""
        value = self.get(name)
        if not isinstance(value, float):
            raise TypeError(f"{name} is not a number parameter")
        return value

    def get_list(self, name: str) -> tuple[str, ...]:
        """The value of a list parameter."""
        value = self.get(name)
        if not isinstance(value, tuple):
            raise TypeError(f"{name} is not a list parameter")
        return value

    def values_from(self, source: Source) -> dict[str, Value]:
        """The values ``source`` sets (that are not the default)."""
        if source is Source.DEFAULT:
            return {}
        return dict(self._levels[source])

    def as_dict(self) -> dict[str, Value]:
        """Every parameter's value in force, in table order."""
        values = {spec.name: spec.default for spec in TABLE}
        for source in (Source.FILE, Source.ENVIRONMENT, Source.COMMAND_LINE, Source.RUNTIME):
            values.update(self._levels[source])
        return values

    def as_text(self) -> dict[str, str]:
        """Every parameter's value in force as text."""
        return {name: format_value(value) for name, value in self.as_dict().items()}

    def changed(self) -> dict[str, Value]:
        """The parameters whose value in force is not the default (what to persist)."""
        return {
            name: value
            for name, value in self.as_dict().items()
            if value != PARAMETERS[name].default
        }

    def ignored(self) -> dict[str, str]:
        """The parameters set (by any source) that sansip ignores, with the
        reason (for a planned one: ``"not yet: <the part that will act>"``)."""
        return {
            spec.name: spec.reason if spec.kind is Kind.IGNORED else f"not yet: {spec.reason}"
            for spec in TABLE
            if not spec.active and self.source(spec.name) is not Source.DEFAULT
        }


def _table(data: Mapping[str, object], where: str) -> dict[str, object]:
    if "sansip" not in data:
        return dict(data)
    table = data["sansip"]
    if not isinstance(table, dict):
        raise ParameterError(f"{where}: 'sansip' must be a table ([sansip])", "sansip", table)
    return dict(table)


def parse_toml(text: str, where: str = "sansip.toml") -> dict[str, object]:
    """The parameters of a TOML document: its ``[sansip]`` table if it has
    one, else its top level (checked when given to :meth:`Parameters.load`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{where}: not valid TOML: {exc}") from exc
    return _table(data, where)


def load_toml(path: str | os.PathLike[str]) -> dict[str, object]:
    """The parameters of the TOML file at ``path`` (see :func:`parse_toml`).

    A file that cannot be read raises :class:`OSError`; one that is not
    TOML raises :class:`ParameterError`.
    """
    where = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{where}: not UTF-8 text ({exc.reason})") from exc
    return parse_toml(text, str(where))


def from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The parameters an environment sets: ``SANSIP_<NAME>`` for each known
    name (or old name).  Other ``SANSIP_`` variables belong to other parts
    of sansip and are left alone."""
    found: dict[str, str] = {}
    for key, value in environ.items():
        if key.upper().startswith(ENV_PREFIX):
            name = _INDEX.get(key[len(ENV_PREFIX) :].lower())
            if name is not None:
                found[name] = value
    return found


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``name=value`` texts (the arguments of repeated ``-p`` options) as a
    mapping; name and value are stripped of surrounding blanks."""
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p wants name=value, got {_show(item)}", item)
        found[name.strip()] = value.strip()
    return found


def type_text(spec: ParamSpec) -> str:
    """The type of ``spec`` as the documentation shows it."""
    if spec.type is ParamType.ENUM:
        shown = (f"{v} {label}".strip() if label else (str(v) or '""')
                 for v, label in spec.choices)  # fmt: skip
        return f"enum ({'; '.join(shown)})"
    text = spec.type.value
    if spec.minimum is not None or spec.maximum is not None:
        low = "" if spec.minimum is None else str(spec.minimum)
        high = "" if spec.maximum is None else str(spec.maximum)
        text += f" {low}..{high}"
    return f"{text} {spec.unit}" if spec.unit else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(specs: Iterable[ParamSpec] = TABLE, *, meaning: bool = False) -> str:
    """A markdown table of ``specs``: name (with its old names), type,
    default and what sansip does with it (plus the meaning if asked)."""
    head = ["name", "type", "default", "sansip status"] + (["meaning"] if meaning else [])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for spec in specs:
        name = f"`{spec.name}`"
        if spec.name in _ALIASES_OF:
            name += " (also " + ", ".join(f"`{old}`" for old in _ALIASES_OF[spec.name]) + ")"
        default = format_value(spec.default)
        status = "active" if spec.active else f"{spec.kind.value}: {spec.reason}"
        row = [name, type_text(spec), f"`{default}`" if default else '`""`', status]
        if meaning:
            row.append(spec.description)
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"
