"""Finding workflows and steps by their stable id ``package.module:qualname``."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wf import _names
from wf._errors import WorkflowError
from wf._options import StepOptions, step_options
from wf.runtime._kinds import is_workflow

__all__ = ["StepSpec", "resolve", "resolve_step", "set_before_import", "workflow_id_of"]


#: Called before the registry imports a module: ``wf/__init__.py`` sets it to install
#: the compiler's import hook, so a worker compiles the modules of the runs it claims.
#: The runtime itself never imports the compiler (compiler → registry → engine).
_before_import: Callable[[], None] | None = None


def set_before_import(prepare: Callable[[], None] | None) -> None:
    """What to call before the registry imports a module (see ``_before_import``)."""
    global _before_import
    _before_import = prepare


def resolve(target_id: str) -> Any:
    """Import the module of ``module:qualname`` (through the import hook); return the object.

    Persisted names of wf's own (``wf:send``, a legacy ``wf.runtime._builtin:send``)
    are found through :mod:`wf._names`."""
    try:
        module_name, qualname = _names.locate(target_id)
    except ValueError:
        raise WorkflowError(
            f"malformed id {target_id!r}: expected 'package.module:function'"
        ) from None
    module = sys.modules.get(module_name)
    if module is None:
        if _before_import is not None:
            _before_import()
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise WorkflowError(
                f"cannot import module {module_name!r} for {target_id}: {exc}"
            ) from exc
    try:
        return _names.lookup(module, qualname)
    except AttributeError as exc:
        raise WorkflowError(
            f"module {module_name!r} has no {qualname!r} (needed for {target_id})"
        ) from exc


@dataclass(slots=True)
class StepSpec:
    """A step resolved for execution: how to call it and with which options."""

    step_id: str
    fn: Callable[..., Any]
    is_async: bool
    options: StepOptions
    positional: tuple[str, ...]
    var_positional: str | None
    keyword: tuple[str, ...]
    var_keyword: str | None

    def call_args(self, arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Turn the ``locals()`` captured at the call back into positional and keyword args."""
        args = [arguments[name] for name in self.positional if name in arguments]
        if self.var_positional is not None:
            args.extend(arguments.get(self.var_positional, ()))
        kwargs = {name: arguments[name] for name in self.keyword if name in arguments}
        if self.var_keyword is not None:
            kwargs.update(arguments.get(self.var_keyword, {}))
        return args, kwargs


_steps: dict[str, StepSpec] = {}


def resolve_step(step_id: str) -> StepSpec:
    step_id = _names.canonical(step_id)  # a log written before the stable names
    spec = _steps.get(step_id)
    if spec is not None:
        return spec
    obj = resolve(step_id)
    fn = getattr(obj, "__wf_step__", obj)  # the function under a module-directive wrapper
    if not callable(fn):
        raise WorkflowError(f"{step_id} is not a function")
    params = inspect.signature(fn).parameters.values()
    kinds = inspect.Parameter
    spec = StepSpec(
        step_id=step_id,
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        options=step_options(obj),
        positional=tuple(
            p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
        ),
        var_positional=next((p.name for p in params if p.kind == kinds.VAR_POSITIONAL), None),
        keyword=tuple(p.name for p in params if p.kind == kinds.KEYWORD_ONLY),
        var_keyword=next((p.name for p in params if p.kind == kinds.VAR_KEYWORD), None),
    )
    _steps[step_id] = spec
    return spec


def workflow_id_of(fn: Any) -> str:
    """The id of a compiled workflow function, or a clear error saying why it is not one."""
    name = getattr(fn, "__qualname__", repr(fn))
    if not is_workflow(fn):
        raise WorkflowError(
            f'{name} is not a workflow: mark it with "use workflow" as the first statement'
            " of an `async def` body"
        )
    code = getattr(fn, "__code__", None)
    if code is None or "enter_workflow" not in code.co_names:
        raise WorkflowError(
            f'{fn.__module__}.{name} is marked "use workflow" but its module was imported'
            " without the wf compiler: call wf.install_import_hook() before importing it,"
            " or run it with `wf run module:function`"
        )
    return f"{fn.__module__}:{name}"
