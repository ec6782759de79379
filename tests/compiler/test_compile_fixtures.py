"""Golden fixtures: each ``fixtures/<case>/input.py`` compiles to its ``output.py``, byte for byte.

Regenerate the outputs with ``WF_REGEN_FIXTURES=1 python tests/compiler/regen_fixtures.py``
and review the diff: the outputs are the specification.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wf.compiler import CompileResult, compile_source

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "input.py").is_file())


def compile_fixture(case: str) -> CompileResult:
    source = (FIXTURES / case / "input.py").read_text(encoding="utf-8")
    return compile_source(source, module=case, path=f"{case}/input.py")


@pytest.mark.parametrize("case", CASES)
def test_fixture_compiles_to_golden_output(case: str) -> None:
    result = compile_fixture(case)
    assert result.diagnostics == []
    expected = (FIXTURES / case / "output.py").read_bytes()
    assert result.code.encode("utf-8") == expected


# -- line preservation --------------------------------------------------------

_ALIAS = "__wf__"
_FALLBACK = '__import__("wf.runtime._glue").runtime._glue'
_APPENDED = re.compile(r'(\w+) = __wf__\.step_function\("[\w.:]+"\)\(\1\)')
_HOISTED = re.compile(r'__wf__\.nested_step\(\w+, "\w+", "[\w.:]+"(?:, wf\.options\(.*\))?\)')
_GUARD = re.compile(
    r"(?P<indent>\s*)if __wf__\.in_workflow\(\): return (?:await )?"
    r'__wf__\.call_step\("[\w.:]+", locals\(\)\)(?P<rest>.*)'
)
_DECORATOR = re.compile(r'@__wf__\.step_function\("[\w.:]+"\)(?:\s+(?P<comment>#.*))?')
_DIRECTIVE_LITERAL = r"""(?:[ru]?(?:"use step"|'use step'|\"\"\"use step\"\"\"|'''use step'''))"""


def _pattern_for(output_line: str) -> str:
    """A regex that the input line must match for ``output_line`` to be a known rewrite of it."""
    line = output_line.replace(_FALLBACK, _ALIAS)
    guard = _GUARD.fullmatch(line)
    if guard:
        return re.escape(guard["indent"]) + _DIRECTIVE_LITERAL + re.escape(guard["rest"])
    decorator = _DECORATOR.fullmatch(line)
    if decorator:
        comment = decorator["comment"]
        return r"\s*" if comment is None else r"\s*" + re.escape(comment)
    line = line.replace("import wf.runtime._glue as __wf__; ", "")
    line = line.replace("; import wf.runtime._glue as __wf__", "")
    line = re.sub(r'; __wf__\.enter_workflow\("[\w.:]+"\)', "", line)
    # A rewritten callee stands for any dotted name in the input (an alias, a module path).
    line = re.sub(r"__wf__\.(?:rng\(\)\.)?\w+\(", "\0", line)
    return r"[\w.]+\(".join(re.escape(part) for part in line.split("\0"))


@pytest.mark.parametrize("case", CASES)
def test_every_original_line_keeps_its_line_number(case: str) -> None:
    source_lines = (FIXTURES / case / "input.py").read_text(encoding="utf-8").splitlines()
    output_lines = compile_fixture(case).code.splitlines()
    assert len(output_lines) >= len(source_lines)
    for extra in output_lines[len(source_lines) :]:
        assert _APPENDED.fullmatch(extra) or _HOISTED.fullmatch(extra), (
            f"unexpected added line {extra!r}"
        )
    for number, (before, after) in enumerate(zip(source_lines, output_lines, strict=False), 1):
        if before != after:
            assert re.fullmatch(_pattern_for(after), before), (
                f"{case}:{number}: {before!r} became {after!r}"
            )


def test_only_appended_registrations_add_lines() -> None:
    for case in CASES:
        source = (FIXTURES / case / "input.py").read_text(encoding="utf-8")
        added = compile_fixture(case).code.count("\n") - source.count("\n")
        assert added == {"module_step": 1, "nested_step": 2}.get(case, 0), case


def test_file_without_directive_is_returned_untouched() -> None:
    source = (FIXTURES / "no_directives" / "input.py").read_text(encoding="utf-8")
    result = compile_fixture("no_directives")
    assert result.code is source or result.code == source
    assert result.manifest == []


def test_line_check_rejects_unexplained_changes() -> None:
    assert re.fullmatch(_pattern_for("    x = __wf__.time()"), "    x = t.time()")
    assert not re.fullmatch(_pattern_for("    x = __wf__.time()"), "    y = t.time()")
    assert not re.fullmatch(_pattern_for('@__wf__.step_function("m:f")'), "x = 1")
    assert re.fullmatch(_pattern_for('@__wf__.step_function("m:f")  # note'), "# note")
    guard = 'if __wf__.in_workflow(): return await __wf__.call_step("m:f", locals())'
    assert re.fullmatch(_pattern_for("    " + guard), '    "use step"')
    assert not re.fullmatch(_pattern_for("    " + guard), "    return 1")
