"""The hand-written baseline: one process reads image files from local disk, preprocesses
them with Pillow and numpy, runs ONNX Runtime in batches and writes a CSV. No storage, no
queues — what a careful engineer would write for one machine."""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image


def preprocess(path: Path, cfg: dict) -> np.ndarray:
    with Image.open(path) as img:
        img = img.convert(cfg["mode"])
        if cfg.get("size"):
            img = img.resize(tuple(cfg["size"]), Image.Resampling.BILINEAR)
        x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    x = x * np.float32(cfg.get("scale", 1.0))
    if cfg.get("mean"):
        x = (x - np.asarray(cfg["mean"], np.float32)) / np.asarray(cfg["std"], np.float32)
    if cfg.get("layout", "NCHW") == "NCHW":
        return x.transpose(2, 0, 1)
    return x.reshape(-1) if cfg["layout"] == "flat" else x


def run(model: Path, folder: Path, out: Path, cfg: dict, batch: int) -> tuple[float, float]:
    """Score the folder; the wall and CPU seconds spent after the session loaded (what a warm
    service is compared with)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    started, cpu = time.perf_counter(), time.process_time()
    files = sorted(folder.iterdir())
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file_name", "prediction"])
        for i in range(0, len(files), batch):
            chunk = files[i:i + batch]
            x = np.stack([preprocess(p, cfg) for p in chunk])
            first = session.run(None, {name: x})[0]
            labels = first if first.ndim == 1 else first.argmax(axis=1)
            writer.writerows((p.name, int(v)) for p, v in zip(chunk, labels, strict=True))
    return time.perf_counter() - started, time.process_time() - cpu


if __name__ == "__main__":
    import json

    model, folder, out, cfg, batch = sys.argv[1:6]
    print(*run(Path(model), Path(folder), Path(out), json.loads(cfg), int(batch)))
