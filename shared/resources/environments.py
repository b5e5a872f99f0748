"""A deployment's `environment`, checked against the app's own Python environment.

There is no image build on Azure Functions: a scoring script runs in the function app's
Python, with what requirements.txt installed. So every package the environment names (its
conda file's dependencies and their `pip:` list, or a `pip` list) must be installed here at
a version its specifier allows, or the deployment is refused naming each missing one;
docs/scoring-scripts.md says how to add a package to the app.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from shared.errors import ValidationError

# conda package names whose PyPI distribution is named otherwise
_CONDA_NAMES = {"pytorch": "torch", "py-xgboost": "xgboost", "tensorflow-base": "tensorflow",
                "pytorch-cpu": "torch", "python-dateutil": "python-dateutil"}
# named by conda files for conda itself: nothing to import
_TOOLS = {"pip", "setuptools", "wheel", "conda"}
_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?([A-Za-z0-9][\w.-]*)\s*(.*)$")
_AML_HINT = ("azureml-* and mlflow packages serve Azure ML's own inference server and are not "
             "needed here: remove them from the environment")


def check(environment: Any, field: str = "environment") -> list[str]:
    """Warnings (for what cannot be honoured but changes no result); ValidationError naming
    every package that is missing or at an incompatible version."""
    if environment is None:
        return []
    if isinstance(environment, str):
        raise ValidationError(field, f"'{environment}' names a registered environment; none "
                              "are registered here: give the environment inline (conda_file "
                              "or pip), the CLI reads a conda file's path for you")
    conda = environment.conda_file
    if isinstance(conda, str):
        raise ValidationError(f"{field}.conda_file", "is a path: send the conda file's content "
                              "(the CLI and client read the file for you)")
    requirements: list[tuple[str, str]] = []  # (where, requirement text)
    warnings: list[str] = []
    if conda is not None:
        requirements += _from_conda(conda, f"{field}.conda_file", warnings)
    requirements += [(f"{field}.pip[{i}]", r) for i, r in enumerate(environment.pip or [])]
    problems = [p for where, text in requirements if (p := _problem(where, text))]
    if problems:
        hint = f" ({_AML_HINT})" if any(p.startswith(("azureml", "mlflow")) for p in problems) \
            else ""
        raise ValidationError(field, "needs packages the app does not have: "
                              + "; ".join(problems) + hint + ". Scripts run in the function "
                              "app's own Python environment: add the packages to "
                              "requirements.txt and redeploy (docs/scoring-scripts.md)")
    return warnings


def _from_conda(doc: dict[str, Any], where: str, warnings: list[str]) -> list[tuple[str, str]]:
    deps = doc.get("dependencies") or []
    if not isinstance(deps, list):
        raise ValidationError(f"{where}.dependencies", "must be a list")
    found: list[tuple[str, str]] = []
    for i, dep in enumerate(deps):
        at = f"{where}.dependencies[{i}]"
        if isinstance(dep, dict) and set(dep) == {"pip"} and isinstance(dep["pip"], list):
            found += [(f"{at}.pip[{k}]", str(r)) for k, r in enumerate(dep["pip"])]
            continue
        if not isinstance(dep, str):
            raise ValidationError(at, "must be a package spec or {pip: [...]}")
        m = _CONDA_SPEC.match(dep.strip())
        if m is None:
            raise ValidationError(at, f"'{dep}' is not a conda package spec")
        name, version = m.group(1).lower(), m.group(2).strip()
        if name in _TOOLS:
            continue
        if name == "python":
            if version and not _conda_specifier(version).contains(platform.python_version()):
                warnings.append(f"{at}: scripts run on the app's Python "
                                f"{platform.python_version()}, not python {version}")
            continue
        found.append((at, _CONDA_NAMES.get(name, name) + _pip_specifier(version)))
    return found


def _conda_specifier(version: str) -> SpecifierSet:
    return SpecifierSet(_pip_specifier(version).strip() or "")


def _pip_specifier(version: str) -> str:
    """conda's `=1.26` or `1.26` (1.26.*, a `=build` suffix dropped), `==1.26.4`,
    `>=1.2,<2` as a pip specifier."""
    version = version.replace(" ", "")
    if not version:
        return ""
    if version[0].isdigit() or (version[0] == "=" and version[1:2] != "="):
        number = version.lstrip("=").split("=")[0].removesuffix(".*")
        return f"=={number}.*"
    return version


def _problem(where: str, text: str) -> str:
    """Why the requirement is not met here, or ''."""
    line = text.strip()
    if line.startswith(("-", "git+", "http:", "https:", "file:")) or "://" in line:
        return f"{where} '{line}' is not a package requirement (no installs happen here)"
    try:
        requirement = Requirement(line)
    except (InvalidRequirement, InvalidSpecifier):
        return f"{where} '{line}' is not a valid requirement"
    if requirement.marker is not None and not requirement.marker.evaluate():
        return ""
    try:
        installed = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        return f"{requirement.name} (not installed)"
    if requirement.specifier and not requirement.specifier.contains(installed,
                                                                   prereleases=True):
        return f"{requirement.name}{requirement.specifier} (the app has {installed})"
    return ""
