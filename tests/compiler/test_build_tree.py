"""``build_tree``: module names, what is walked, what is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from wf.compiler import build_tree
from wf.compiler._build import BuildInputError, module_name


def test_module_names_follow_packages(tmp_path: Path) -> None:
    package = tmp_path / "a" / "b"
    package.mkdir(parents=True)
    (tmp_path / "a" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "c.py").write_text("")
    (tmp_path / "loose.py").write_text("")
    assert module_name(package / "c.py") == "a.b.c"
    assert module_name(package / "__init__.py") == "a.b"
    assert module_name(tmp_path / "loose.py") == "loose"


def test_skips_caches_hidden_dirs_and_venvs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for directory in ("__pycache__", ".git", "venv", "pkg"):
        (src / directory).mkdir(parents=True)
    (src / "__pycache__" / "x.py").write_text("")
    (src / ".git" / "y.py").write_text("")
    (src / "venv" / "pyvenv.cfg").write_text("")
    (src / "pkg" / "z.py").write_text('async def s():\n    "use step"\n')
    out = tmp_path / "build"
    result = build_tree([src], out)
    assert [p.name for p in result.compiled] == ["z.py"]
    assert result.copied == []
    assert (out / "z.py").is_file()  # pkg/ is not a package: z is a top-level module
    assert (out / "wf-manifest.json").is_file()


STEP = 'async def s():\n    "use step"\n    return 1\n'


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``proj/flows.py`` and a package ``proj/pkg`` of a step and a data file; cwd ``proj``."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "flows.py").write_text(STEP)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "steps.py").write_text(STEP)
    (root / "pkg" / "data.json").write_text("{}\n")
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize(
    ("sources", "out", "relation"),
    [
        (["flows.py"], ".", "contains the source"),  # the file would be compiled onto itself
        (["pkg"], "pkg", "is the source"),
        (["pkg"], "{root}/pkg", "is the source"),  # absolute, as with -o $PWD/pkg
        (["."], "{root}", "is the source"),
        (["pkg"], "../proj/pkg/../pkg", "is the source"),
        (["pkg"], "pkg/build", "lies inside the source"),
        (["."], "out", "lies inside the source"),
        (["pkg/steps.py"], ".", "contains the source"),  # pkg/steps.py would land on itself
        (["pkg"], "..", "contains the source"),
        (["pkg", "flows.py"], "{tmp}", "contains the source"),  # the second source counts too
    ],
)
def test_an_output_overlapping_a_source_is_refused_before_anything_is_written(
    project: Path, sources: list[str], out: str, relation: str
) -> None:
    before = _snapshot(project.parent)
    target = out.format(root=project, tmp=project.parent)
    with pytest.raises(BuildInputError, match=relation):
        build_tree(sources, target)
    with pytest.raises(BuildInputError, match=relation):
        build_tree(sources, target, check=True)  # the same command without --check would
    assert _snapshot(project.parent) == before


def test_an_output_reached_through_a_symlink_is_resolved(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(project / "pkg", target_is_directory=True)
    before = _snapshot(project)
    with pytest.raises(BuildInputError, match="is the source"):
        build_tree([project / "pkg"], link)
    with pytest.raises(BuildInputError, match="lies inside the source"):
        build_tree([link], project / "pkg" / "out")
    assert _snapshot(project) == before


def test_a_symlinked_source_counts_where_the_link_is(project: Path, tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "real.py").write_text(STEP)
    (project / "linked.py").symlink_to(tmp_path / "lib" / "real.py")
    before = _snapshot(tmp_path)
    with pytest.raises(BuildInputError, match="contains the source"):
        build_tree(["linked.py"], ".")  # would write ./linked.py, through the link
    assert _snapshot(tmp_path) == before


def test_a_destination_linked_to_a_source_file_is_not_written_over(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "pkg").mkdir(parents=True)
    (out / "pkg" / "steps.py").symlink_to(project / "pkg" / "steps.py")
    (out / "flows.py").hardlink_to(project / "flows.py")
    before = _snapshot(project)
    with pytest.raises(BuildInputError, match="refusing to overwrite"):
        build_tree([project / "pkg", project / "flows.py"], out)
    assert _snapshot(project) == before
    assert not (out / "wf-manifest.json").exists()


def test_encoding_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "src" / "latin.py"
    source.parent.mkdir()
    text = '# -*- coding: latin-1 -*-\nasync def s():\n    "use step"\n    return "café"\n'
    source.write_bytes(text.encode("latin-1"))
    result = build_tree([source.parent], tmp_path / "out")
    assert result.errors == []
    written = (tmp_path / "out" / "latin.py").read_bytes().decode("latin-1")
    assert '"café"' in written and 'call_step("latin:s"' in written


def test_conflicting_destinations_are_refused(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.py").write_text("")
    with pytest.raises(BuildInputError, match="both be written"):
        build_tree([tmp_path / "one", tmp_path / "two"], tmp_path / "out")


def test_check_mode_needs_no_output(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text('def f():\n    "use workflow"\n')
    result = build_tree([tmp_path / "m.py"], None, check=True)
    assert [d.code for d in result.errors] == ["WF001"]
    assert result.written is False
