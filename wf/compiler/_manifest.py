"""The compiler's output types and the ``wf-manifest.json`` document."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from wf.compiler._diagnostics import Diagnostic

__all__ = ["COMPILER_VERSION", "CompileResult", "Kind", "ManifestEntry", "manifest_document"]

# Part of every bytecode-cache key and of the manifest: bump it whenever the
# emitted code changes, so stale cached compilations are never reused.
COMPILER_VERSION = "1"

Kind = Literal["workflow", "step"]


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """A workflow or step the compiler registered.

    ``line`` is the line of the ``def`` keyword (not of its decorators).
    ``options`` holds the literal values of ``@wf.options(...)``; a value
    that is not a literal is recorded as its source text.
    """

    id: str
    kind: Kind
    file: str
    line: int
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "options": dict(self.options),
        }


@dataclass(frozen=True, slots=True)
class CompileResult:
    """Compiled source, what it registers, and what is wrong with it.

    When ``errors`` is not empty, ``code`` is only a best effort and must not
    be executed.
    """

    code: str
    manifest: list[ManifestEntry]
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def manifest_document(entries: Iterable[ManifestEntry]) -> dict[str, Any]:
    """The JSON document ``wf build`` writes as ``wf-manifest.json``."""
    return {
        "compiler_version": COMPILER_VERSION,
        "entries": [entry.to_json() for entry in entries],
    }
