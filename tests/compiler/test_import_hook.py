"""The import hook: compiles on import, caches bytecode, never breaks on an unusable cache."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import itertools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import wf
from wf.compiler import COMPILER_VERSION, _hook, _transform, install_import_hook

STEP_MODULE = """\
import asyncio


async def double(x: int) -> int:
    "use step"
    if x < 0:
        raise ValueError("negative input")
    return 2 * x


async def flow(x: int) -> int:
    "use workflow"
    return await double(x)
"""

_counter = itertools.count()


class Project:
    """A throw-away package on sys.path with a unique name."""

    def __init__(self, root: Path) -> None:
        self.name = f"wf_hook_pkg_{next(_counter)}"
        self.root = root / "project"
        self.package = self.root / self.name
        self.package.mkdir(parents=True)
        (self.package / "__init__.py").write_text("")

    def write(self, module: str, source: str) -> Path:
        path = self.package / f"{module}.py"
        path.write_text(source)
        importlib.invalidate_caches()
        return path

    def forget(self) -> None:
        for name in [n for n in sys.modules if n == self.name or n.startswith(self.name + ".")]:
            del sys.modules[name]

    def load(self, module: str) -> Any:
        self.forget()
        return importlib.import_module(f"{self.name}.{module}")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    # The cache honours PYTHONDONTWRITEBYTECODE, which CI environments often set.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    saved_meta_path, saved_path = list(sys.meta_path), list(sys.path)
    project = Project(tmp_path)
    sys.path.insert(0, str(project.root))
    install_import_hook()
    try:
        yield project
    finally:
        project.forget()
        sys.meta_path[:] = saved_meta_path
        sys.path[:] = saved_path
        importlib.invalidate_caches()


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real: Callable[..., Any] = _transform.compile_source

    def counting(source: str, *, module: str, path: str) -> Any:
        calls.append(module)
        return real(source, module=module, path=path)

    monkeypatch.setattr(_transform, "compile_source", counting)
    return calls


def test_import_compiles_the_module(project: Project) -> None:
    path = project.write("flows", STEP_MODULE)
    module = project.load("flows")
    assert module.__file__ == str(path)
    assert module.__wf__ is sys.modules["wf.runtime._glue"]
    assert asyncio.run(module.double(4)) == 8
    with pytest.raises(wf.NotInWorkflowError, match=r"wf\.start"):
        asyncio.run(module.flow(1))
    # inspect reads the user's file, not the compiled text.
    assert '"use step"' in inspect.getsource(module.double)


def test_traceback_shows_the_users_file_and_line(project: Project) -> None:
    path = project.write("flows", STEP_MODULE)
    module = project.load("flows")
    with pytest.raises(ValueError, match="negative input") as caught:
        asyncio.run(module.double(-1))
    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno, frame.name) == (str(path), 7, "double")
    assert frame.line == 'raise ValueError("negative input")'


def test_second_import_is_served_from_the_cache(
    project: Project, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project.write("flows", STEP_MODULE)
    project.load("flows")
    assert len(compilations) == 1
    cached = Path(_hook.cache_path(str(path)))
    assert cached.parent.name == "__pycache__" and f"wf{COMPILER_VERSION}" in cached.name
    assert cached.is_file()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the compiler ran again")

    monkeypatch.setattr(_transform, "compile_source", refuse)
    module = project.load("flows")
    assert asyncio.run(module.double(2)) == 4


def test_changed_source_is_recompiled(project: Project, compilations: list[str]) -> None:
    project.write("flows", STEP_MODULE)
    assert asyncio.run(project.load("flows").double(3)) == 6
    project.write("flows", STEP_MODULE.replace("2 * x", "3 * x"))
    assert asyncio.run(project.load("flows").double(3)) == 9
    assert len(compilations) == 2


def test_cache_disabled_compiles_every_time(project: Project, compilations: list[str]) -> None:
    install_import_hook(cache=False)
    path = project.write("flows", STEP_MODULE)
    project.load("flows")
    project.load("flows")
    assert len(compilations) == 2
    assert not Path(_hook.cache_path(str(path))).exists()


def test_dont_write_bytecode_is_honoured(
    project: Project, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path = project.write("flows", STEP_MODULE)
    assert asyncio.run(project.load("flows").double(1)) == 2
    assert not Path(_hook.cache_path(str(path))).exists()


def test_read_only_directory_still_imports(project: Project, compilations: list[str]) -> None:
    project.write("flows", STEP_MODULE)
    os.chmod(project.package, 0o500)
    try:
        assert asyncio.run(project.load("flows").double(1)) == 2
        assert asyncio.run(project.load("flows").double(1)) == 2
    finally:
        os.chmod(project.package, 0o700)


def test_pycache_that_is_a_file_still_imports(project: Project, compilations: list[str]) -> None:
    project.write("flows", STEP_MODULE)
    (project.package / "__pycache__").write_text("not a directory")
    assert asyncio.run(project.load("flows").double(5)) == 10
    assert asyncio.run(project.load("flows").double(5)) == 10
    # Nothing could be cached, so each import compiled; neither one failed.
    assert len(compilations) == 2


def test_corrupt_cache_is_ignored(project: Project, compilations: list[str]) -> None:
    path = project.write("flows", STEP_MODULE)
    project.load("flows")
    cached = Path(_hook.cache_path(str(path)))
    cached.write_bytes(cached.read_bytes()[:-10])
    assert asyncio.run(project.load("flows").double(1)) == 2
    assert len(compilations) == 2


def test_compile_errors_raise_compile_error_listing_all(project: Project) -> None:
    path = project.write(
        "broken",
        'import time\n\n\ndef flow():\n    "use workflow"\n\n\nasync def other():\n'
        '    "use workflow"\n    time.sleep(1)\n',
    )
    with pytest.raises(wf.CompileError) as caught:
        project.load("broken")
    error = caught.value
    assert (error.file, error.line, error.column, error.code) == (str(path), 4, 1, "WF001")
    assert f"{path}:10:5: WF005" in str(error)


def test_syntax_errors_stay_syntax_errors(project: Project) -> None:
    project.write("bad", 'async def f(:\n    "use step"\n')
    with pytest.raises(SyntaxError):
        project.load("bad")


def test_modules_only_quoting_a_directive_are_left_to_the_regular_loaders(
    project: Project,
) -> None:
    project.write("docs", '"""Explains "use step" and "use workflow"."""\nVALUE = 1\n')
    module = project.load("docs")
    assert module.VALUE == 1
    assert not isinstance(module.__spec__.loader, _hook._CompilingLoader)
    assert not hasattr(module, "__wf__")


def test_plain_modules_are_not_claimed(project: Project) -> None:
    project.write("plain", "VALUE = 2\n")
    module = project.load("plain")
    assert not isinstance(module.__spec__.loader, _hook._CompilingLoader)


def test_install_is_idempotent(project: Project) -> None:
    install_import_hook()
    install_import_hook(cache=False)
    finders = [f for f in sys.meta_path if isinstance(f, _hook._CompilingFinder)]
    assert len(finders) == 1 and sys.meta_path[0] is finders[0]
    assert finders[0].cache is False


def test_stdlib_and_wf_are_never_claimed(project: Project) -> None:
    finder = sys.meta_path[0]
    assert isinstance(finder, _hook._CompilingFinder)
    assert finder.find_spec("json", None) is None
    assert finder.find_spec("wf.runtime._glue", None) is None
