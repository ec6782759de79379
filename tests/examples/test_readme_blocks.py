"""The README's shell blocks, run as a reader pastes them (in a scratch directory)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def readme_block(containing: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S) if containing in b]
    assert len(blocks) == 1, f"one bash block of the README should mention {containing!r}"
    return blocks[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_webhook_block_works_pasted_in_order(tmp_path: Path) -> None:
    """The server is waited for, and the URL is the new run's, not a stale line of the log."""
    port = free_port()
    block = readme_block("examples.webhook_reply")
    # The same commands, on a free port and with this interpreter's scripts.
    block = block.replace(
        "serve examples.webhook_reply", f"serve examples.webhook_reply --port {port}"
    )
    block = block.replace("localhost:8000", f"localhost:{port}")
    block = block.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    stale = tmp_path / ".wf" / "webhook_reply.log"
    stale.parent.mkdir()
    stale.write_text("an-old-run waits for a quote request at http://127.0.0.1:9/webhooks/gone\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
    env["PYTHONPATH"] = str(REPO)  # the examples of this checkout, as from a clone's root
    shell = subprocess.Popen(
        ["bash", "-c", block],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=60)
    finally:
        # The block stops its server itself; a block that hangs leaves it to us.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
        shell.wait()
    assert shell.returncode == 0, out + err
    assert out.strip() == '{"price_eur": 15.0, "country": "FR"}', out + err
    _stale_line, new_line = stale.read_text().splitlines()
    assert new_line.split()[-1].startswith(f"http://127.0.0.1:{port}/webhooks/")
