"""``wf build``: compile a source tree ahead of time, or only check it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from wf.cli._app import app

if TYPE_CHECKING:
    from wf.compiler._build import BuildResult
    from wf.compiler._diagnostics import Diagnostic

__all__ = ["build_command"]

EXIT_ERRORS = 1
EXIT_USAGE = 2


def _diagnostic_text(diagnostic: Diagnostic) -> Text:
    style = "bold red" if diagnostic.is_error else "bold yellow"
    text = Text.assemble(
        (f"{diagnostic.path}:{diagnostic.line}:{diagnostic.column}:", "bold"),
        " ",
        (diagnostic.code, style),
        " ",
        diagnostic.message,
    )
    if diagnostic.suggestion:
        text.append(f" (hint: {diagnostic.suggestion})", style="dim")
    return text


def _summary(result: BuildResult) -> str:
    workflows = sum(entry.kind == "workflow" for entry in result.manifest)
    steps = len(result.manifest) - workflows
    return (
        f"{len(result.compiled)} compiled, {len(result.copied)} copied;"
        f" {workflows} workflow(s), {steps} step(s)"
    )


@app.command("build")
def build_command(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Source files or directories. Every .py file in them is compiled;"
            " other files are copied unchanged.",
            metavar="SRC",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory to write the compiled tree and wf-manifest.json into;"
            " files land at the path of their module name. Required unless --check.",
            metavar="OUT",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only validate: report diagnostics and write nothing."),
    ] = False,
) -> None:
    """Compile "use workflow" / "use step" modules ahead of time."""
    # Imported here, not at the top: the compiler imports LibCST (a few tenths
    # of a second), which every other command, and `wf --help`, must not pay.
    from wf.compiler._build import MANIFEST_NAME, BuildInputError, build_tree

    errors = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    try:
        result = build_tree(sources, output, check=check)
    except BuildInputError as error:
        errors.print(Text(f"wf build: {error}", style="red"), soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as error:
        errors.print(Text(f"wf build: {error}", style="red"), soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    for diagnostic in result.diagnostics:
        errors.print(_diagnostic_text(diagnostic), soft_wrap=True)
    if result.errors:
        count = len(result.errors)
        errors.print(
            Text(f"{count} error(s); nothing was written", style="bold red"), soft_wrap=True
        )
        raise typer.Exit(EXIT_ERRORS)
    if check:
        out.print(Text(f"ok: {_summary(result)}"), soft_wrap=True)
    else:
        out.print(
            Text(f"built {output}: {_summary(result)}; manifest: {MANIFEST_NAME}"), soft_wrap=True
        )
