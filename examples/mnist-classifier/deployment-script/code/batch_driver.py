"""Scores the mnist digits with ONNX Runtime, as Azure ML's mnist batch_driver.py does with
PyTorch: init() loads the model once per process, run() gets a list of image paths and
returns one row per image."""

import glob
import logging
import os

import numpy as np
import onnxruntime as ort
import pandas as pd
from PIL import Image

logger = logging.getLogger(__name__)


def init():
    global session, input_name
    # AZUREML_MODEL_DIR is the registered model's folder
    model_path = glob.glob(os.path.join(os.environ["AZUREML_MODEL_DIR"], "*.onnx"))[0]
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    logger.info("loaded %s", os.path.basename(model_path))


def run(mini_batch):
    logger.info("scoring %d images", len(mini_batch))
    # 8x8 grayscale, 0..255 scaled to the 0..16 the model was trained on
    images = np.stack([
        np.asarray(Image.open(path).convert("L").resize((8, 8)), dtype=np.float32).reshape(64)
        * 0.0625 for path in mini_batch])
    labels, probabilities = session.run(None, {input_name: images})
    return pd.DataFrame({
        "file": [os.path.basename(path) for path in mini_batch],
        "class": labels.tolist(),
        "probability": [round(float(p[int(k)]), 6)
                        for k, p in zip(labels, probabilities, strict=True)],
    })
