"""Checking a workflow's input against its type hints before a run is written.

Only what can be checked exactly is checked: builtin scalars, lists, tuples,
sets, dicts, ``X | None`` and other unions, ``Literal``, dataclasses, enums and
other plain classes. Annotations outside that (protocols, type variables,
``Any``, callables...) are accepted as they are, so valid input is never
refused. The error names the parameter and the path inside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import types
import typing
import weakref
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["coerce_payload", "signature_and_hints", "validate_input"]

_NONE = type(None)

# Worked out once per workflow function: wf.start checks every call against them, and
# inspect.signature with typing.get_type_hints cost ~20 µs a call.
_introspected: weakref.WeakKeyDictionary[Any, tuple[inspect.Signature, dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def signature_and_hints(fn: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any] | None]:
    """``fn``'s signature and type hints (None when they cannot be resolved: then they
    are not kept, as a forward reference may resolve later)."""
    try:
        cached = _introspected.get(fn)
    except TypeError:  # not weakly referenceable: worked out every time
        cached = None
    if cached is not None:
        return cached
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return signature, None
    with contextlib.suppress(TypeError):
        _introspected[fn] = (signature, hints)
    return signature, hints


class _Mismatch(Exception):
    def __init__(self, path: str, expected: str, value: Any) -> None:
        super().__init__(path)
        self.path = path
        self.expected = expected
        self.value = value


def validate_input(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    """Raise ``TypeError`` naming the first argument that does not match its annotation."""
    signature, hints = signature_and_hints(fn)
    if hints is None:
        return  # unresolvable annotations (forward references...): nothing to check against
    for name, value in signature.bind(*args, **kwargs).arguments.items():
        hint = hints.get(name)
        if hint is None:
            continue
        kind = signature.parameters[name].kind
        try:
            if kind is inspect.Parameter.VAR_POSITIONAL:
                for i, item in enumerate(value):
                    _check(item, hint, f"{name}[{i}]")
            elif kind is inspect.Parameter.VAR_KEYWORD:
                for key, item in value.items():
                    _check(item, hint, f"{name}[{key!r}]")
            else:
                _check(value, hint, name)
        except _Mismatch as bad:
            raise TypeError(
                f"argument {bad.path!r} must be {bad.expected}, not {_describe(bad.value)}"
            ) from None


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check(value: Any, hint: Any, path: str) -> None:
    if hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        return
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        for option in options:
            try:
                _check(value, option, path)
                return
            except _Mismatch:
                continue
        raise _Mismatch(path, " or ".join(_name(o) for o in options), value)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or type(value) not in {type(a) for a in allowed}:
            raise _Mismatch(path, f"one of {allowed!r}", value)
        return
    if origin is typing.Annotated:
        _check(value, typing.get_args(hint)[0], path)
        return
    if origin in (list, set, frozenset):
        if not isinstance(value, origin):
            raise _Mismatch(path, f"a {origin.__name__}", value)
        (item_hint,) = typing.get_args(hint) or (Any,)
        for i, item in enumerate(value):
            _check(item, item_hint, f"{path}[{i}]")
        return
    if origin is tuple:
        if not isinstance(value, tuple | list):
            raise _Mismatch(path, "a tuple", value)
        params = typing.get_args(hint)
        if len(params) == 2 and params[1] is Ellipsis:
            for i, item in enumerate(value):
                _check(item, params[0], f"{path}[{i}]")
        elif params:
            if len(params) != len(value):
                raise _Mismatch(path, f"a tuple of {len(params)} items", value)
            for i, (item, item_hint) in enumerate(zip(value, params, strict=True)):
                _check(item, item_hint, f"{path}[{i}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch(path, "a dict", value)
        key_hint, item_hint = typing.get_args(hint) or (Any, Any)
        for key, item in value.items():
            _check(key, key_hint, f"{path} key {key!r}")
            _check(item, item_hint, f"{path}[{key!r}]")
        return
    if origin is not None or not isinstance(hint, type):
        return  # a shape this checker does not know: accepted as is
    if hint is _NONE:
        if value is not None:
            raise _Mismatch(path, "None", value)
        return
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return  # the numeric tower: an int is a fine float
    if hint is int and isinstance(value, bool):
        raise _Mismatch(path, "int", value)
    if getattr(hint, "_is_protocol", False):
        return  # structural: isinstance would need @runtime_checkable
    if not isinstance(value, hint):
        raise _Mismatch(path, _name(hint), value)
    if dataclasses.is_dataclass(hint):
        return  # the instance was built by its class, which checked what it wanted


def coerce_payload(cls: type, payload: Any) -> Any:
    """``payload`` as an instance of ``cls`` (a hook's ``type=``), or ``ValueError``
    saying what does not fit. Dataclasses are built from a JSON object and their
    annotated fields checked; pydantic models use ``model_validate``."""
    if isinstance(payload, cls):
        return payload
    validate = getattr(cls, "model_validate", None)
    if callable(validate):
        try:
            return validate(payload)
        except Exception as exc:  # pydantic's ValidationError lists every problem
            raise ValueError(str(exc)) from None
    if dataclasses.is_dataclass(cls):
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object with the fields of {cls.__name__}")
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(payload) - names)
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; {cls.__name__} has {sorted(names)}"
            )
        try:
            hints = typing.get_type_hints(cls)
        except Exception:
            hints = {}
        for name, value in payload.items():
            if name in hints:
                try:
                    _check(value, hints[name], name)
                except _Mismatch as bad:
                    raise ValueError(
                        f"field {bad.path!r} must be {bad.expected}, not {_describe(bad.value)}"
                    ) from None
        try:
            return cls(**payload)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
    try:
        _check(payload, cls, "payload")
    except _Mismatch as bad:
        raise ValueError(f"expected {bad.expected}, not {_describe(bad.value)}") from None
    return payload
