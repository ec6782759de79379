"""``wf.asgi_app()`` mounted in an application of one's own, with the worker in another
process: the step that answers a webhook runs there, the caller waits here."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import wf
from wf.web import listen, serving

FLOWS = """\
import os
import wf

async def tell(path: str, url: str) -> None:
    "use step"
    with open(path, "w") as f:
        f.write(url)

async def answer(request: wf.Request) -> int:
    "use step"
    await request.respond(wf.Response.json({{"pid": os.getpid(), "echo": request.json()}}))
    return os.getpid()

async def quote() -> int:
    "use workflow"
    hook = wf.create_webhook(respond_with="manual")
    await tell({url_file!r}, hook.url)
    return await answer(await hook)
"""


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the user's own page")


async def test_a_mounted_app_waits_for_the_answer_a_worker_process_gives(
    tmp_path: Path,
) -> None:
    url_file = tmp_path / "url.txt"
    module = "wfmount_flows"
    (tmp_path / f"{module}.py").write_text(FLOWS.format(url_file=str(url_file)))
    db = f"sqlite:///{tmp_path / 'wf.db'}"
    sock = listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {**os.environ, "WF_BASE_URL": f"{base}/wf"}
    env.pop("WF_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "wf.cli", "worker", "--db", db],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    # No engine given: the app opens wf.Engine(url, worker=False) on its first request.
    user_app = Starlette(routes=[Route("/", home), Mount("/wf", app=wf.asgi_app(url=db))])
    sys.path.insert(0, str(tmp_path))  # so that POST /api/runs finds the loaded workflow
    try:
        wf.install_import_hook()
        __import__(module)
        async with serving(user_app, sock), httpx.AsyncClient(base_url=base, timeout=30) as client:
            assert (await client.get("/")).text == "the user's own page"
            started = await client.post(
                "/wf/api/runs", json={"workflow": f"{module}:quote", "run_id": "m-1"}
            )
            assert started.status_code == 201, started.text
            for _ in range(3000):
                if url_file.exists() and url_file.read_text():
                    break
                await asyncio.sleep(0.01)
            url = url_file.read_text()
            assert url.startswith(f"{base}/wf/webhooks/")
            reply = await client.post(url, json={"order": "o-1"})
            assert reply.status_code == 200, reply.text
            assert reply.json()["echo"] == {"order": "o-1"}
            assert reply.json()["pid"] == worker.pid  # answered by the other process
            for _ in range(3000):
                shown = (await client.get("/wf/api/runs/m-1")).json()
                if shown["run"]["status"] == "completed":
                    break
                await asyncio.sleep(0.01)
            assert shown["run"]["result"] == worker.pid
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)
        sock.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
    assert worker.returncode == 0
