"""Sample inputs: digits as PNG files, the diabetes table as CSV, photos for the CNN."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def digit_pngs(count: int, start: int = 0) -> list[tuple[str, bytes, np.ndarray]]:
    """(file name, PNG bytes, the 64 features the model sees) for digits start..start+count."""
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


def diabetes_csv(rows: int | None = None) -> bytes:
    """The diabetes table (10 features + target) as CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    x, y = bunch.data[:rows], bunch.target[:rows]
    columns = {name: x[:, i] for i, name in enumerate(bunch.feature_names)}
    buf = io.BytesIO()
    pacsv.write_csv(pa.table({**columns, "target": y}), buf)
    return buf.getvalue()


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
