"""A workflow that tries to send what cannot be stored."""

from __future__ import annotations

import wf


async def send_unserializable() -> str:
    "use workflow"
    try:
        await wf.send("anyone", "note", object())
    except wf.SerializationError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "sent"
