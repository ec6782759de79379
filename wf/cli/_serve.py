"""``wf serve``: a worker and the HTTP app (webhooks, JSON API) in one process."""

from __future__ import annotations

import asyncio
import importlib
from typing import Annotated
from urllib.parse import urlsplit

import typer

import wf
from wf.cli._app import app
from wf.cli._common import (
    CliError,
    DbOption,
    Interrupted,
    check_writable,
    cli_errors,
    error_console,
    import_from_project,
    run_async,
)

__all__ = ["check_base_url", "serve_command"]


@app.command("serve")
def serve_command(
    modules: Annotated[
        list[str] | None,
        typer.Argument(
            help="Modules to import at start, e.g. myapp.orders: their workflows can then be"
            " started through POST /api/runs.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8000,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Most runs the worker holds in memory.")
    ] = 1000,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="WF_BASE_URL",
            help="Public URL this server is reached at, used in webhook URLs."
            " Default: http://HOST:PORT.",
            show_default=False,
        ),
    ] = None,
    max_body: Annotated[
        int, typer.Option("--max-body", min=0, help="Largest request body in bytes (413 above).")
    ] = 1024 * 1024,
    response_timeout: Annotated[
        float,
        typer.Option(
            "--response-timeout",
            min=0.001,
            help="Seconds a manual webhook's caller waits for a step's answer (504 after).",
        ),
    ] = 30.0,
) -> None:
    """Run a worker plus the HTTP app: webhooks at /webhooks/TOKEN, a JSON API at /api,
    a dashboard at /.

    Stops cleanly on SIGINT or SIGTERM (exit 0); runs resume on the next worker.
    The API has no authentication: keep it on a private address or behind a proxy.
    """
    console = error_console()
    import_from_project()
    from wf.web import listen, serving  # Starlette and uvicorn: only for this command

    with cli_errors("serve"):
        if base_url is not None:
            base_url = check_base_url(base_url)
        check_writable(db)
        for name in modules or ():
            try:
                importlib.import_module(name)
            except Exception as exc:  # a missing module, a compile error, a failing import
                raise CliError(f"cannot import module {name!r}: {exc}") from None
        try:
            sock = listen(host, port)
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound_host, bound = sock.getsockname()[:2]
        # Where the server is reached on this machine (0.0.0.0 is every address) and
        # the public URL webhook URLs are made of: a proxy's when --base-url says so.
        listening = f"http://{_url_host(bound_host, literal=True)}:{bound}"
        url = (base_url or f"http://{_url_host(host)}:{bound}").rstrip("/")

        async def main() -> None:
            async with wf.Engine(db, concurrency=concurrency, base_url=url) as engine:
                http = wf.asgi_app(engine, max_body=max_body, response_timeout=response_timeout)
                async with serving(http, sock) as server:
                    console.print(
                        f"wf serve: listening on {listening} (worker {engine.worker_id},"
                        f" db={engine.url}); webhooks at {url}/webhooks/TOKEN, API at"
                        " /api/runs, dashboard at / (Ctrl-C to stop)"
                    )
                    # The server runs until stopped, or until its worker stops (its
                    # database file was removed or replaced): then serve stops too.
                    # (asyncio.wait never cancels the server task: leaving the block
                    # shuts it down cleanly.)
                    stopped = asyncio.ensure_future(engine.wait_stopped())
                    try:
                        await asyncio.wait([server, stopped], return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not stopped.done():
                            stopped.cancel()
                    if stopped.done() and not stopped.cancelled():
                        stopped.result()  # raises the StoreError: one line, exit 2

        try:
            run_async(main)
        except Interrupted as exc:
            console.print(f"wf serve stopped ({exc})", markup=False, highlight=False)
        finally:
            sock.close()


def _url_host(host: str, *, literal: bool = False) -> str:
    """``host`` as the host of a URL; unless ``literal``, an address that means every
    interface becomes 127.0.0.1, which a client can reach."""
    if not literal and host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def check_base_url(text: str) -> str:
    """``text`` if it is an http(s) URL with a host (a path is allowed: a proxy may
    serve wf below one), else ``CliError``: webhook URLs are this plus /webhooks/TOKEN."""
    accepted = "an http:// or https:// URL with a host, such as https://wf.example.com"
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0  # .port raises for "x:port"
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(char.isspace() for char in text)
    ):
        raise CliError(f"--base-url (or WF_BASE_URL) must be {accepted}, not {text!r}")
    return text
