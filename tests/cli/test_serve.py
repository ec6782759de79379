"""``wf serve``: a worker and the HTTP app in one process, driven over real HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from wfcli_support import (
    Project,
    invoke,
    serve_banner,
    serve_process,
    wait_until,
    wf_process,
)

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

            # The answer went out before the run's end was committed: wait for it.
            wait_until(
                lambda: client.get("/api/runs/s1").json()["run"]["status"] == "completed",
                what="the run to complete",
            )
            shown = client.get("/api/runs/s1").json()
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


def test_serve_prints_the_address_it_listens_on_and_the_base_url_of_webhooks(
    project: Project,
) -> None:
    proc, banner = serve_banner(project, "--base-url", "https://hooks.example.com/wf")
    listening = banner.split()[4]
    try:
        # The real port, not the base URL nor port 0.
        host, _, port = listening.removeprefix("http://").partition(":")
        assert host == "127.0.0.1" and port.isdigit() and int(port) > 0
        with httpx.Client(base_url=listening, timeout=30) as client:
            assert client.get("/api/runs").status_code == 200
    finally:
        _stop(proc)
    assert "webhooks at https://hooks.example.com/wf/webhooks/TOKEN," in banner


def test_serve_on_every_interface_names_that_address_and_a_reachable_base_url(
    project: Project,
) -> None:
    proc, banner = serve_banner(project, "--host", "0.0.0.0")
    _stop(proc)
    port = banner.split()[4].rpartition(":")[2]
    assert banner.startswith(f"wf serve: listening on http://0.0.0.0:{port} ")
    assert f"webhooks at http://127.0.0.1:{port}/webhooks/TOKEN," in banner


@pytest.mark.parametrize(
    "base_url",
    [
        "not a url",
        "localhost:8000",
        "ftp://example.com",
        "https://",
        "http://x:port",
        "http://x/?a=1",
    ],
)
def test_serve_refuses_a_base_url_that_is_not_an_http_url_with_a_host(
    project: Project, base_url: str
) -> None:
    # A process with a timeout: a server that accepted the URL would serve forever.
    proc = wf_process(project, "serve", "--base-url", base_url, "--db", project.db, "--port", "0")
    try:
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2
    assert err == (
        "wf serve: --base-url (or WF_BASE_URL) must be an http:// or https:// URL with a host,"
        f" such as https://wf.example.com, not {base_url!r}\n"
    )
    assert not (project.path / "wf.db").exists()


@pytest.mark.sqlite_only
def test_serve_stops_with_one_line_when_its_database_file_is_removed(project: Project) -> None:
    proc, _url = serve_process(project)
    try:
        (project.path / "wf.db").unlink()
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wf serve: ") and "was removed" in lines[0]
