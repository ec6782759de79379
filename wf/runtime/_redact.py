"""Which request headers carry credentials, and how every view shows them: redacted.

A webhook's requests are stored as they arrived, so the workflow receives the
real headers in ``wf.Request`` (a step may need them to verify a signature).
What is shown of them (the JSON API's answers, the dashboard, ``wf runs show``
in text and ``--json``, a result printed by the CLI) goes through this module:
``Authorization``, ``Cookie``, ``Proxy-Authorization`` and any header whose name
contains ``token``, ``secret`` or ``key`` (in any case) has its value replaced
by :data:`REDACTED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wf._names import canonical

__all__ = [
    "REDACTED",
    "REQUEST_TYPE",
    "is_request_type",
    "is_secret_header",
    "redact_headers",
    "redact_request",
]

REDACTED = "[redacted]"
#: How the event log tags a stored ``wf.Request`` (a dataclass): its stable name.
REQUEST_TYPE = "wf:Request"

_NAMES = frozenset({"authorization", "cookie", "proxy-authorization"})
_PARTS = ("token", "secret", "key")


def is_request_type(tag: Any) -> bool:
    """Whether a serde tag's type (``"t"``) is ``wf.Request``: its stable name, or the
    private path logs written before it hold (see ``wf._names``)."""
    return isinstance(tag, str) and canonical(tag) == REQUEST_TYPE


def is_secret_header(name: str) -> bool:
    """Whether the header ``name`` carries a credential (compared case-insensitively)."""
    lowered = name.lower()
    return lowered in _NAMES or any(part in lowered for part in _PARTS)


def redact_headers(headers: Mapping[Any, Any]) -> dict[Any, Any]:
    """A copy of ``headers`` with the value of each credential header redacted."""
    return {
        name: REDACTED if isinstance(name, str) and is_secret_header(name) else value
        for name, value in headers.items()
    }


def redact_request(fields: Any) -> Any:
    """A request's fields as shown (a dict with ``headers``): credentials redacted."""
    if isinstance(fields, dict) and isinstance(fields.get("headers"), dict):
        return {**fields, "headers": redact_headers(fields["headers"])}
    return fields
