"""What tests/infra reads: the Bicep text, the app's bindings, and the modules it ships.

No Bicep CLI runs here, so the Bicep is read as text: object keys inside `var appSettings`.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SETTING_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:", re.MULTILINE)


def bicep(relative: str) -> str:
    return (INFRA / relative).read_text()


def bicep_app_settings() -> set[str]:
    """The keys of `var appSettings = ...` in infra/app/api.bicep (up to the blank line)."""
    text = bicep("app/api.bicep")
    start = text.index("var appSettings =")
    block = text[start:text.index("\n\n", start)]
    return set(SETTING_KEY.findall(block.split("=", 1)[1]))


@functools.cache
def app_functions() -> dict[str, list[dict]]:
    """Each function of function_app.py with its bindings' dict form (as the worker indexes),
    read in a fresh process: get_functions() may run only once per app, and another test of
    the session may have run it already."""
    script = ("import json, function_app; print(json.dumps({fn.get_function_name(): "
              "[b.get_dict_repr() for b in fn.get_bindings()] "
              "for fn in function_app.app.get_functions()}, default=str))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def shipped_modules() -> set[Path]:
    """Project files function_app.py imports, at import time or inside functions."""
    seen: set[Path] = set()
    todo = [ROOT / "function_app.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            todo.extend(p for name in names if (p := _project_file(name)) and p not in seen)
    return seen


def _project_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None
