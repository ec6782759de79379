"""The HTTP side of wf: the ASGI app behind ``wf serve`` and ``wf.asgi_app()``.

``_app`` builds the Starlette app (routes, errors as JSON, lifespan) on the state
of ``_http``; ``_webhooks`` serves ``/webhooks``, ``_api`` the JSON API and
``_dashboard`` the HTML pages, each handler through the public engine API;
``_serve`` runs an app with uvicorn. wf imports this package only when an app is
built or served, so Starlette and uvicorn stay out of ``import wf``.
"""

from __future__ import annotations

from wf.web._app import DEFAULT_MAX_BODY, DEFAULT_RESPONSE_TIMEOUT, asgi_app
from wf.web._serve import listen, serving

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_RESPONSE_TIMEOUT", "asgi_app", "listen", "serving"]
