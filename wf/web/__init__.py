"""The HTTP side of wf: the ASGI app behind ``wf serve`` and ``wf.asgi_app()``.

``_app`` holds the Starlette app (webhooks, the JSON API, the dashboard's routes)
and the uvicorn helpers ``wf serve`` uses; ``_dashboard`` renders the HTML pages.
Starlette and uvicorn are imported only when the app is built.
"""
