"""Builds what the examples use, with the project's own sample builders (nothing is
downloaded): the ONNX models the deployments' `model.path` point at, and sample inputs.

    .venv/bin/python -m examples.make_models [FOLDER]    # default: this examples folder

mnist-classifier/deployment-onnx/model/digits.onnx   samples.models.digits_classifier
mnist-classifier/sample/                             PNG digits (samples.data.digit_pngs)
breast-cancer/model/breast-cancer.onnx               samples.models.breast_cancer_classifier
breast-cancer/data/                                  CSV files with named columns
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samples import data, models

HERE = Path(__file__).resolve().parent


def make(root: Path, digits: int = 20) -> list[Path]:
    files = {
        "mnist-classifier/deployment-onnx/model/digits.onnx": models.digits_classifier(),
        "breast-cancer/model/breast-cancer.onnx": models.breast_cancer_classifier(),
        **{f"mnist-classifier/sample/{name}": png for name, png, _ in data.digit_pngs(digits)},
    }
    table = data.breast_cancer_table(30)
    for i in range(3):
        files[f"breast-cancer/data/part-{i}.csv"] = data.table_bytes(
            table.slice(i * 10, 10), "csv")
    written = []
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(HERE), help="where the examples are")
    parser.add_argument("--digits", type=int, default=20, help="PNG digits to write")
    args = parser.parse_args(argv)
    written = make(Path(args.folder), args.digits)
    print(f"wrote {len(written)} files under {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
