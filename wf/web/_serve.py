"""Serving an app with uvicorn in the caller's loop, on a socket the caller opened
(``wf serve``, and tests that serve over real HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

from starlette.applications import Starlette

__all__ = ["listen", "serving"]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); ``OSError`` if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it a keep-alive caller waits ~40 ms per request (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serving(app: Starlette, sock: socket.socket) -> AsyncIterator[asyncio.Task[None]]:
    """Serve ``app`` with uvicorn on ``sock`` in this loop until the block exits; yields
    the server's task. uvicorn's own signal handling is left out: the caller owns the
    signals (``wf serve`` turns them into a clean engine shutdown)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if task.done():
        task.result()
        raise OSError(f"the HTTP server on {sock.getsockname()} stopped at once")
    try:
        yield task
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
