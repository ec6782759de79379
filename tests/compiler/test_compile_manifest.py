"""Manifest entries: ids, kinds, the def line, options as written."""

from __future__ import annotations

from pathlib import Path

from wf.compiler import ManifestEntry, compile_source
from wf.compiler._manifest import COMPILER_VERSION, manifest_document

FIXTURES = Path(__file__).parent / "fixtures"


def manifest(case: str, module: str = "app.orders") -> list[ManifestEntry]:
    source = (FIXTURES / case / "input.py").read_text()
    return compile_source(source, module=module, path=f"src/{case}.py").manifest


def test_basic_manifest() -> None:
    assert [(e.id, e.kind, e.file, e.line) for e in manifest("basic")] == [
        ("app.orders:load_order", "step", "src/basic.py", 8),
        ("app.orders:charge", "step", "src/basic.py", 13),
        ("app.orders:reserve", "step", "src/basic.py", 19),
        ("app.orders:process_order", "workflow", "src/basic.py", 24),
        ("app.orders:quick", "workflow", "src/basic.py", 33),
    ]


def test_module_step_manifest_uses_the_def_line_not_the_decorator() -> None:
    entries = {e.id.split(":")[1]: e for e in manifest("module_step", "tasks")}
    assert sorted(entries) == ["checkout", "cramped", "decorated", "fetch", "send_mail"]
    assert entries["decorated"].line == 24  # `@traced` is on line 23
    assert entries["checkout"].kind == "workflow"
    assert all(e.kind == "step" for name, e in entries.items() if name != "checkout")


def test_options_are_recorded() -> None:
    entries = {e.id: e.options for e in manifest("options", "opts")}
    assert entries == {
        "opts:flaky": {
            "max_attempts": 5,
            "backoff": "exponential",
            "initial_interval": "1s",
            "max_interval": "1m",
            "timeout": 30,
        },
        "opts:versioned": {"version": "v2", "schema": "Order", "timeout": "1h"},
        # Not literals: recorded as source text, checked when the decorator runs.
        "opts:computed": {"max_attempts": "RETRIES", "timeout": None},
    }


def test_stacked_options_merge_outer_wins() -> None:
    source = (
        "import wf\n@wf.options(max_attempts=9)\n@wf.options(max_attempts=2, timeout=5)\n"
        'async def s():\n    "use step"\n'
    )
    (entry,) = compile_source(source, module="m", path="m.py").manifest
    assert entry.options == {"max_attempts": 9, "timeout": 5}
    assert entry.line == 4


def test_manifest_document() -> None:
    document = manifest_document(manifest("sync_step", "media"))
    assert document == {
        "compiler_version": COMPILER_VERSION,
        "entries": [
            {
                "id": "media:resize",
                "kind": "step",
                "file": "src/sync_step.py",
                "line": 4,
                "options": {},
            },
            {
                "id": "media:thumbnails",
                "kind": "workflow",
                "file": "src/sync_step.py",
                "line": 10,
                "options": {},
            },
        ],
    }
