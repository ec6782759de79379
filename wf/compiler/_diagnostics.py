"""What the compiler reports about a source file, and the codes it uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wf._errors import CompileError

__all__ = ["CODES", "Diagnostic", "Severity", "compile_error"]

Severity = Literal["error", "warning"]

# One line per code; the README's table is generated from the same wording.
CODES: dict[str, str] = {
    "WF000": "the file cannot be parsed (syntax error)",
    "WF001": '"use workflow" on a plain `def`: workflows must be `async def`',
    "WF002": "a directive that is not the first statement of its function or module"
    ' (or a "use step" sharing its line with other statements)',
    "WF003": 'a misspelled directive (close to "use step" or "use workflow")',
    "WF004": "a generator (`yield`) marked as a step or workflow",
    "WF005": "`time.sleep` in a workflow body",
    "WF006": "file I/O (`open`, `io.open`, `pathlib.Path.read_text` …) in a workflow body",
    "WF007": "network I/O (`socket`, `requests`, `httpx`, `urllib`, `aiohttp`, `http.client`)"
    " in a workflow body",
    "WF008": "threads or processes (`threading`, `subprocess`, `multiprocessing`,"
    " `concurrent.futures`, `os.system` …) in a workflow body",
    "WF009": "OS randomness (`os.urandom`, `os.getrandom`, `secrets`, `random.SystemRandom`)"
    " in a workflow body",
    "WF010": "a directive on a method or nested function (only steps nested directly in a"
    " workflow are supported)",
    "WF011": "a bad `@wf.options(...)`: unknown option, wrong value, or option of the other kind",
    "WF012": '"use workflow" as a module-level directive (only "use step" can mark a module)',
    "WF013": "a step nested in a workflow that cannot be hoisted: it assigns a captured variable"
    " (`nonlocal`), captures a local function, class or import, is nested in a nested step,"
    " has a decorator other than `@wf.options`, or reuses a nested step's name",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in one file. ``line`` and ``column`` are 1-based."""

    path: str
    line: int
    column: int
    code: str
    message: str
    suggestion: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"
        if self.suggestion:
            text += f" (hint: {self.suggestion})"
        return text

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_error(self) -> CompileError:
        """This diagnostic as the exception ``wf`` raises for it."""
        return CompileError(self.path, self.line, self.column, self.code, self._detail())

    def _detail(self) -> str:
        if self.suggestion:
            return f"{self.message} (hint: {self.suggestion})"
        return self.message


def compile_error(diagnostics: list[Diagnostic]) -> CompileError:
    """One exception for a whole file: located at the first error, listing every diagnostic."""
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        raise ValueError("compile_error() needs at least one error diagnostic")
    first = errors[0]
    detail = first._detail()
    others = [str(d) for d in diagnostics if d is not first]
    if others:
        detail += "\n" + "\n".join(others)
    return CompileError(first.path, first.line, first.column, first.code, detail)
