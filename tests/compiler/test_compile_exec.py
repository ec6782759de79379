"""Compiled fixtures executed as modules: outside a workflow, steps are just functions."""

from __future__ import annotations

import asyncio
import inspect
import linecache
import traceback
import types
from pathlib import Path

import pytest

import wf
from wf._options import step_options
from wf.compiler import compile_source

FIXTURES = Path(__file__).parent / "fixtures"


def load(case: str, *, path: Path | None = None) -> types.ModuleType:
    source_path = path or FIXTURES / case / "input.py"
    result = compile_source(source_path.read_text(), module=case, path=str(source_path))
    assert result.ok, result.diagnostics
    module = types.ModuleType(case)
    module.__file__ = str(source_path)
    exec(compile(result.code, str(source_path), "exec"), module.__dict__)
    return module


def test_steps_run_as_plain_functions_outside_a_workflow() -> None:
    module = load("basic")
    assert asyncio.run(module.load_order("o1")) == {"id": "o1", "total": 42, "items": ["book"]}
    assert asyncio.run(module.charge("o1", 3)) == "charged 3 for o1"
    assert asyncio.run(module.reserve(["a"])) is True
    assert module.helper() == 1


def test_sync_step_runs_as_plain_function() -> None:
    assert load("sync_step").resize("cat.png", 100) == "cat.png@100"


@pytest.mark.parametrize(("case", "workflow"), [("basic", "process_order"), ("basic", "quick")])
def test_awaiting_a_workflow_outside_a_workflow_points_at_wf_start(
    case: str, workflow: str
) -> None:
    module = load(case)
    function = getattr(module, workflow)
    assert function.__doc__ == "use workflow"
    with pytest.raises(wf.NotInWorkflowError, match=r"wf\.start"):
        asyncio.run(function("o1") if workflow == "process_order" else function())


def test_alias_fallback_module_runs() -> None:
    module = load("alias_fallback")
    assert "__wf__" not in vars(module)
    assert asyncio.run(module.greet("ada")) == "hello ada"
    with pytest.raises(wf.NotInWorkflowError):
        asyncio.run(module.main("ada"))


def test_module_level_use_step_wraps_every_top_level_async_def() -> None:
    module = load("module_step")
    for name in ("fetch", "send_mail", "decorated", "cramped"):
        assert hasattr(getattr(module, name), "__wf_step__"), name
    assert not hasattr(module.plain_helper, "__wf_step__")
    assert not hasattr(module.checkout, "__wf_step__")
    assert module.__doc__ == "use step"
    assert asyncio.run(module.fetch("u")) == "<html>u</html>"
    assert asyncio.run(module.decorated(4)) == 8
    assert asyncio.run(module.cramped(1)) == 2
    assert module.fetch.__name__ == "fetch"


def test_rewritten_calls_behave_like_the_originals_outside_a_workflow() -> None:
    module = load("rewrites")
    assert isinstance(module.not_a_workflow(), float)
    with pytest.raises(wf.NotInWorkflowError):
        asyncio.run(module.nondeterministic())


def test_traceback_points_at_the_users_file_and_line(tmp_path: Path) -> None:
    source = tmp_path / "payments.py"
    source.write_text(
        'import asyncio\n\n\nasync def charge(amount: int) -> int:\n    "use step"\n'
        "    if amount < 0:\n        raise ValueError('negative amount')\n    return amount\n"
    )
    module = load("payments", path=source)
    with pytest.raises(ValueError) as caught:
        asyncio.run(module.charge(-1))
    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno) == (str(source), 7)
    assert frame.line == "raise ValueError('negative amount')"
    linecache.checkcache(str(source))


def test_nested_steps_run_in_place_outside_a_workflow_and_are_hoisted_for_the_worker() -> None:
    module = load("nested_step")
    with pytest.raises(wf.NotInWorkflowError):
        asyncio.run(module.process("o1", 100))
    charge = module.process.charge  # what the worker resolves "nested_step:process.charge" to
    assert charge.__qualname__ == "process.charge"
    # its own parameters, then one keyword-only parameter per captured variable
    assert list(inspect.signature(charge).parameters) == [
        "extra",
        "note",
        "amount",
        "fee",
        "order_id",
    ]
    captured = {"order_id": "o1", "amount": 100, "fee": 10}
    assert asyncio.run(charge(5, note="!", **captured)) == "o1:115!"
    label = module.process.label
    assert not inspect.iscoroutinefunction(label)
    assert label("x", order_id="o2", started=1.0) == "x-o2-True"
    assert step_options(label).max_attempts == 2
    with pytest.raises(NameError):  # a variable not yet bound when the step was called
        label("x", order_id="o2")
