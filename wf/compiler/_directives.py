"""Recognising directive strings, exact and misspelled, and the cheap source pre-filter."""

from __future__ import annotations

import ast
import re
from typing import Final, Literal

__all__ = [
    "STEP",
    "WORKFLOW",
    "Directive",
    "has_directive_statement",
    "mentions_directive",
    "misspelled_directive",
]

STEP: Final = "use step"
WORKFLOW: Final = "use workflow"
Directive = Literal["use step", "use workflow"]
_DIRECTIVES: tuple[Directive, ...] = (STEP, WORKFLOW)

# Separators people type instead of a single space: "use-step", "use_step", "use  step".
_SEPARATORS = re.compile(r"[\s_\-.]+")
_MAX_TYPOS = 2

# An opening quote with the text up to the next same quote on the line. The
# look-ahead makes matches overlap, so a stray pair of quotes between two
# strings cannot swallow the opening quote of a real candidate.
_QUOTED = re.compile(r"""(?=(["'])([^"'\\\n]{4,24})\1)""")


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def misspelled_directive(text: str) -> Directive | None:
    """The directive ``text`` was probably meant to be, unless it is one exactly.

    Only the exact text is a directive; case, padding, other separators and
    up to two typos make a near miss worth reporting.
    """
    if text in _DIRECTIVES:
        return None
    squeezed = _SEPARATORS.sub(" ", text.lower()).strip()
    best: Directive | None = None
    best_distance = _MAX_TYPOS + 1
    for directive in _DIRECTIVES:
        if squeezed.replace(" ", "") == directive.replace(" ", ""):
            return directive
        distance = _distance(squeezed, directive, _MAX_TYPOS)
        if distance < best_distance:
            best, best_distance = directive, distance
    return best


def mentions_directive(source: str) -> bool:
    """False only when ``source`` cannot hold a directive, exact or misspelled.

    Cheap enough to run on every file: files that fail it are returned
    unchanged without being parsed.
    """
    if STEP in source or WORKFLOW in source:
        return True
    return any(misspelled_directive(match[2]) for match in _QUOTED.finditer(source))


def has_directive_statement(tree: ast.Module) -> bool:
    """Whether any body holds a directive, or a near miss as its first statement.

    Run on Python's own (fast) syntax tree before the much slower LibCST
    metadata pass, so files that only quote a directive stay cheap.
    """
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for index, statement in enumerate(body):
            if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
                continue
            text = statement.value.value
            if isinstance(text, str) and (
                text in _DIRECTIVES or (index == 0 and misspelled_directive(text) is not None)
            ):
                return True
    return False
