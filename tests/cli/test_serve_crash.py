"""A ``wf serve`` process killed with SIGKILL loses no webhook request it answered 202 to."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
from wfcli_support import Project, serve_process, wait_until

FLOWS = """\
import wf

async def tell(path: str, url: str) -> None:
    "use step"
    with open(path, "w") as f:
        f.write(url)

async def record(path: str, line: str) -> None:
    "use step"
    with open(path, "a") as f:
        f.write(line + "\\n")

async def intake(count: int) -> list:
    "use workflow"
    hook = wf.create_webhook()
    await tell({url_file!r}, hook.url)
    seen = []
    async for request in hook:
        await record({log!r}, request.text())
        seen.append(request.text())
        if len(seen) == count:
            return seen
"""


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def test_requests_answered_202_survive_a_sigkill_of_the_server(
    project: Project, tmp_path: Path
) -> None:
    url_file, log = tmp_path / "url.txt", tmp_path / "seen.log"
    module = project.write_module(
        "wfcli_intake", FLOWS.format(url_file=str(url_file), log=str(log))
    )
    first, base = serve_process(project, module)
    port = int(base.rsplit(":", 1)[1])
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            started = client.post(
                "/api/runs", json={"workflow": f"{module}:intake", "args": [6], "run_id": "in-1"}
            )
            assert started.status_code == 201, started.text
            wait_until(lambda: url_file.exists() and url_file.read_text() != "", what="the URL")
            url = url_file.read_text()
            # Three requests, each acknowledged; the server dies right after the last 202,
            # before the workflow can have recorded it.
            for n in range(3):
                assert client.post(url, content=f"r{n}".encode()).status_code == 202
    finally:
        _kill(first)

    second, base = serve_process(project, module, port=port)  # same URL: the webhook's token stays
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for n in range(3, 6):
                reply = client.post(url, content=f"r{n}".encode())
                assert reply.status_code == 202, reply.text
            wait_until(
                lambda: client.get("/api/runs/in-1").json()["run"]["status"] == "completed",
                what="the run to complete",
            )
            result = client.get("/api/runs/in-1").json()["run"]["result"]
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
    assert result == [f"r{n}" for n in range(6)]  # none lost, in arrival order
    lines = log.read_text().splitlines()
    # Each request recorded once; one interrupted mid-flight by the kill may run again.
    assert sorted(set(lines)) == [f"r{n}" for n in range(6)]
    assert len(lines) - len(set(lines)) <= 1
