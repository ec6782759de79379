"""A workflow with a pydantic model as its schema (imported only where pydantic is installed)."""

from __future__ import annotations

import pydantic

import wf


class Shipment(pydantic.BaseModel):
    city: str
    weight: float


@wf.options(schema=Shipment)
async def ship(shipment: Shipment) -> str:
    "use workflow"
    return f"{type(shipment).__name__} {shipment.city} {shipment.weight}"
