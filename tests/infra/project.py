"""What tests/infra reads: the Bicep text, the app's bindings, and the modules it ships.

No Bicep CLI runs here, so the Bicep is read as text (object keys inside `var appSettings`),
parsed by pycep (checkov's Bicep parser, in checkov's own environment), and specialized for
one value of the `privateNetworking` option by `infra_variant`.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TOOLS_PYTHON = ROOT / ".tools" / "checkov" / "bin" / "python"  # has pycep-parser (checkov's)
SETTING_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:", re.MULTILINE)
PRIVATE_CHOICE = re.compile(r"privateNetworking \? ('[^']*') : ('[^']*')")
# checkov skips that hold only while private networking is off (their reasons say so).
PUBLIC_ONLY_SKIPS = ("CKV_AZURE_35", "CKV_AZURE_59", "CKV_AZURE_109", "CKV_AZURE_189")


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


def infra_variant(target: Path, private: bool) -> Path:
    """A copy of infra/ with every `privateNetworking ? 'on' : 'off'` choice made (checkov does
    not evaluate conditionals) and, for `private`, without the skips that only the public
    default justifies, so their checks must pass."""
    shutil.copytree(INFRA, target)
    skips = re.compile(r".*checkov:skip=(" + "|".join(PUBLIC_ONLY_SKIPS) + r"):.*\n")
    for path in target.rglob("*.bicep"):
        text = PRIVATE_CHOICE.sub(lambda m: m.group(1 if private else 2), path.read_text())
        path.write_text(skips.sub("", text) if private else text)
    return target


PARSE_SCRIPT = """
import json, sys
from pathlib import Path
from pycep import BicepParser
parser, out = BicepParser(), {}
for name in sys.argv[1:]:
    try:
        out[name] = {"ok": parser.parse(file_path=Path(name))}
    except Exception as e:
        out[name] = {"error": f"{type(e).__name__}: {e}"[:500]}
print(json.dumps(out, default=str))
"""


def pycep_parse(paths: list[Path]) -> dict[str, dict]:
    """Each file's pycep result: {"ok": <its JSON tree>} or {"error": message}."""
    assert TOOLS_PYTHON.exists(), "checkov's environment is missing: run scripts/bootstrap --test"
    run = subprocess.run([str(TOOLS_PYTHON), "-c", PARSE_SCRIPT, *map(str, paths)],
                         capture_output=True, text=True, timeout=240, check=True)
    return json.loads(run.stdout)
