"""One mini-batch through a scoring script, as Azure ML runs it: the files are written to a
temporary folder, `run()` gets their local paths (in input order), and each element it
returns counts as one successful item; the folder is removed afterwards.

Rows name their file when that can be known: when run() returns one element per file, the
i-th element is the i-th file's; otherwise an element is a file's when its text names that
file (and no other). Files with no element fail ("run() returned no result for this file");
when the elements cannot be told apart by file, the mini-batch's missing count fails as
items that name the mini-batch instead. With `summary_only` the script writes its own files
into `AZUREML_BI_OUTPUT_PATH`, which `publish` receives before the folder is removed.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scoring.engine import FailedItem, InputFile
from scoring.errors import ScriptError
from scoring.scripts.processes import POOL, Answer, ScriptProcess, ScriptSpec
from scoring.writers import csv_header

COLUMNS = ("file_name", "prediction")
NO_RESULT = "run() returned no result for this file"


@dataclass(frozen=True)
class ScriptRow:
    file_name: str
    text: str


@dataclass(frozen=True)
class ScriptResult:
    rows: tuple[ScriptRow, ...]
    errors: tuple[FailedItem, ...]
    logs: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class ScriptScorer:
    """A deployment's scoring script: `folders()` gives (code folder, model folder), made
    once per process; `env` is the deployment's environment variables."""

    key: str
    script: str
    folders: Callable[[], tuple[Path, Path]]
    env: dict[str, str]
    concurrency: int = 1

    def header(self) -> bytes:
        return csv_header(COLUMNS)

    @staticmethod
    def rows_csv(rows: Sequence[ScriptRow]) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for row in rows:
            writer.writerow((row.file_name, row.text))
        return buf.getvalue().encode()

    def check_init(self, deadline: float | None) -> None:
        """Start a process of the script and stop it again: ScriptError if it cannot be
        imported or its init() raises, MiniBatchTimeoutError if init() is too slow."""
        ScriptProcess(self._spec(), deadline).kill()

    def _spec(self) -> ScriptSpec:
        code_dir, model_dir = self.folders()
        return ScriptSpec(self.key, code_dir, self.script,
                          {**self.env, "AZUREML_MODEL_DIR": str(model_dir)})

    def score(self, files: Sequence[InputFile], deadline: float | None = None,
              publish: Callable[[Path], None] | None = None, label: str = ""
              ) -> ScriptResult:
        if not files:  # every file of the mini-batch failed before the script
            return ScriptResult((), ())
        spec = self._spec()
        work = Path(tempfile.mkdtemp(prefix="minibatch-"))
        try:
            paths = _write_inputs(work / "inputs", files)
            outputs = work / "outputs"
            outputs.mkdir()
            answer, init_logs = POOL.run(spec, self.concurrency, deadline,
                                         lambda child: child.run([str(p) for p in paths],
                                                                 outputs, deadline))
            logs = (*init_logs, *answer.logs)
            if answer.results is None:
                raise ScriptError(f"run() raised {answer.error}", answer.traceback,
                                  list(logs))
            rows, errors = attribute(files, answer, label)
            if publish is not None and any(outputs.iterdir()):
                publish(outputs)
            return ScriptResult(tuple(rows), tuple(errors), logs)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _write_inputs(folder: Path, files: Sequence[InputFile]) -> list[Path]:
    paths = []
    for f in files:
        parts = [p if p not in ("..", ".", "") else "_" for p in PurePosixPath(f.name).parts
                 if p != "/"]
        path = folder.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        paths.append(path)
    return paths


def attribute(files: Sequence[InputFile], answer: Answer, label: str
              ) -> tuple[list[ScriptRow], list[FailedItem]]:
    """run()'s elements as rows (with their file where it can be known) and the failures."""
    results = answer.results or []
    names = [f.name for f in files]
    if len(results) == len(names):
        return [ScriptRow(n, t) for n, t in zip(names, results, strict=True)], []
    owners = [_owner(text, names) for text in results]
    if all(owners) and len(set(owners)) == len(owners):
        got = dict(zip(owners, results, strict=True))
        return ([ScriptRow(n, got[n]) for n in names if n in got],  # in input order
                [FailedItem(n, None, NO_RESULT) for n in names if n not in got])
    rows = [ScriptRow("", t) for t in results]
    missing = max(0, len(names) - len(results))
    reason = (f"run() returned {len(results)} results for the {len(names)} files of "
              f"{label or 'its mini-batch'} ({names[0]} … {names[-1]}); which files failed "
              "cannot be told")
    return rows, [FailedItem("", None, reason) for _ in range(missing)]


def _owner(text: str, names: list[str]) -> str:
    """The one file whose name (or base name) the text mentions, else ''."""
    hits = {n for n in names if n in text or PurePosixPath(n).name in text}
    return hits.pop() if len(hits) == 1 else ""
