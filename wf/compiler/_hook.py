"""Compile on import: a meta-path finder, its loader, and the compiled-bytecode cache.

The finder sits in front of ``sys.meta_path`` and claims only plain ``.py``
modules whose bytes mention a directive; everything else (the standard
library, installed packages, ``wf`` itself, sources without a directive)
is left to the regular finders after a cheap check. Compiled code objects
are cached next to the source, in ``__pycache__``, keyed by a hash of the
source, the compiler version and the Python bytecode version.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import site
import sys
import sysconfig
import tempfile
import types
from collections.abc import Sequence

from wf.compiler._diagnostics import compile_error
from wf.compiler._manifest import COMPILER_VERSION

__all__ = ["cache_path", "install_import_hook", "uninstall_import_hook"]

_MARKERS = (b"use step", b"use workflow")
_HEADER = b"wf-bytecode\x00"
_KEY_SIZE = hashlib.sha256().digest_size


def cache_path(source_path: str) -> str:
    """Where the compiled bytecode of ``source_path`` is cached."""
    directory, filename = os.path.split(source_path)
    stem = filename.rpartition(".")[0] or filename
    tag = sys.implementation.cache_tag or "python"
    return os.path.join(directory, "__pycache__", f"{stem}.{tag}-wf{COMPILER_VERSION}.pyc")


def _cache_key(module: str, source_path: str, data: bytes) -> bytes:
    digest = hashlib.sha256()
    # Ids embed the module name and code objects the file name, so both are part of the key.
    for part in (COMPILER_VERSION.encode(), importlib.util.MAGIC_NUMBER, module.encode()):
        digest.update(part + b"\x00")
    digest.update(os.fsencode(source_path) + b"\x00")
    digest.update(data)
    return digest.digest()


class _PassThrough:
    """Cached verdict: the compiler leaves this source as it is."""


_PASS_THROUGH = _PassThrough()


def _read_cache(path: str, key: bytes) -> types.CodeType | _PassThrough | None:
    try:
        with open(path, "rb") as file:
            blob = file.read()
    except OSError:
        return None
    prefix = _HEADER + key
    if not blob.startswith(prefix):
        return None
    payload = blob[len(prefix) :]
    if not payload:
        return _PASS_THROUGH
    try:
        code = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _write_cache(path: str, key: bytes, code: types.CodeType | None) -> None:
    if sys.dont_write_bytecode:
        return
    directory = os.path.dirname(path)
    temporary: str | None = None
    try:
        os.makedirs(directory, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(descriptor, "wb") as file:
            file.write(_HEADER + key + (b"" if code is None else marshal.dumps(code)))
        # Readers see the old file or the complete new one, never a partial write.
        os.replace(temporary, path)
        temporary = None
    except OSError:
        # A read-only tree or a file named __pycache__ must never break an import.
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _prepare(
    fullname: str, source_path: str, data: bytes, *, cache: bool
) -> types.CodeType | Exception | None:
    """A module's compiled code, the error to raise for it, or None if it needs no compiling."""
    key = _cache_key(fullname, source_path, data)
    cached_at = cache_path(source_path)
    if cache:
        cached = _read_cache(cached_at, key)
        if isinstance(cached, _PassThrough):
            return None
        if cached is not None:
            return cached
    # LibCST costs about a second to import: only a cache miss pays for it.
    from wf.compiler import _transform

    source = importlib.util.decode_source(data)
    result = _transform.compile_source(source, module=fullname, path=source_path)
    if result.errors:
        if any(d.code == "WF000" for d in result.errors):
            # Python's own SyntaxError, which every tool knows how to show.
            try:
                compile(data, source_path, "exec", dont_inherit=True)
            except SyntaxError as error:
                return error
        return compile_error(result.diagnostics)
    if result.code == source and not result.diagnostics:
        # Mentions a directive without using one: leave it to the regular loaders
        # (pytest's assertion rewriting among them).
        if cache:
            _write_cache(cached_at, key, None)
        return None
    # The user's file name, so tracebacks and inspect point at their source.
    code = compile(result.code, source_path, "exec", dont_inherit=True)
    if cache:
        _write_cache(cached_at, key, code)
    return code


class _CompilingLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code object comes from the wf compiler (or its cache)."""

    def __init__(
        self, fullname: str, path: str, prepared: types.CodeType | Exception, *, cache: bool
    ) -> None:
        super().__init__(fullname, path)
        self._prepared: types.CodeType | Exception | None = prepared
        self._cache = cache

    def get_code(self, fullname: str) -> types.CodeType:
        prepared, self._prepared = self._prepared, None
        if prepared is None:
            # Asked again (runpy, a second exec): compile the file as it is now.
            source_path = self.get_filename(fullname)
            data = self.get_data(source_path)
            prepared = _prepare(fullname, source_path, data, cache=self._cache)
            if prepared is None:
                return compile(data, source_path, "exec", dont_inherit=True)
        if isinstance(prepared, Exception):
            raise prepared
        return prepared


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {
        paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths
    }
    roots.update(getattr(site, "getsitepackages", list)())
    expanded = roots | {os.path.realpath(root) for root in roots}
    return tuple(os.path.join(root, "") for root in sorted(expanded))


def _is_library_file(path: str, roots: tuple[str, ...]) -> bool:
    if path.startswith(roots):
        return True
    parts = path.split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


class _CompilingFinder(importlib.abc.MetaPathFinder):
    """Hands modules that hold a directive to :class:`_CompilingLoader`."""

    def __init__(self, *, cache: bool) -> None:
        self.cache = cache
        self._roots = _library_roots()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top == "wf" or top in sys.stdlib_module_names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        if _is_library_file(spec.origin, self._roots):
            return None
        try:
            with open(spec.origin, "rb") as file:
                data = file.read()
        except OSError:
            return None
        if not any(marker in data for marker in _MARKERS):
            return None
        prepared = _prepare(fullname, spec.origin, data, cache=self.cache)
        if prepared is None:
            return None
        spec.loader = _CompilingLoader(fullname, spec.origin, prepared, cache=self.cache)
        return spec


def install_import_hook(*, cache: bool = True) -> None:
    """Compile modules that use ``"use workflow"`` / ``"use step"`` when they are imported.

    Calling it again only updates ``cache`` and moves the hook to the front
    of ``sys.meta_path``. Modules imported before the call are not affected.
    """
    uninstall_import_hook()
    sys.meta_path.insert(0, _CompilingFinder(cache=cache))


def uninstall_import_hook() -> None:
    """Remove the import hook (modules it already compiled stay compiled)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _CompilingFinder)]
