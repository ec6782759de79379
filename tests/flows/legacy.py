"""A workflow that touches every name wf persists for itself: built-in steps, wf's
error types (raised by built-in steps, by a step, by a child id conflict) and the
``wf.Request`` tag. Its logs, recorded by wf before those names were stable, are
committed under tests/runtime/replay_fixtures/legacy_*.json."""

from __future__ import annotations

from typing import Any

import wf

NOBODY = "legacy-nobody"  # a run id no run ever has


@wf.options(max_attempts=1)
async def flaky() -> None:
    "use step"
    raise wf.RetryableError("try later", retry_after=5)


async def make_request() -> wf.Request:
    "use step"
    return wf.Request(
        id="req-1",
        token="legacy-hook",
        method="POST",
        path="/webhooks/legacy-hook",
        query="",
        headers={"authorization": "Bearer s3cret", "content-type": "text/plain"},
        body=b"hello",
    )


async def other(x: int) -> int:
    "use workflow"
    return x


async def unrelated(x: int) -> int:
    "use workflow"
    return x


async def legacy_names(other_id: str, fail: bool) -> dict[str, Any]:
    "use workflow"
    seen: dict[str, Any] = {"status": await wf.get_run(other_id).status()}
    try:
        await wf.send(NOBODY, "ping", 1)
    except wf.RunNotFoundError as exc:
        seen["send"] = type(exc).__name__
    try:
        await wf.resume_hook("legacy-no-token", 1)
    except wf.HookNotFoundError as exc:
        seen["resume_hook"] = type(exc).__name__
    try:
        await flaky()
    except wf.RetryableError as exc:
        seen["flaky"] = [type(exc).__name__, str(exc), exc.retry_after]
    request = await make_request()
    seen["request"] = [type(request).__name__, request.method, request.text()]
    child = await wf.start(unrelated, 1, run_id=other_id)  # the id of a run of `other`
    try:
        await child.result()
    except wf.RunFailedError as exc:
        if fail:
            raise
        seen["child"] = exc.error_type
    await wf.get_run(other_id).cancel()  # ended already: not an error
    try:
        await wf.get_run(NOBODY).status()
    except wf.RunNotFoundError as exc:
        seen["nobody"] = type(exc).__name__
    return seen
