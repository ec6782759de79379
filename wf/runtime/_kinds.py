"""What a function is to wf: the one place that tells a workflow from a step at run time.

The compiler keeps a ``"use workflow"`` function's directive as its docstring and
turns a step's body into one call into the runtime's step glue; these checks read
exactly that, so they hold for compiled functions only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WORKFLOW_DIRECTIVE", "is_compiled_step", "is_workflow"]

WORKFLOW_DIRECTIVE = "use workflow"


def is_workflow(obj: Any) -> bool:
    """Whether ``obj`` is a function marked ``"use workflow"``."""
    return callable(obj) and getattr(obj, "__doc__", None) == WORKFLOW_DIRECTIVE


def is_compiled_step(obj: Any) -> bool:
    """Whether ``obj`` is a compiled ``"use step"`` function (its body calls the step glue)."""
    code = getattr(obj, "__code__", None)
    return code is not None and "call_step" in code.co_names and "__wf__" in code.co_names
