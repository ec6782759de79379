"""A versioned workflow: code branches on the version its run started with."""

from __future__ import annotations

import wf


async def stamp(label: str) -> str:
    "use step"
    return label


@wf.options(version="v2")
async def checkout() -> dict[str, object]:
    "use workflow"
    version = wf.get_workflow_metadata().version
    label = await stamp("new flow" if version == "v2" else "old flow")
    return {"version": version, "label": label}
