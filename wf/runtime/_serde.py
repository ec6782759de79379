"""Tagged JSON: how step arguments, results and errors are written to the event log.

Plain JSON values (``dict`` with ``str`` keys, ``list``, ``str``, ``int``,
finite ``float``, ``bool``, ``None``) are written as themselves. Every other
supported value becomes an object with the reserved key ``"__wf__"`` naming
its tag, the payload under ``"v"`` and, for classes, the import path under
``"t"``::

    {"__wf__": "datetime", "v": "2030-01-01T09:30:00.000123+02:00"}
    {"__wf__": "tuple", "v": [1, {"__wf__": "uuid", "v": "…"}]}
    {"__wf__": "enum", "t": "app.orders:Status", "v": "paid"}
    {"__wf__": "dataclass", "t": "app.orders:Line", "v": {"sku": "A1", "qty": 2}}
    {"__wf__": "ext", "n": "money", "v": …}        (wf.register_type)

Decisions worth knowing:

* ``nan``, ``inf`` and ``-inf`` are tagged (``{"__wf__": "float", "v": "nan"}``)
  so the log stays strict JSON that any reader (PostgreSQL ``jsonb``, a
  browser) accepts.
* A dict whose keys are not all ``str``, or that holds the reserved key itself,
  is written as ``{"__wf__": "dict", "v": [[key, value], …]}``: JSON would
  otherwise turn ``1`` into ``"1"`` or mistake the user's dict for a tag.
* Sets are written sorted by the JSON text of their encoded elements, so equal
  sets always produce equal text (replay compares what it re-serializes).
* Ints too long for Python's decimal conversion limit are written in hex.
* Classes (enums, dataclasses, named tuples, pydantic models) are rebuilt by
  importing them, so they must live at module level; that is checked when the
  value is written, not when it is read back on another machine.
* Decoding imports the classes the log names and calls them, like ``pickle``:
  the event log is trusted data.

Only the exact built-in types are handled natively (a ``datetime`` subclass is
not a ``datetime`` here); enums, dataclasses, named tuples, exceptions and
pydantic models are recognised by subclass. Anything else can be taught with
:func:`register_type`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import enum
import json
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

from wf import _names
from wf._errors import SerializationError
from wf.runtime import _limits

__all__ = [
    "SUPPORTED_TYPES",
    "decode_exception",
    "dumps",
    "encode_exception",
    "loads",
    "register_type",
]

T = TypeVar("T")

_TAG = "__wf__"
_TAG_TEXT = '"__wf__"'

SUPPORTED_TYPES = (
    "None, bool, int, float, str, list, dict, tuple, set, frozenset, bytes, bytearray, "
    "datetime, date, time, timedelta, Decimal, UUID, Enum, dataclasses, named tuples, "
    "pydantic models and exceptions"
)

# Exact types json writes as themselves and reads back unchanged.
_SCALARS = frozenset({str, int, bool, type(None)})

# Ints below this always fit Python's int-to-decimal limit (4300 digits by
# default, configurable); only longer ones need checking, and hex when over it.
_LONG_INT = 1 << 4096


# -- JSON text ----------------------------------------------------------------


def _refuse(value: Any) -> NoReturn:
    # Only reachable if a value slipped past the plain check: a bug, not user error.
    raise TypeError(f"internal error: unencoded {type(value).__name__} reached the JSON writer")


def _make_writer() -> Callable[[Any], str]:
    # The C encoder built once: json.dumps rebuilds it on every call, which is
    # half the cost of writing a small dict.
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is not None:
        c_encode = make(
            None, _refuse, encoder.encode_basestring_ascii, None, ":", ",", False, False, False
        )

        def write(value: Any) -> str:
            return "".join(c_encode(value, 0))

        return write
    fallback = json.JSONEncoder(separators=(",", ":"), check_circular=False, default=_refuse)
    return fallback.encode


def _make_reader() -> Callable[[str], Any]:
    decoder = json.JSONDecoder()
    scan = decoder.scan_once  # type: ignore[attr-defined]

    def read(text: str) -> Any:
        # scan_once skips json.loads' whitespace handling and error wrapping;
        # anything unusual falls back to json.loads for its precise message.
        try:
            value, end = scan(text, 0)
        except StopIteration:
            return json.loads(text)
        if end != len(text):
            return json.loads(text)
        return value

    return read


_write = _make_writer()
_read = _make_reader()


# -- errors -------------------------------------------------------------------


class _Unsupported(Exception):
    """Raised inside the encoder; the path is collected while it unwinds."""

    def __init__(self, value: Any, reason: str | None = None) -> None:
        super().__init__()
        self.value = value
        self.reason = reason
        self.segments: list[str] = []

    def error(self, where: str) -> SerializationError:
        path = where + "".join(reversed(self.segments))
        kind = _type_name(type(self.value))
        if self.reason is not None:
            return SerializationError(
                f"cannot serialize value of type {kind!r} at {path}: {self.reason}"
            )
        return SerializationError(
            f"cannot serialize value of type {kind!r} at {path}: supported types are "
            f"{SUPPORTED_TYPES}; register others with wf.register_type(...)"
        )


def _type_name(cls: type) -> str:
    """How a class is named in messages: ``KeyError``, ``wf.FatalError``, ``app.orders.Line``."""
    return _names.type_name(_names.persisted(f"{cls.__module__}:{cls.__qualname__}"))


def _too_deep(where: str) -> SerializationError:
    return SerializationError(
        f"cannot serialize {where}: it is nested too deeply or contains a reference to itself"
    )


# -- the fast path --------------------------------------------------------------


def _is_plain(value: Any) -> bool:
    """True when json can write ``value`` as is and read back an equal value.

    Called on every step result, so scalars are tested inline rather than
    through a recursive call; ``x - x == 0`` is false exactly for nan and ±inf.
    Huge ints pass here and are caught by the writer (see :func:`dumps`).
    """
    kind = type(value)
    if kind is dict:
        if _TAG in value:
            return False
        for key in value:
            if type(key) is not str:
                return False
        items: Any = value.values()
    elif kind is list:
        items = value
    elif kind in _SCALARS:
        return True
    elif kind is float:
        return bool(value - value == 0)
    else:
        return False
    for item in items:
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is float:
            if item - item == 0:
                continue
            return False
        if not _is_plain(item):
            return False
    return True


# -- encoding -------------------------------------------------------------------

_Encoder = Callable[[Any], Any]


def _encode(value: Any) -> Any:
    """Turn ``value`` into a tree json can write, reusing plain parts as they are."""
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and not -_LONG_INT < value < _LONG_INT:
            return _encode_long_int(value)
        return value
    if kind is float:
        if value - value == 0:
            return value
        return {_TAG: "float", "v": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    if kind is dict:
        return _encode_dict(value)
    if kind is list:
        return _encode_list(value)
    encoder = _encoders.get(kind)
    if encoder is None:
        encoder = _find_encoder(value)
    return encoder(value)


def _encode_long_int(value: int) -> Any:
    try:
        str(value)
    except ValueError:
        return {_TAG: "int", "v": format(value, "x")}
    return value


def _encode_list(items: list[Any] | tuple[Any, ...]) -> list[Any]:
    # Copies only once an item changes, so plain stretches cost no allocation.
    out: list[Any] | None = None if type(items) is list else []
    for index, item in enumerate(items):
        kind = type(item)
        if kind in _SCALARS and (kind is not int or -_LONG_INT < item < _LONG_INT):
            encoded = item
        else:
            try:
                encoded = _encode(item)
            except _Unsupported as exc:
                exc.segments.append(f"[{index}]")
                raise
            if out is None and encoded is not item:
                out = list(items[:index])
        if out is not None:
            out.append(encoded)
    return items if out is None else out  # type: ignore[return-value]


def _encode_dict(mapping: dict[Any, Any]) -> Any:
    if _TAG in mapping:
        return _encode_pairs(mapping)
    for key in mapping:
        if type(key) is not str:
            return _encode_pairs(mapping)
    out: dict[str, Any] | None = None
    for key, item in mapping.items():
        kind = type(item)
        if kind in _SCALARS and (kind is not int or -_LONG_INT < item < _LONG_INT):
            encoded = item
        else:
            try:
                encoded = _encode(item)
            except _Unsupported as exc:
                exc.segments.append(f"[{key!r}]")
                raise
            if out is None and encoded is not item:
                out = {}
                for earlier, same in mapping.items():
                    if earlier == key:
                        break
                    out[earlier] = same
        if out is not None:
            out[key] = encoded
    return mapping if out is None else out


def _encode_pairs(mapping: dict[Any, Any]) -> Any:
    pairs = []
    for key, item in mapping.items():
        try:
            encoded_key = _encode(key)
        except _Unsupported as exc:
            exc.segments.append(f"[<key {key!r}>]")
            raise
        try:
            pairs.append([encoded_key, _encode(item)])
        except _Unsupported as exc:
            exc.segments.append(f"[{key!r}]")
            raise
    return {_TAG: "dict", "v": pairs}


def _encode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, item in fields.items():
        try:
            out[name] = _encode(item)
        except _Unsupported as exc:
            exc.segments.append(f".{name}")
            raise
    return out


def _encode_set(items: set[Any] | frozenset[Any]) -> Any:
    encoded = []
    for item in items:
        try:
            encoded.append(_encode(item))
        except _Unsupported as exc:
            exc.segments.append("[<set element>]")
            raise
    encoded.sort(key=_write)
    return {_TAG: "set" if type(items) is set else "frozenset", "v": encoded}


def _encode_datetime(value: _dt.datetime) -> Any:
    tz = value.tzinfo
    if isinstance(tz, zoneinfo.ZoneInfo) and tz.key:
        # The offset alone would lose the zone, and with it DST-aware arithmetic.
        return {_TAG: "datetime", "v": value.isoformat(), "tz": tz.key}
    return {_TAG: "datetime", "v": value.isoformat()}


_builtin_encoders: dict[type, _Encoder] = {
    tuple: lambda v: {_TAG: "tuple", "v": _encode_list(v)},
    set: _encode_set,
    frozenset: _encode_set,
    bytes: lambda v: {_TAG: "bytes", "v": base64.b64encode(v).decode("ascii")},
    bytearray: lambda v: {_TAG: "bytearray", "v": base64.b64encode(v).decode("ascii")},
    _dt.datetime: _encode_datetime,
    _dt.date: lambda v: {_TAG: "date", "v": v.isoformat()},
    _dt.time: lambda v: {_TAG: "time", "v": v.isoformat()},
    _dt.timedelta: lambda v: {_TAG: "timedelta", "v": [v.days, v.seconds, v.microseconds]},
    Decimal: lambda v: {_TAG: "decimal", "v": str(v)},
    uuid.UUID: lambda v: {_TAG: "uuid", "v": str(v)},
}
# Exact type -> encoder, for built-ins, registered types and classes seen before.
_encoders: dict[type, _Encoder] = dict(_builtin_encoders)

_NATIVE = frozenset({str, int, float, bool, type(None), list, dict, tuple, set, frozenset})


def _class_path(value: Any, cls: type) -> str:
    """The persisted name of ``cls`` (``module:qualname``, or a stable ``wf:`` name for
    wf's own classes), checked to import back to ``cls`` itself."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        raise _Unsupported(
            value,
            f"class {path} is defined inside a function, so it cannot be imported to rebuild "
            f"the value; define it at module level or register it with wf.register_type(...)",
        )
    try:
        found = _names.resolve(path, load=None)
    except (ImportError, AttributeError, ValueError):
        found = None
    if found is not cls:
        raise _Unsupported(
            value,
            f"class {path} cannot be found again by importing {cls.__module__!r} and looking up "
            f"{cls.__qualname__!r}; define it at module level under its own name or register "
            f"it with wf.register_type(...)",
        )
    return _names.persisted(path)


