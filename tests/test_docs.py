"""The documents a user of the repository has: no reference to a file they lack, and
docs/ARCHITECTURE.md names modules, functions and links that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "bench/README.md", "docs/ARCHITECTURE.md"]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


@pytest.mark.parametrize("doc", DOCS)
def test_no_document_refers_to_the_design_file_users_do_not_have(doc: str) -> None:
    assert "DESIGN.md" not in (ROOT / doc).read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_lead_to_files(doc: str) -> None:
    path = ROOT / doc
    for target in re.findall(r"\]\(([^)#]+)\)", path.read_text(encoding="utf-8")):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{doc} links to {target}"


def test_the_modules_the_architecture_names_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    sources = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("[wbt]*/**/*.py")}
    names = {p.rsplit("/", 1)[-1] for p in sources}
    mentioned = set(re.findall(r"`([\w/]+\.py)`", text)) | set(
        re.findall(r"^(\S+\.py) ", text, re.M)
    )
    assert mentioned, "the architecture names no module"
    for name in mentioned:
        assert name in sources or name in names, f"docs/ARCHITECTURE.md names {name}"


def test_the_functions_the_architecture_names_exist() -> None:
    """`Class.method` and `module.function` names of the data path."""
    import wf.runtime._committer as committer
    import wf.runtime._context as context
    import wf.runtime._engine as engine
    import wf.runtime._glue as glue
    import wf.runtime._host as host
    import wf.runtime._live as live
    import wf.runtime._registry as registry
    import wf.runtime._worker as worker

    text = ARCHITECTURE.read_text(encoding="utf-8")
    owners: dict[str, type] = {
        "RunContext": context.RunContext,
        "EngineCore": engine.EngineCore,
        "Committer": committer.Committer,
        "RunHost": host.RunHost,
        "Worker": worker.Worker,
        "Live": live.Live,
    }
    pattern = r"`(" + "|".join(owners) + r")\.(\w+)"
    found = re.findall(pattern, text)
    assert {owner for owner, _ in found} >= {"Committer", "RunHost", "Worker"}
    for owner, attr in found:
        assert hasattr(owners[owner], attr), f"{owner}.{attr}"
    for name in ("enter_workflow", "call_step", "step_function", "nested_step"):
        assert name in text and hasattr(glue, name)
    for name in ("workflow_id_of", "resolve"):
        assert hasattr(registry, name)
    for name in ("_on_record", "_drain", "_deliver"):
        assert name in text and hasattr(host.RunHost, name), name
    for name in ("_flush_now", "_flush_loop"):
        assert name in text and hasattr(committer.Committer, name), name
    assert "RunState" in text and hasattr(live, "RunState")
