"""``wf serve``: a worker and the HTTP app in one process, driven over real HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from wfcli_support import Project, invoke, serve_process, wait_until

SERVED = """\
import wf

async def tell(path: str, url: str) -> None:
    "use step"
    with open(path, "w") as f:
        f.write(url)

async def reply(request: wf.Request) -> int:
    "use step"
    size = len(request.body)
    await request.respond(wf.Response.json({{"size": size, "method": request.method}}))
    return size

async def sizes(count: int) -> list:
    "use workflow"
    hook = wf.create_webhook(respond_with="manual")
    await tell({url_file!r}, hook.url)
    seen = []
    async for request in hook:
        seen.append(await reply(request))
        if len(seen) == count:
            return seen
"""


def _stop(proc: subprocess.Popen[str], signum: int = signal.SIGTERM) -> str:
    try:
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
        return err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_starts_runs_answers_webhooks_and_stops_cleanly(
    project: Project, tmp_path: Path, signum: int
) -> None:
    url_file = tmp_path / "webhook-url.txt"
    module = project.write_module("wfcli_served", SERVED.format(url_file=str(url_file)))
    proc, base = serve_process(project, module)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            started = client.post(
                "/api/runs", json={"workflow": f"{module}:sizes", "args": [2], "run_id": "s1"}
            )
            assert started.status_code == 201, started.text
            wait_until(lambda: url_file.exists() and url_file.read_text() != "", what="the URL")
            hook_url = url_file.read_text()
            assert hook_url.startswith(f"{base}/webhooks/")

            # The default body limit is 1 MiB: one byte more is refused, unrecorded.
            too_big = client.post(hook_url, content=b"x" * (1024 * 1024 + 1))
            assert too_big.status_code == 413
            first = client.post(hook_url, content=b"x" * (1024 * 1024))
            assert first.json() == {"size": 1024 * 1024, "method": "POST"}
            second = client.patch(hook_url, content=b"abc")
            assert second.json() == {"size": 3, "method": "PATCH"}

            shown = client.get("/api/runs/s1").json()
            assert shown["run"]["status"] == "completed"
            assert shown["run"]["result"] == [1024 * 1024, 3]
    finally:
        err = _stop(proc, signum)
    assert proc.returncode == 0, err
    assert "wf serve stopped" in err


def test_serve_rejects_a_module_it_cannot_import(project: Project) -> None:
    result = invoke("serve", "no_such_module_here", "--db", project.db, "--port", "0")
    assert result.exit_code == 2
    assert "wf serve: cannot import module 'no_such_module_here'" in result.stderr


def test_serve_reports_a_port_in_use(project: Project) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = invoke("serve", "--db", project.db, "--port", str(port))
    finally:
        taken.close()
    assert result.exit_code == 2
    assert f"wf serve: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_help_names_its_options() -> None:
    result = invoke("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--concurrency", "--base-url", "--max-body"):
        assert option in result.stdout
