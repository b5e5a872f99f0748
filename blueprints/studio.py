"""Studio, the web page: its static assets (anonymous: they hold no data and no key; every
call the page makes goes to the key-protected API, its datastore browser included:
blueprints/resources_api.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import azure.functions as func

bp = func.Blueprint()
ROOT = Path(__file__).resolve().parent.parent / "studio"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# The page loads nothing from elsewhere and runs no inline script; downloads are blob: URLs.
HEADERS = {
    "Cache-Control": "no-cache",  # revalidate every time (cheap: ETag → 304)
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


@bp.route(route="studio/{*path}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def studio_page(req: func.HttpRequest) -> func.HttpResponse:
    path = req.route_params.get("path") or ""
    if not path and not req.url.split("?", 1)[0].endswith("/"):
        # relative asset URLs need the trailing slash; keeps working under any routePrefix
        return func.HttpResponse(status_code=301, headers={"Location": "studio/"})
    file = asset(path or "index.html")
    if file is None:
        return func.HttpResponse("not found", status_code=404, mimetype="text/plain")
    body = file.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**HEADERS, "ETag": etag, "Content-Type": CONTENT_TYPES[file.suffix]}
    if etag in (req.headers.get("if-none-match") or ""):
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(body, headers=headers)


def asset(path: str) -> Path | None:
    """The shipped file `path` names, or None: unknown files, folders, hidden names, other
    types and anything resolving outside studio/ (traversal) are not served."""
    parts = path.replace("\\", "/").split("/")
    if any(not p or p.startswith(".") or "\0" in p for p in parts):
        return None
    file = (ROOT / path).resolve()
    if not file.is_relative_to(ROOT) or not file.is_file() or file.suffix not in CONTENT_TYPES:
        return None
    return file
