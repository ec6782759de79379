"""``wf build`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from wf.cli import _register, app
from wf.compiler import COMPILER_VERSION

FLOWS = '''\
"""Order flows."""

import asyncio


async def charge(order_id: str) -> str:
    "use step"
    return f"charged {order_id}"


async def process(order_id: str) -> str:
    "use workflow"
    return await charge(order_id)
'''

BROKEN = """\
import time


def process(order_id: str) -> str:
    "use workflow"
    time.sleep(1)
"""


def invoke(*args: str) -> Result:
    _register()
    return CliRunner().invoke(app, ["build", *args])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    package = src / "shop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "flows.py").write_text(FLOWS)
    (package / "util.py").write_text("def helper() -> int:\n    return 1\n")
    (package / "prices.json").write_bytes(b'{"book": 12}\n')
    (src / "script.py").write_text('async def ping() -> str:\n    "use step"\n    return "pong"\n')
    return src


def test_build_writes_compiled_tree_copies_and_manifest(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(str(tree), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "2 compiled" in result.stdout
    flows = (out / "shop" / "flows.py").read_text()
    assert 'return await __wf__.call_step("shop.flows:charge", locals())' in flows
    assert flows.count("\n") == FLOWS.count("\n")
    assert (out / "shop" / "prices.json").read_bytes() == b'{"book": 12}\n'
    util = tree / "shop" / "util.py"
    assert (out / "shop" / "util.py").read_bytes() == util.read_bytes()
    assert (out / "shop" / "__init__.py").exists()
    assert "script:ping" in (out / "script.py").read_text()
    manifest = json.loads((out / "wf-manifest.json").read_text())
    assert manifest["compiler_version"] == COMPILER_VERSION
    assert manifest["entries"] == [
        {"id": "script:ping", "kind": "step", "file": "script.py", "line": 1, "options": {}},
        {
            "id": "shop.flows:charge",
            "kind": "step",
            "file": "shop/flows.py",
            "line": 6,
            "options": {},
        },
        {
            "id": "shop.flows:process",
            "kind": "workflow",
            "file": "shop/flows.py",
            "line": 11,
            "options": {},
        },
    ]


def test_check_reports_every_diagnostic_and_exits_1(tree: Path, tmp_path: Path) -> None:
    broken = tree / "shop" / "broken.py"
    broken.write_text(BROKEN)
    out = tmp_path / "out"
    result = invoke(str(tree), "-o", str(out), "--check")
    assert result.exit_code == 1
    assert f"{broken}:4:1: WF001" in result.stderr
    assert f"{broken}:6:5: WF005" in result.stderr
    assert "hint:" in result.stderr
    assert not out.exists()


def test_errors_without_check_write_nothing(tree: Path, tmp_path: Path) -> None:
    (tree / "shop" / "broken.py").write_text(BROKEN)
    out = tmp_path / "out"
    result = invoke(str(tree), "-o", str(out))
    assert result.exit_code == 1
    assert "WF001" in result.stderr and "nothing was written" in result.stderr
    assert not out.exists()


def test_check_of_a_good_tree_exits_0_and_writes_nothing(tree: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = invoke(str(tree), "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok:")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_single_file_source(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(str(tree / "shop" / "flows.py"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "shop" / "flows.py").is_file()


def test_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr


def test_output_is_required_unless_checking(tree: Path) -> None:
    result = invoke(str(tree))
    assert result.exit_code == 2
    assert "output directory is required" in result.stderr


def test_output_that_is_a_file_is_a_usage_error(tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    result = invoke(str(tree), "-o", str(target))
    assert result.exit_code == 2
    assert "not a directory" in result.stderr


def test_help_describes_the_options() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "--output" in result.stdout and "--check" in result.stdout


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("sources", "out", "relation"),
    [
        (["shop/flows.py"], ".", "contains the source"),  # wf build flows.py -o .
        (["shop"], "shop", "is the source"),  # wf build src -o src
        (["."], "{tree}", "is the source"),  # wf build . -o $PWD
        (["shop"], "{tree}/shop/../shop/", "is the source"),
        (["shop"], "shop/build", "lies inside the source"),
        (["."], "build", "lies inside the source"),
        (["shop"], "..", "contains the source"),
    ],
)
def test_output_overlapping_a_source_is_refused_and_the_sources_are_untouched(
    tree: Path, monkeypatch: pytest.MonkeyPatch, sources: list[str], out: str, relation: str
) -> None:
    monkeypatch.chdir(tree)
    before = _snapshot(tree.parent)
    result = invoke(*sources, "-o", out.format(tree=tree))
    assert result.exit_code == 2
    assert relation in result.stderr
    assert result.stderr.startswith("wf build: the output directory")
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert result.stdout == ""
    assert _snapshot(tree.parent) == before
