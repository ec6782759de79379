"""Start (or rejoin) one run of a ``flows.crashy`` workflow and print its result as JSON.

Run as ``python -m flows.crash_runner DB_URL RUN_ID WORKFLOW N LOG_PATH [KWARGS_JSON]``
with the repository root and ``tests/`` on ``PYTHONPATH``. The fixed run id makes the
start idempotent: a second process started after a crash rejoins the same run, and its
in-process worker takes over the dead process's lease and replays the log.
"""

from __future__ import annotations

import asyncio
import json
import sys

import wf

wf.install_import_hook()

from flows import crashy  # noqa: E402  (compiled by the hook installed just above)


async def main(argv: list[str]) -> None:
    url, run_id, workflow, n, log_path = argv[:5]
    kwargs = json.loads(argv[5]) if len(argv) > 5 else {}
    fn = getattr(crashy, workflow)
    async with wf.Engine(url, poll_interval=0.05) as engine:
        run = await engine.start(fn, int(n), log_path, run_id=run_id, **kwargs)
        print("started", flush=True, file=sys.stderr)
        result = await run.result(timeout=120)
    print(json.dumps({"run_id": run_id, "result": result}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
