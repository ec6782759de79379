"""Compiling a source tree ahead of time (``wf build``)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wf.compiler._diagnostics import Diagnostic
from wf.compiler._manifest import ManifestEntry, manifest_document
from wf.compiler._transform import compile_source

__all__ = ["MANIFEST_NAME", "BuildInputError", "BuildResult", "build_tree", "module_name"]

MANIFEST_NAME = "wf-manifest.json"

_SKIPPED_SUFFIXES = (".pyc", ".pyo")


class BuildInputError(ValueError):
    """The sources or the output directory given to :func:`build_tree` cannot be used."""


@dataclass(slots=True)
class BuildResult:
    """What a build found and did. Nothing is written when ``diagnostics`` holds an error."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    manifest: list[ManifestEntry] = field(default_factory=list)
    compiled: list[Path] = field(default_factory=list)  # sources that held a directive
    copied: list[Path] = field(default_factory=list)  # everything else, written unchanged
    written: bool = False

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


@dataclass(frozen=True, slots=True)
class _Planned:
    source: Path
    relative: Path  # where it goes under the output directory
    compiled: bytes | None  # None: copy the source as it is


def _import_root(directory: Path) -> Path:
    """The first directory, walking up from ``directory``, that is not a package."""
    root = directory.absolute()
    while (root / "__init__.py").is_file() and root.parent != root:
        root = root.parent
    return root


def module_name(path: Path) -> str:
    """The dotted module name of a ``.py`` file, from the packages that contain it."""
    relative = path.absolute().relative_to(_import_root(path.absolute().parent))
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _walk(source: Path) -> Iterator[Path]:
    if source.is_file():
        yield source
        return
    for directory, subdirectories, files in os.walk(source):
        here = Path(directory)
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".")
            and name != "__pycache__"
            and not (here / name / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if not name.endswith(_SKIPPED_SUFFIXES):
                yield here / name


def _refuse_overlap(output: Path, sources: Sequence[Path]) -> None:
    """Refuse an output directory that is, contains or lies inside a source.

    Such a build would write over the files it reads (``wf build flows.py -o .``
    replaced the module with its compiled form) or read back its own output.
    Paths are resolved first, so ``.``, ``$PWD``, ``../x`` and symlinks are caught.
    """
    for source in sources:
        relation = _relation(output.resolve(), source.resolve())
        # A symlinked source (`flows.py -> ../lib/flows.py`) is written as its link:
        # its own place counts too, not only the file it points to.
        relation = relation or _relation(_absolute(output), _absolute(source))
        if relation is None:
            continue
        raise BuildInputError(
            f"the output directory '{output}' {relation} '{source}': choose one outside"
            " every source (a build never writes where it reads)"
        )


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))  # `..` folded away, symlinks kept


def _relation(output: Path, source: Path) -> str | None:
    if output == source:
        return "is the source"
    if source.is_relative_to(output):
        return "contains the source"
    if output.is_relative_to(source):
        return "lies inside the source"
    return None


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _refuse_overwriting_sources(output: Path, planned: Sequence[_Planned]) -> None:
    """Refuse to write any file onto one that is read, through a symlink or a hard link
    that the path checks of :func:`_refuse_overlap` cannot see."""
    read = {_file_id(item.source) for item in planned} - {None}
    destinations = [output / item.relative for item in planned]
    destinations.append(output / MANIFEST_NAME)
    for destination in destinations:
        if _file_id(destination) in read:
            raise BuildInputError(
                f"{destination} is a source file (a link to it); refusing to overwrite it:"
                " choose an output directory outside every source"
            )


def _compile_file(path: Path, relative: Path, result: BuildResult) -> bytes | None:
    data = path.read_bytes()
    display = str(path)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        result.diagnostics.append(Diagnostic(display, 1, 1, "WF000", f"cannot decode: {error}"))
        return None
    compiled = compile_source(text, module=module_name(path), path=display)
    result.diagnostics.extend(compiled.diagnostics)
    manifest_file = relative.as_posix()
    for entry in compiled.manifest:
        result.manifest.append(
            ManifestEntry(entry.id, entry.kind, manifest_file, entry.line, entry.options)
        )
    if compiled.code == text:
        return None
    return compiled.code.encode(encoding)


def build_tree(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None,
    *,
    check: bool = False,
) -> BuildResult:
    """Compile every ``.py`` file under ``sources`` into ``out``.

    Each file lands at the path of its module name under ``out`` (so ``out``
    can go on ``sys.path``); other files are copied unchanged, and
    ``wf-manifest.json`` lists every workflow and step. With ``check`` (or
    when any file has an error) nothing is written.
    """
    if not sources:
        raise BuildInputError("no sources given")
    if out is None and not check:
        raise BuildInputError("an output directory is required (or use check mode)")
    roots = [Path(source) for source in sources]
    for source in roots:
        if not source.exists():
            raise BuildInputError(f"no such file or directory: {source}")
    output = None if out is None else Path(out)
    if output is not None:
        # Checked before reading or writing anything, in check mode too: the
        # same command without --check would destroy the sources.
        _refuse_overlap(output, roots)
        if output.exists() and not output.is_dir():
            raise BuildInputError(f"output {output} exists and is not a directory")
    result = BuildResult()
    planned: dict[Path, _Planned] = {}
    for source in roots:
        for path in _walk(source):
            relative = path.absolute().relative_to(_import_root(path.absolute().parent))
            previous = planned.get(relative)
            if previous is not None and previous.source.resolve() != path.resolve():
                raise BuildInputError(
                    f"{previous.source} and {path} would both be written to {relative}"
                )
            compiled = None
            if path.suffix == ".py":
                compiled = _compile_file(path, relative, result)
                if compiled is not None:
                    result.compiled.append(path)
            if compiled is None:
                result.copied.append(path)
            planned[relative] = _Planned(path, relative, compiled)
    result.diagnostics.sort(key=lambda d: (d.path, d.line, d.column))
    result.manifest.sort(key=lambda e: (e.file, e.line))
    if check or result.errors or output is None:
        return result
    _refuse_overwriting_sources(output, list(planned.values()))
    for item in planned.values():
        destination = output / item.relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if item.compiled is None:
            shutil.copyfile(item.source, destination)
        else:
            destination.write_bytes(item.compiled)
    manifest = json.dumps(manifest_document(result.manifest), indent=2, ensure_ascii=False)
    (output / MANIFEST_NAME).write_text(manifest + "\n", encoding="utf-8")
    result.written = True
    return result