def _find_encoder(value: Any) -> _Encoder:
    """Pick (and cache) the encoder for a type met for the first time."""
    cls = type(value)
    encoder: _Encoder
    if issubclass(cls, enum.Enum):
        path = _class_path(value, cls)

        def encoder(v: Any) -> Any:
            return {_TAG: "enum", "t": path, "v": _encode(v.value)}

    elif issubclass(cls, BaseException):

        def encoder(v: Any) -> Any:
            return {_TAG: "exception", "v": encode_exception(v)}

    elif issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        path = _class_path(value, cls)

        def encoder(v: Any) -> Any:
            return {_TAG: "namedtuple", "t": path, "v": _encode_list(v)}

    elif dataclasses.is_dataclass(cls):
        path = _class_path(value, cls)
        names = [f.name for f in dataclasses.fields(cls) if f.init]

        def encoder(v: Any) -> Any:
            # Not dataclasses.asdict: it would flatten nested dataclasses into dicts.
            fields = {name: getattr(v, name) for name in names}
            return {_TAG: "dataclass", "t": path, "v": _encode_fields(fields)}

    elif _is_pydantic_model(cls):
        path = _class_path(value, cls)

        def encoder(v: Any) -> Any:
            return {_TAG: "pydantic", "t": path, "v": _encode(v.model_dump(mode="python"))}

    else:
        for base in (dict, list, str, int, float, tuple, set, frozenset, bytes):
            if issubclass(cls, base):
                raise _Unsupported(
                    value,
                    f"subclasses of {base.__name__} are not supported, as they would come back "
                    f"as a plain {base.__name__}; convert it with {base.__name__}(...) or "
                    f"register the class with wf.register_type(...)",
                )
        raise _Unsupported(value)
    _encoders[cls] = encoder
    return encoder


