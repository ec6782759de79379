"""Files without a directive come out byte for byte the same."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import wf
from wf.compiler import compile_source
from wf.compiler._directives import mentions_directive

_ROOTS = {"wf": Path(wf.__file__).parent, "asyncio": Path(asyncio.__file__).parent}
FILES = sorted(
    (f"{name}/{path.relative_to(root)}", path)
    for name, root in _ROOTS.items()
    for path in root.rglob("*.py")
)


@pytest.mark.parametrize(("label", "path"), FILES, ids=[label for label, _ in FILES])
def test_source_without_directives_is_unchanged(label: str, path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    result = compile_source(source, module=label.removesuffix(".py"), path=str(path))
    assert result.code == source
    assert result.manifest == []
    assert result.diagnostics == []


def test_some_round_trip_files_go_through_the_parser() -> None:
    # The glue module's docstring quotes the directives, so the pre-filter lets it through.
    parsed = [label for label, path in FILES if mentions_directive(path.read_text("utf-8"))]
    assert "wf/runtime/_glue.py" in parsed
