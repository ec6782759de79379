"""Reading and validating ``@wf.options(...)`` at compile time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import libcst as cst
import libcst.matchers as m

from wf._options import STEP_OPTION_NAMES, WORKFLOW_OPTION_NAMES, check_option
from wf.compiler._manifest import Kind

__all__ = ["OPTIONS_QUALIFIED_NAMES", "OptionProblem", "interval_problem", "read_options"]

# Where ``options`` may resolve to: the public name, and the module defining it.
OPTIONS_QUALIFIED_NAMES = frozenset({"wf.options", "wf._options.options"})

_ACCEPTED: dict[Kind, tuple[str, ...]] = {
    "step": STEP_OPTION_NAMES,
    "workflow": WORKFLOW_OPTION_NAMES,
}


class _NotLiteral:
    """Marker for a value the compiler cannot evaluate."""


_NOT_LITERAL: Final = _NotLiteral()

_NUMBER = m.Integer() | m.Float()


@dataclass(frozen=True, slots=True)
class OptionProblem:
    node: cst.CSTNode
    message: str
    suggestion: str


def _literal(node: cst.BaseExpression) -> Any:
    if m.matches(node, _NUMBER | m.SimpleString() | m.ConcatenatedString()):
        value = node.evaluated_value  # type: ignore[attr-defined]
        return _NOT_LITERAL if value is None else value
    if m.matches(node, m.UnaryOperation(operator=m.Minus(), expression=_NUMBER)):
        return -node.expression.evaluated_value  # type: ignore[attr-defined]
    if m.matches(node, m.Name("True") | m.Name("False") | m.Name("None")):
        return {"True": True, "False": False, "None": None}[node.value]  # type: ignore[attr-defined]
    return _NOT_LITERAL


def _accepted(kind: Kind) -> str:
    return f"a {kind} accepts " + ", ".join(_ACCEPTED[kind])


def _seconds(value: Any) -> float | str:
    """``value`` as seconds, or why it is not a duration."""
    try:
        return float(check_option("initial_interval", value))
    except (TypeError, ValueError) as error:
        return str(error)


def _value_problem(name: str, value: Any) -> str | None:
    """Why a literal ``value`` is wrong for option ``name`` (the runtime's own check, so
    the compiler and ``@wf.options`` accept exactly the same values), or None."""
    if name == "schema" and value is not None:
        # A class is never a literal: a string, a number or a bool is a mistake.
        return (
            "schema must be a dataclass or a pydantic model class (the class itself,"
            f" not a name or a value), got {value!r}"
        )
    try:
        check_option(name, value)
    except (TypeError, ValueError) as error:
        return str(error).removeprefix("wf.options(): ")
    return None


def interval_problem(options: dict[str, Any]) -> str | None:
    """Why the literal retry intervals of a step contradict each other, if they do."""
    initial, maximum = options.get("initial_interval"), options.get("max_interval")
    if initial is None or maximum is None:
        return None
    initial_seconds, max_seconds = _seconds(initial), _seconds(maximum)
    if isinstance(initial_seconds, str) or isinstance(max_seconds, str):
        return None  # not literal: checked when the decorator runs
    if initial_seconds > max_seconds:
        return f"initial_interval ({initial!r}) is longer than max_interval ({maximum!r})"
    return None


def read_options(
    call: cst.Call, kind: Kind, source_of: Callable[[cst.CSTNode], str]
) -> tuple[dict[str, Any], list[OptionProblem]]:
    """The options ``call`` sets for a ``kind``, and what is wrong with them.

    Literal values are recorded as themselves, anything else as its source
    text (it is checked when the decorator runs).
    """
    options: dict[str, Any] = {}
    problems: list[OptionProblem] = []
    accepted = _ACCEPTED[kind]
    for arg in call.args:
        if arg.keyword is None:
            problems.append(
                OptionProblem(
                    arg,
                    "wf.options() takes keyword arguments only",
                    f"name each option; {_accepted(kind)}",
                )
            )
            continue
        name = arg.keyword.value
        if name not in accepted:
            other: Kind = "workflow" if kind == "step" else "step"
            if name in _ACCEPTED[other]:
                message = f"option {name!r} applies to {other}s, not to {kind}s"
            else:
                message = f"unknown option {name!r}"
            problems.append(OptionProblem(arg, message, _accepted(kind)))
            continue
        value = _literal(arg.value)
        if isinstance(value, _NotLiteral):
            options[name] = source_of(arg.value)
            continue
        problem = _value_problem(name, value)
        if problem is not None:
            problems.append(OptionProblem(arg.value, problem, _accepted(kind)))
            continue
        options[name] = value
    return options, problems