def _is_pydantic_model(cls: type) -> bool:
    # Never import pydantic ourselves: a model instance means it is loaded already.
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None)
    return base is not None and issubclass(cls, base)


# -- the registry ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Registered:
    cls: type
    name: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


_registry_by_name: dict[str, _Registered] = {}
_registry_by_type: dict[type, _Registered] = {}


def register_type(
    cls: type[T], *, name: str, encode: Callable[[T], Any], decode: Callable[[Any], T]
) -> None:
    """Teach serialization a type: ``encode(obj)`` gives a serializable value, ``decode`` undoes it.

    ``name`` is written into the event log, so it must stay stable across
    deploys and be unique. Only instances of exactly ``cls`` use it (a
    subclass would otherwise come back as its parent). A registered type takes
    precedence over built-in handling, except for the JSON and container types.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_type() expects a class, got {type(cls).__name__} {cls!r}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_type() needs a non-empty str name, got {name!r}")
    if not callable(encode) or not callable(decode):
        raise TypeError("register_type() needs callables for both encode= and decode=")
    if cls in _NATIVE:
        raise ValueError(
            f"cannot register {cls.__name__}: it is serialized natively (register a subclass "
            f"or a wrapper type instead)"
        )
    previous = _registry_by_name.get(name)
    if previous is not None and not _same_class(previous.cls, cls):
        raise ValueError(
            f"type name {name!r} is already registered for {_type_name(previous.cls)}; "
            f"choose another name for {_type_name(cls)}"
        )
    other = _registry_by_type.get(cls)
    if other is not None and other.name != name:
        raise ValueError(
            f"{_type_name(cls)} is already registered under the name {other.name!r}; "
            f"a type can have only one name"
        )
    entry = _Registered(cls, name, encode, decode)
    if previous is not None:
        # A reloaded module re-registers its (new) class object under the same name.
        _registry_by_type.pop(previous.cls, None)
    _registry_by_name[name] = entry
    _registry_by_type[cls] = entry
    # Rebound, not cleared in place, so a dumps() running meanwhile in another
    # thread never sees a table without the built-in types.
    global _encoders
    encoders = dict(_builtin_encoders)
    for registered in _registry_by_type.values():
        encoders[registered.cls] = _make_registered_encoder(registered)
    _encoders = encoders


def _same_class(a: type, b: type) -> bool:
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _make_registered_encoder(entry: _Registered) -> _Encoder:
    name, encode = entry.name, entry.encode

    def encoder(value: Any) -> Any:
        try:
            encoded = _encode(encode(value))
        except _Unsupported as exc:
            exc.segments.append(f"<encoded by {name!r}>")
            raise
        return {_TAG: "ext", "n": name, "v": encoded}

    return encoder


_resolved: dict[str, Any] = {}


def _resolve(path: str) -> Any:
    """Import ``module:qualname`` (a persisted name: legacy and stable names of wf's own
    are found through :mod:`wf._names`)."""
    found = _resolved.get(path)
    if found is not None:
        return found
    target = _names.resolve(path)
    _resolved[path] = target
    return target


# -- decoding -------------------------------------------------------------------


def _decode(value: Any) -> Any:
    """Rebuild tagged values in a parsed tree, top-down; untouched parts are shared."""
    kind = type(value)
    if kind is dict:
        tag = value.get(_TAG)
        if tag is not None:
            return _decode_tagged(tag, value)
        out: Any = None
        for key, item in value.items():
            kind = type(item)
            if kind is dict or kind is list:
                decoded = _decode(item)
                if out is None and decoded is not item:
                    out = {}
                    for earlier, same in value.items():
                        if earlier == key:
                            break
                        out[earlier] = same
            else:
                decoded = item
            if out is not None:
                out[key] = decoded
        return value if out is None else out
    if kind is list:
        out = None
        for index, item in enumerate(value):
            kind = type(item)
            if kind is dict or kind is list:
                decoded = _decode(item)
                if out is None and decoded is not item:
                    out = value[:index]
            else:
                decoded = item
            if out is not None:
                out.append(decoded)
        return value if out is None else out
    return value


def _decode_tagged(tag: Any, data: dict[str, Any]) -> Any:
    decoder = _decoders.get(tag) if type(tag) is str else None
    if decoder is None:
        raise SerializationError(
            f"cannot decode tagged value {tag!r}: unknown tag (written by a newer wf?)"
        )
    try:
        return decoder(data)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"cannot decode tagged value {tag!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _decode_float(data: dict[str, Any]) -> float:
    text = data["v"]
    if text not in ("nan", "inf", "-inf"):
        raise ValueError(f"not a non-finite float: {text!r}")
    return float(text)


def _decode_datetime(data: dict[str, Any]) -> _dt.datetime:
    value = _dt.datetime.fromisoformat(data["v"])
    key = data.get("tz")
    if key is not None:
        # If this machine lacks the zone, keep the fixed offset: the instant is intact.
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError):
            value = value.astimezone(zoneinfo.ZoneInfo(key))
    return value


def _decode_class(data: dict[str, Any], base: type, what: str) -> type:
    path = data["t"]
    try:
        cls = _resolve(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SerializationError(f"cannot rebuild {what} {path}: {exc}") from exc
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise SerializationError(f"cannot rebuild {what} {path}: it is not a {base.__name__}")
    return cls


def _decode_enum(data: dict[str, Any]) -> Any:
    return _decode_class(data, enum.Enum, "enum")(_decode(data["v"]))


def _decode_namedtuple(data: dict[str, Any]) -> Any:
    return _decode_class(data, tuple, "named tuple")(*_decode(data["v"]))


def _decode_dataclass(data: dict[str, Any]) -> Any:
    cls = _decode_class(data, object, "dataclass")
    if not dataclasses.is_dataclass(cls):
        raise SerializationError(f"cannot rebuild dataclass {data['t']}: it is not a dataclass")
    fields = data["v"]
    return cls(**{name: _decode(item) for name, item in fields.items()})


def _decode_pydantic(data: dict[str, Any]) -> Any:
    cls = _decode_class(data, object, "pydantic model")
    validate = getattr(cls, "model_validate", None)
    if validate is None:
        raise SerializationError(f"cannot rebuild {data['t']}: it is not a pydantic model")
    return validate(_decode(data["v"]))


def _decode_ext(data: dict[str, Any]) -> Any:
    entry = _registry_by_name.get(data["n"])
    if entry is None:
        raise SerializationError(
            f"cannot decode a value of registered type {data['n']!r}: no type is registered "
            f"under that name in this process; call wf.register_type(...) before loading it"
        )
    return entry.decode(_decode(data["v"]))


def _decode_exception_value(data: dict[str, Any]) -> BaseException:
    payload = data["v"]
    exc = decode_exception(payload)
    if exc is not None:
        return exc
    # A value, not a failure: stand in with a plain Exception that says what it was.
    stand_in = Exception(f"{payload.get('type')}: {payload.get('message')}")
    stand_in.__wf_type__ = payload.get("type")  # type: ignore[attr-defined]
    stand_in.__wf_traceback__ = payload.get("traceback", "")  # type: ignore[attr-defined]
    return stand_in


_decoders: dict[str, Callable[[dict[str, Any]], Any]] = {
    "int": lambda d: int(d["v"], 16),
    "float": _decode_float,
    "dict": lambda d: {_decode(k): _decode(v) for k, v in d["v"]},
    "tuple": lambda d: tuple(_decode(d["v"])),
    "set": lambda d: set(_decode(d["v"])),
    "frozenset": lambda d: frozenset(_decode(d["v"])),
    "bytes": lambda d: base64.b64decode(d["v"], validate=True),
    "bytearray": lambda d: bytearray(base64.b64decode(d["v"], validate=True)),
    "datetime": _decode_datetime,
    "date": lambda d: _dt.date.fromisoformat(d["v"]),
    "time": lambda d: _dt.time.fromisoformat(d["v"]),
    "timedelta": lambda d: _dt.timedelta(*d["v"]),
    "decimal": lambda d: Decimal(d["v"]),
    "uuid": lambda d: uuid.UUID(d["v"]),
    "enum": _decode_enum,
    "namedtuple": _decode_namedtuple,
    "dataclass": _decode_dataclass,
    "pydantic": _decode_pydantic,
    "ext": _decode_ext,
    "exception": _decode_exception_value,
}


# -- entry points ---------------------------------------------------------------


def dumps(value: Any, *, where: str = "value", nesting_below: int | None = None) -> str:
    """Serialize ``value`` to tagged JSON text, or raise ``SerializationError``.

    ``where`` names the value in error messages, e.g. ``"step app:charge
    argument 'conn'"``; the path inside the value is appended to it.

    ``nesting_below`` is given where a value enters wf (a run's input, a hook's
    payload, a message): the user's values, which sit that many levels down (0 for
    a payload, 2 for the arguments inside a run's input), may nest at most
    ``MAX_NESTING`` levels; deeper is refused with ``NestingError``.
    """
    tree = value
    try:
        if _is_plain(value):
            try:
                text = _write(value)
            except ValueError:
                # An int too long for decimal text: the slow path writes it in hex.
                tree = _encode(value)
                text = _write(tree)
        else:
            tree = _encode(value)
            text = _write(tree)
    except _Unsupported as exc:
        raise exc.error(where) from None
    except RecursionError:
        if nesting_below is not None:
            raise _limits.too_deep(where) from None
        raise _too_deep(where) from None
    if nesting_below is not None and _limits.exceeds(text, tree, nesting_below):
        raise _limits.too_deep(where)
    return text


def loads(text: str | bytes, *, where: str = "value") -> Any:
    """Rebuild a value from :func:`dumps` output."""
    if type(text) is not str:
        if not isinstance(text, str | bytes | bytearray):
            raise TypeError(f"loads() expects str or bytes, got {type(text).__name__}")
        text = text.decode("utf-8") if isinstance(text, bytes | bytearray) else str(text)
    try:
        value = _read(text)
    except ValueError as exc:
        raise SerializationError(f"cannot decode {where}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise SerializationError(f"cannot decode {where}: nested too deeply") from None
    # JSON text can only contain "__wf__" with its quotes as a key or a whole string.
    if _TAG_TEXT not in text:
        return value
    try:
        return _decode(value)
    except SerializationError as exc:
        raise SerializationError(f"cannot decode {where}: {exc}") from exc


# Exceptions live in their own module, which uses this one (imported last on purpose).
from wf.runtime._serde_errors import decode_exception, encode_exception  # noqa: E402
