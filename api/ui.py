"""``RunViewer``: the run viewer's page and its two assets, served by the app itself.

``GET /api/ui`` is one static HTML page; ``/api/ui/app.js`` and ``/api/ui/app.css`` are
its script and styles (all in ``web/``, no build step, no CDN). The page holds no data of
its own: it calls this API with the function key the person enters, so owner scoping
stays on the server. A strict Content-Security-Policy allows scripts, styles and
requests from this origin only (no inline code, no frames, no form posts elsewhere).
"""

from __future__ import annotations

import functools
from pathlib import Path

import azure.functions as func

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
#: The route prefix the page's URLs are built with (host.json keeps the default ``api``).
API_PREFIX = "/api"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@functools.lru_cache(maxsize=8)
def _read(name: str) -> bytes:
    return (WEB_DIR / name).read_bytes()


def page() -> bytes:
    """index.html with its base paths filled in."""
    text = _read("index.html").decode("utf-8")
    text = text.replace("{{BASE}}", f"{API_PREFIX}/ui").replace("{{API}}", API_PREFIX)
    return text.encode("utf-8")


async def run_viewer(req: func.HttpRequest) -> func.HttpResponse:
    """Handle ``GET /api/ui`` and ``GET /api/ui/{asset}``."""
    asset = req.route_params.get("asset") or ""
    if not asset:
        body, mimetype = page(), "text/html"
        content_type = "text/html; charset=utf-8"
    elif asset in ASSETS:
        body, content_type = _read(asset), ASSETS[asset]
        mimetype = content_type.split(";")[0]
    else:
        return func.HttpResponse(
            "Not found", status_code=404, headers=SECURITY_HEADERS, mimetype="text/plain"
        )
    return func.HttpResponse(
        body,
        status_code=200,
        headers={**SECURITY_HEADERS, "Content-Type": content_type},
        mimetype=mimetype,
    )
