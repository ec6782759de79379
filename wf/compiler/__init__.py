"""The wf compiler: LibCST passes, diagnostics, `wf build`, the import hook and its cache.

The names that need LibCST are loaded on first use, so installing the import
hook (and importing already-compiled modules from its cache) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wf.compiler._diagnostics import CODES, Diagnostic
from wf.compiler._hook import install_import_hook, uninstall_import_hook
from wf.compiler._manifest import COMPILER_VERSION, CompileResult, ManifestEntry

if TYPE_CHECKING:
    from wf.compiler._build import BuildResult, build_tree
    from wf.compiler._transform import compile_source

__all__ = [
    "CODES",
    "COMPILER_VERSION",
    "BuildResult",
    "CompileResult",
    "Diagnostic",
    "ManifestEntry",
    "build_tree",
    "compile_source",
    "install_import_hook",
    "uninstall_import_hook",
]

_LAZY = {
    "BuildResult": "wf.compiler._build",
    "build_tree": "wf.compiler._build",
    "compile_source": "wf.compiler._transform",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wf.compiler' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
