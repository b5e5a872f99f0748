"""A readable HTML page of the OpenAPI document (GET /api/docs): plain HTML made on the
server from the same document, so it needs no script or asset from a CDN."""

from __future__ import annotations

import html
import json
from typing import Any

_STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}
h2{margin-top:2em}.op{border:1px solid #ccd;border-radius:6px;margin:.8em 0;padding:.5em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:700;text-transform:uppercase}
.get{color:#0a6}.put{color:#a60}.post{color:#06a}.delete{color:#a00}
code,pre{font:13px ui-monospace,monospace}pre{background:#f6f6f8;padding:.6em;overflow:auto}
td{padding:.1em .8em .1em 0;vertical-align:top}"""


def render(document: dict[str, Any]) -> str:
    info = document["info"]
    parts = [f"<!doctype html><meta charset=utf-8><title>{_e(info['title'])}</title>",
             f"<style>{_STYLE}</style><h1>{_e(info['title'])}</h1><p>{_e(info['description'])}",
             "<p>Machine-readable: <a href=openapi.json>openapi.json</a> (OpenAPI "
             f"{_e(document['openapi'])}). Every route is under <code>/api</code>.</p>"
             "<h2>Operations</h2>"]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            parts.append(_operation(path, method, op))
    parts.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        summary = (schema.get("description") or "").split("\n")[0]
        parts.append(f"<details id=schema-{_e(name)}><summary><b>{_e(name)}</b> {_e(summary)}"
                     f"</summary><pre>{_e(json.dumps(schema, indent=1))}</pre></details>")
    return "\n".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td>"
        f"<td>{_e(p.get('description', ''))}</td></tr>" for p in op.get("parameters", []))
    body = ""
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        body += f"<div>body ({_e(media)}): {_link(content['schema'])}</div>"
    answers = ", ".join(
        f"{status} {_link(r['content'][next(iter(r['content']))]['schema'])}" if r.get("content")
        else f"{status}" for status, r in op["responses"].items())
    return (f"<div class=op><span class='m {method}'>{method}</span> <code>{_e(path)}</code> — "
            f"{_e(op['summary'])}<table>{rows}</table>{body}<div>answers: {answers}</div></div>")


def _link(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if not ref:
        return f"<code>{_e(schema.get('type', 'any'))}</code>"
    name = ref.rsplit("/", 1)[-1]
    return f"<a href='#schema-{_e(name)}'>{_e(name)}</a>"


def _e(text: Any) -> str:
    return html.escape(str(text))
