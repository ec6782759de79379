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


def test_skips_caches_hidden_dirs_venvs_and_the_output(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for directory in ("__pycache__", ".git", "venv", "pkg"):
        (src / directory).mkdir(parents=True)
    (src / "__pycache__" / "x.py").write_text("")
    (src / ".git" / "y.py").write_text("")
    (src / "venv" / "pyvenv.cfg").write_text("")
    (src / "pkg" / "z.py").write_text('async def s():\n    "use step"\n')
    out = src / "build"
    first = build_tree([src], out)
    assert [p.name for p in first.compiled] == ["z.py"]
    assert first.copied == []
    second = build_tree([src], out)  # the output inside the source is not read back
    assert [p.name for p in second.compiled] == ["z.py"]
    assert (out / "z.py").is_file()  # pkg/ is not a package: z is a top-level module
    assert (out / "wf-manifest.json").is_file()


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
