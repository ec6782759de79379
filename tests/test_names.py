"""Persisted names (wf/_names.py): wf's own names in the log are stable ``wf:`` names,
never private module paths, and the private paths older logs hold still resolve."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import wf
from flows import legacy
from wf import _errors, _names
from wf.runtime import _builtin, _serde
from wf.runtime._registry import resolve, resolve_step
from wf.runtime._views import plain

ROOT = Path(__file__).resolve().parents[1]
_BUILTIN_STEP_IDS = {_builtin.SEND, _builtin.RESUME_HOOK, _builtin.CANCEL_RUN, _builtin.RUN_STATUS}


def test_every_stable_name_is_public_and_finds_its_object() -> None:
    for name, location in _names.LOCATIONS.items():
        module, qualname = name.split(":")
        assert module == "wf" and not qualname.startswith("_"), name
        target = _names.resolve(name)
        assert target is _names.resolve(location)
        assert resolve(name) is target  # the registry finds them too
        if hasattr(wf, qualname):
            assert getattr(wf, qualname) is target or name in _BUILTIN_STEP_IDS, name


def test_everything_wf_persists_of_its_own_has_a_stable_name() -> None:
    # Every error of the tree, and every class of the public API a value may hold.
    persistable = [getattr(_errors, name) for name in _errors.__all__] + [
        value
        for value in vars(wf).values()
        if isinstance(value, type)
        and (issubclass(value, BaseException) or dataclasses.is_dataclass(value))
    ]
    for cls in persistable:
        written = _names.persisted(f"{cls.__module__}:{cls.__qualname__}")
        assert written == f"wf:{cls.__qualname__}", cls
        assert _names.resolve(written) is cls
    assert set(_names.LOCATIONS) >= _BUILTIN_STEP_IDS
    for step_id in _BUILTIN_STEP_IDS:
        assert resolve_step(step_id).fn is getattr(_builtin, step_id.partition(":")[2])


def test_legacy_names_resolve_to_the_same_objects_as_their_stable_names() -> None:
    assert "wf.runtime._builtin:send" in _names.LEGACY
    assert "wf._errors:RunIdConflictError" in _names.LEGACY
    assert "wf.runtime._webhooks:Request" in _names.LEGACY
    for old, new in _names.LEGACY.items():
        assert new in _names.LOCATIONS, old
        assert _names.canonical(old) == new
        assert _names.resolve(old) is _names.resolve(new)
    assert resolve_step("wf.runtime._builtin:send") is resolve_step("wf:send")


def test_names_that_are_not_wf_s_own_stay_as_they_are() -> None:
    for path in ("builtins:KeyError", "flows.legacy:flaky", "app.orders:Line"):
        assert _names.canonical(path) == path
        assert _names.persisted(path) == path
    with pytest.raises(ValueError, match="newer wf"):
        _names.resolve("wf:NoSuchThing")
    for malformed in ("wf", ":x", "x:", ""):
        with pytest.raises(ValueError, match="malformed"):
            _names.split(malformed)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("wf._errors:RunIdConflictError", "wf.RunIdConflictError"),
        ("wf:RunIdConflictError", "wf.RunIdConflictError"),
        ("builtins:KeyError", "KeyError"),
        ("flows.legacy:Oops", "flows.legacy.Oops"),
        ("no colon", "no colon"),
    ],
)
def test_types_are_shown_as_users_import_them(path: str, shown: str) -> None:
    assert _names.type_name(path) == shown


def test_serde_writes_stable_names_and_reads_the_old_ones() -> None:
    value = wf.Request("r", "t", "POST", "/webhooks/t", "", {"authorization": "x"}, b"hi")
    text = _serde.dumps(value)
    assert json.loads(text)["t"] == "wf:Request"
    old = text.replace('"wf:Request"', '"wf.runtime._webhooks:Request"')
    assert _serde.loads(old) == value == _serde.loads(text)
    # Views redact a request's credentials under either tag.
    for stored in (text, old):
        assert plain(json.loads(stored))["headers"]["authorization"] == "[redacted]"

    error = _serde.encode_exception(wf.RetryableError("later", retry_after=5))
    assert error["type"] == "wf:RetryableError"
    assert error["reduce"]["fn"] == "wf:rebuild_retryable_error"
    old_error = {
        **error,
        "type": "wf._errors:RetryableError",
        "reduce": {**error["reduce"], "fn": "wf._errors:_rebuild_retryable"},
    }
    for payload in (error, old_error):
        rebuilt = _serde.decode_exception(payload)
        assert type(rebuilt) is wf.RetryableError and rebuilt.retry_after == 5


def test_the_runtime_never_imports_the_compiler() -> None:
    # The data path reads compiler -> registry -> engine; wf/__init__.py joins them.
    for path in sorted((ROOT / "wf" / "runtime").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[Any] = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not any(n.startswith("wf.compiler") for n in names), path.name


def _persisted_names(value: Any) -> list[str]:
    """The names a stored value holds: serde tags' types, exception types, reduce fns."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("t", "type", "fn") and isinstance(item, str):
                found.append(item)
            found += _persisted_names(item)
    elif isinstance(value, list):
        for item in value:
            found += _persisted_names(item)
    elif isinstance(value, str) and value.startswith("{"):
        with contextlib.suppress(ValueError):  # JSON inside JSON (a child's outcome)
            found += _persisted_names(json.loads(value))
    return found


@pytest.mark.parametrize("fail", [False, True])
async def test_new_logs_write_only_stable_names(db_url: str, fail: bool) -> None:
    async with wf.Engine(db_url, poll_interval=0.02) as engine:
        other = await engine.start(legacy.other, 7, run_id="legacy-other")
        await other.result(timeout=10)
        run = await engine.start(legacy.legacy_names, "legacy-other", fail)
        if fail:
            with pytest.raises(wf.RunFailedError) as info:
                await run.result(timeout=10)
            assert info.value.error_type == "wf.RunFailedError"
            assert "wf.RunIdConflictError" in info.value.error_message
        else:
            result = await run.result(timeout=10)
            assert result["child"] == "wf.RunIdConflictError"
        log = [e async for e in run.events()]
    names = [e.name or "" for e in log]
    assert {"wf:run_status", "wf:send", "wf:resume_hook"} <= set(names)
    for event in log:
        data = json.loads(event.data) if event.data else None
        for name in [event.name or "", *_persisted_names(data)]:
            assert not name.startswith(("wf.", "wf._")), (event.kind, name)


def test_that_check_finds_the_old_names_in_a_log_that_holds_them() -> None:
    fixture = ROOT / "tests" / "runtime" / "replay_fixtures" / "legacy_completed.json"
    events = json.loads(fixture.read_text())["events"]
    found = {
        name for event in events for name in _persisted_names(event[4] and json.loads(event[4]))
    }
    assert {
        "wf._errors:FatalError",
        "wf._errors:RunNotFoundError",
        "wf._errors:_rebuild_retryable",
        "wf._errors:RunIdConflictError",
        "wf.runtime._webhooks:Request",
    } <= found
