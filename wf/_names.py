"""Persisted names, and the one lookup of a ``module:qualname`` path.

The event log names code by ``module:qualname``: workflows and steps by their id,
classes in serde tags (``"t"``), exceptions by their type. A user's names are
where the user put them. wf's own names are public and stable instead: they
never name a private module, so wf's modules can move without a data
migration. They all read ``wf:<name>``:

* built-in steps: ``wf:send``, ``wf:resume_hook``, ``wf:cancel_run``, ``wf:run_status``;
* wf's error types: ``wf:RunFailedError``, ``wf:FatalError``, ... (every class of
  the tree in ``wf._errors``, ``wf:NestingError`` among them);
* classes of the public API a value may hold: ``wf:Request``, ``wf:Response``,
  ``wf:StepMetadata``, ``wf:WorkflowMetadata``;
* ``wf:rebuild_retryable_error``, the function ``wf.RetryableError`` is rebuilt with.

A ``wf:`` name is looked up in :data:`LOCATIONS` only (``wf:send`` is the
built-in step, not the function ``wf.send``). Moving a module changes the
right-hand column there and nothing else. Logs written before these names
existed hold the private paths of the time; :data:`LEGACY` reads each as its
stable name, wherever a name is resolved, compared or shown.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from wf import _errors

__all__ = [
    "LEGACY",
    "LOCATIONS",
    "canonical",
    "locate",
    "lookup",
    "persisted",
    "resolve",
    "split",
    "type_name",
]

_BUILTIN_STEPS = ("send", "resume_hook", "cancel_run", "run_status")
#: wf 0.1.0's error classes, as its logs name them (frozen: see LEGACY).
_LEGACY_ERRORS = (
    "CompileError",
    "DeadlineExceededError",
    "FatalError",
    "HookConflictError",
    "HookNotFoundError",
    "NondeterminismError",
    "NotInWorkflowError",
    "RetryableError",
    "RunCancelledError",
    "RunFailedError",
    "RunIdConflictError",
    "RunNotFoundError",
    "SerializationError",
    "StepFailedError",
    "StoreError",
    "WorkflowError",
)

#: Stable name -> where the object lives today (``module:qualname``).
LOCATIONS: dict[str, str] = {
    **{f"wf:{name}": f"wf.runtime._builtin:{name}" for name in _BUILTIN_STEPS},
    # Every class of the error tree: a class added there gets its stable name at once.
    **{f"wf:{name}": f"wf._errors:{name}" for name in _errors.__all__},
    "wf:rebuild_retryable_error": "wf._errors:_rebuild_retryable",
    "wf:Request": "wf.runtime._webhooks:Request",
    "wf:Response": "wf.runtime._webhooks:Response",
    "wf:StepMetadata": "wf.runtime._metadata:StepMetadata",
    "wf:WorkflowMetadata": "wf.runtime._metadata:WorkflowMetadata",
}

#: Names wf 0.1.0 wrote for its own objects (private paths) -> their stable names.
#: Frozen: logs holding them exist. A module that moves later adds nothing here.
LEGACY: dict[str, str] = {
    **{f"wf.runtime._builtin:{name}": f"wf:{name}" for name in _BUILTIN_STEPS},
    **{f"wf._errors:{name}": f"wf:{name}" for name in _LEGACY_ERRORS},
    "wf._errors:_rebuild_retryable": "wf:rebuild_retryable_error",
    "wf.runtime._limits:NestingError": "wf:NestingError",
    "wf.runtime._webhooks:Request": "wf:Request",
    "wf.runtime._webhooks:Response": "wf:Response",
    "wf.runtime._metadata:StepMetadata": "wf:StepMetadata",
    "wf.runtime._metadata:WorkflowMetadata": "wf:WorkflowMetadata",
}

_BY_LOCATION = {location: name for name, location in LOCATIONS.items()}


def canonical(name: str) -> str:
    """``name`` as written today: a legacy private path becomes its stable name."""
    return LEGACY.get(name, name)


def persisted(path: str) -> str:
    """The name to write for the object at ``path`` (``module:qualname`` where it lives):
    its stable name if it is one of wf's, else ``path`` itself."""
    return _BY_LOCATION.get(path, path)


def split(path: str) -> tuple[str, str]:
    """``(module, qualname)`` of ``module:qualname``; ``ValueError`` if a part is missing."""
    module, sep, qualname = path.partition(":")
    if not sep or not module or not qualname:
        raise ValueError(f"malformed import path {path!r}: expected 'package.module:qualname'")
    return module, qualname


def locate(path: str) -> tuple[str, str]:
    """``(module, qualname)`` where the object a persisted name designates lives today:
    legacy and stable names are looked up in the tables, others split as they are.
    ``ValueError`` for a malformed path or a ``wf:`` name this wf does not know."""
    name = canonical(path)
    if name.startswith("wf:"):
        location = LOCATIONS.get(name)
        if location is None:
            raise ValueError(f"unknown wf name {path!r} (written by a newer wf?)")
        name = location
    return split(name)


def lookup(module: Any, qualname: str) -> Any:
    """The object ``qualname`` (dotted) names in ``module``; ``AttributeError`` if none."""
    target = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def resolve(
    path: str, *, load: Callable[[str], ModuleType] | None = importlib.import_module
) -> Any:
    """The object a persisted ``module:qualname`` names (see :func:`locate`).

    Its module is taken from ``sys.modules``, else imported with ``load`` (None: only
    modules already loaded, ``ImportError`` for others). ``AttributeError`` when the
    module has no such object.
    """
    module_name, qualname = locate(path)
    module = sys.modules.get(module_name)
    if module is None:
        if load is None:
            raise ImportError(f"module {module_name!r} is not loaded", name=module_name)
        module = load(module_name)
    return lookup(module, qualname)


def type_name(path: str) -> str:
    """How a persisted type is shown (``RunFailedError.error_type``, ``wf runs show``):
    ``builtins:KeyError`` -> ``KeyError``, ``wf:FatalError`` (or its legacy path) ->
    ``wf.FatalError``, ``a.b:C`` -> ``a.b.C``."""
    module, _, qualname = canonical(path).partition(":")
    if not qualname:
        return path
    if module == "builtins":
        return qualname
    return f"{module}.{qualname}"
