"""The wf compiler: LibCST passes, diagnostics, `wf build`, the import hook and its cache."""

from __future__ import annotations

from wf.compiler._build import BuildResult, build_tree
from wf.compiler._diagnostics import CODES, Diagnostic
from wf.compiler._hook import install_import_hook, uninstall_import_hook
from wf.compiler._manifest import COMPILER_VERSION, CompileResult, ManifestEntry
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
