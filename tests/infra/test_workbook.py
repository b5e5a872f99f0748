"""The KQL in the workbook (infra/core/workbook.bicep) and in docs/operations.md asks only for
span names and `batch.*` attributes the code sends (shared/telemetry.py and its callers), so
a renamed attribute cannot leave the queries silently empty."""

from __future__ import annotations

import re

from tests.infra.project import INFRA, ROOT, pycep_parse

ATTRIBUTE = re.compile(r'customDimensions\["(batch\.[a-z_.]+)"\]')
SPAN_NAME = re.compile(r'\bname == "([^"]+)"')


def emitted() -> tuple[set[str], set[str]]:
    """(attributes, span names) the code sends."""
    code = {p: p.read_text() for p in [*ROOT.glob("shared/**/*.py"), ROOT / "function_app.py"]}
    telemetry = (ROOT / "shared" / "telemetry.py").read_text()
    attributes = set(re.findall(r'"(batch\.[a-z_]+)"', telemetry))
    for text in code.values():
        for call in re.findall(r"telemetry\.annotate\(([^)]*)\)", text):
            attributes |= {f"batch.{k}" for k in re.findall(r"(\w+)=", call)}
    attributes |= {"batch.items", "batch.items_failed"}  # mini_batch_scored's annotate
    steps = (ROOT / "shared" / "jobs" / "steps.py").read_text()
    spans = set(re.findall(r'"([a-z -]+)"\),?\n', steps)) | set(re.findall(r'span="([^"]+)"',
                                                                       steps))
    spans |= set(re.findall(r'telemetry\.traced\("([^"]+)"', "".join(code.values())))
    return attributes, spans


def queries() -> list[str]:
    tree = pycep_parse([INFRA / "core" / "workbook.bicep"])[str(INFRA / "core" / "workbook.bicep")]
    found = [v["value"] for v in tree["ok"]["variables"].values() if isinstance(v["value"], str)]
    docs = (ROOT / "docs" / "operations.md").read_text()
    return found + re.findall(r"```kusto\n(.*?)```", docs, re.S)


def test_the_queries_ask_for_what_the_code_sends():
    attributes, spans = emitted()
    assert {"invoke", "plan page", "score mini-batch", "aggregate", "notify"} <= spans
    assert {"batch.job", "batch.endpoint", "batch.deployment", "batch.mini_batch",
            "batch.items", "batch.items_failed"} <= attributes
    texts = queries()
    assert len(texts) >= 8
    asked = {a for t in texts for a in ATTRIBUTE.findall(t)}
    named = {n for t in texts for n in SPAN_NAME.findall(t)}
    assert asked and asked <= attributes, asked - attributes
    metric_names = {"batch.items"}  # customMetrics' name == "batch.items"
    assert named - metric_names <= spans, named - spans
