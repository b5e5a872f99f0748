"""Sample inputs: digits as PNG files, tables as CSV/Parquet/JSON Lines, `.npy` tensors,
photos for the CNN, and a corrupt file. `write_samples(folder)` puts a set on disk:

    .venv/bin/python -m samples.data OUT_DIR
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

CORRUPT_PNG = b"\x89PNG\r\n\x1a\n but the rest is not an image"


def digit_pngs(count: int, start: int = 0) -> list[tuple[str, bytes, np.ndarray]]:
    """(file name, PNG bytes, the 64 features the model sees) for digits start..start+count.

    The 8x8 pixels (0..16) are stored as 8-bit grayscale scaled by 16 (0..255, clipped); the
    features are the stored pixels times 0.0625, which is what DIGITS_SCORING computes."""
    from sklearn.datasets import load_digits

    images = load_digits().images
    out = []
    for i in range(start, start + count):
        k = i % len(images)
        pixels = np.clip(images[k] * 16, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, mode="L").save(buf, format="PNG")
        out.append((f"digit-{i:05d}.png", buf.getvalue(),
                    (pixels.astype(np.float32) * 0.0625).reshape(64)))
    return out


def digits_npy(count: int) -> tuple[bytes, np.ndarray]:
    """The first `count` digits as one float32 [count, 64] `.npy` file, and the array."""
    from sklearn.datasets import load_digits

    array = load_digits().data[:count].astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue(), array


def diabetes_table(rows: int | None = None):
    """The diabetes table (10 named float features + target) as a pyarrow Table."""
    import pyarrow as pa
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    x, y = bunch.data[:rows], bunch.target[:rows]
    return pa.table({**{name: x[:, i] for i, name in enumerate(bunch.feature_names)},
                     "target": y})


def breast_cancer_table(rows: int | None = None):
    """30 named features ("mean radius", ...) + a `diagnosis` column."""
    import pyarrow as pa
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    x = bunch.data[:rows]
    return pa.table({**{str(name): x[:, i] for i, name in enumerate(bunch.feature_names)},
                     "diagnosis": bunch.target_names[bunch.target[:rows]].tolist()})


def iris_table(rows: int | None = None):
    """Iris with one column per model input of `iris_multi_input` (+ `species`), shuffled
    so the first rows hold every species."""
    import pyarrow as pa
    from sklearn.datasets import load_iris

    from samples.models import IRIS_COLUMNS

    bunch = load_iris()
    order = np.random.default_rng(0).permutation(len(bunch.data))[:rows]
    return pa.table({**{c: bunch.data[order, i] for i, c in enumerate(IRIS_COLUMNS)},
                     "species": bunch.target_names[bunch.target[order]].tolist()})


def table_bytes(table, fmt: str) -> bytes:
    """A pyarrow Table as `csv`, `parquet` or `jsonl` bytes."""
    buf = io.BytesIO()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, buf)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, buf)
    elif fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in table.to_pylist()).encode()
    else:
        raise ValueError(f"unknown table format {fmt!r}")
    return buf.getvalue()


def diabetes_csv(rows: int | None = None) -> bytes:
    """The diabetes table (10 features + target) as CSV."""
    return table_bytes(diabetes_table(rows), "csv")


def photos(count: int, size: int = 320, seed: int = 0) -> list[tuple[str, bytes]]:
    """Smooth random RGB JPEGs (gradients + noise) for the CNN benchmark."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        base = np.stack([np.sin(xx * rng.uniform(1, 9) + rng.uniform(0, 6)),
                         np.cos(yy * rng.uniform(1, 9)), xx * yy], axis=-1)
        pixels = np.clip((base * 0.5 + 0.5) * 255 + rng.normal(0, 8, base.shape), 0, 255)
        buf = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8), mode="RGB").save(buf, format="JPEG",
                                                                 quality=90)
        out.append((f"photo-{i:05d}.jpg", buf.getvalue()))
    return out


def write_samples(folder: str | Path, digits: int = 20) -> list[Path]:
    """Write a sample input set under `folder`; returns the files written.

    digits/      PNG digits + one corrupt PNG          (digits_classifier, DIGITS_SCORING)
    diabetes/    the same rows as CSV, Parquet, JSONL  (diabetes_regressor, DIABETES_SCORING)
    breast-cancer/ CSV with named columns              (breast_cancer_classifier)
    iris/        CSV, one column per model input       (iris_multi_input, IRIS_SCORING)
    tensors/     digits.npy, items along axis 0        (digits_classifier, input type tensor)
    """
    root = Path(folder)
    files: dict[str, bytes] = {f"digits/{n}": b for n, b, _ in digit_pngs(digits)}
    files["digits/zz-corrupt.png"] = CORRUPT_PNG
    diabetes = diabetes_table(50)
    for fmt in ("csv", "parquet", "jsonl"):
        files[f"diabetes/diabetes.{fmt}"] = table_bytes(diabetes, fmt)
    files["breast-cancer/breast-cancer.csv"] = table_bytes(breast_cancer_table(40), "csv")
    files["iris/iris.csv"] = table_bytes(iris_table(30), "csv")
    files["tensors/digits.npy"] = digits_npy(digits)[0]
    written = []
    for name, blob in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
        written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write sample scoring inputs to a folder.")
    parser.add_argument("folder")
    parser.add_argument("--digits", type=int, default=20)
    args = parser.parse_args()
    for path in write_samples(args.folder, args.digits):
        print(path)
