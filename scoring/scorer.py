"""The one door into scoring for the rest of the service: a `Scorer` built from a
deployment snapshot (its scoring configuration and the model's sha256 and signature) and a
way to load the model's bytes. It gives the output columns and scores files; nothing outside
scoring/ assembles configs, signatures or sessions itself. `for_snapshot` gives a
`ScriptScorer` (scoring/scripts) instead when the deployment runs a scoring script.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scoring.config import ScoringConfig
from scoring.engine import InputFile, MiniBatchResult, score_files
from scoring.errors import ScoringConfigError
from scoring.folders import cached, unpack
from scoring.outputs import output_columns
from scoring.scripts.runner import ScriptScorer
from scoring.sessions import get_session
from scoring.signature import ModelSignature
from scoring.writers import csv_header, rows_to_csv

__all__ = ["InputFile", "MiniBatchResult", "Scorer", "ScriptScorer", "for_snapshot",
           "model_folder", "onnx_of"]


@dataclass(frozen=True)
class Scorer:
    config: ScoringConfig
    signature: ModelSignature
    model_key: str
    load_model: Callable[[], bytes]
    concurrency: int = 1  # the deployment's max_concurrency_per_instance

    @classmethod
    def from_snapshot(cls, scoring: dict[str, Any], model: dict[str, Any],
                      load_model: Callable[[], bytes], concurrency: int = 1) -> Scorer:
        """`model` holds at least `sha256` and `signature` (as a job pins them)."""
        config, signature = _parsed(json.dumps(scoring, sort_keys=True),
                                    json.dumps(model["signature"], sort_keys=True))
        return cls(config, signature, model["sha256"], load_model, concurrency)

    @property
    def tabular(self) -> bool:
        return self.config.input.type == "tabular"

    def header(self) -> bytes:
        return csv_header(output_columns(self.config, self.signature))

    def score(self, files: Sequence[InputFile], deadline: float | None = None
              ) -> MiniBatchResult:
        session = get_session(self.model_key, self.load_model, self.concurrency)
        return score_files(session, self.config, self.signature, files, deadline=deadline,
                           concurrency=self.concurrency)

    @staticmethod
    def rows_csv(result_rows: Sequence[Any]) -> bytes:
        return rows_to_csv(result_rows)


@functools.lru_cache(maxsize=64)
def _parsed(scoring_json: str, signature_json: str) -> tuple[ScoringConfig, ModelSignature]:
    return (ScoringConfig.from_dict(json.loads(scoring_json)),
            ModelSignature.from_dict(json.loads(signature_json)))


def for_snapshot(deployment: dict[str, Any], load_model: Callable[[], bytes],
                 load_code: Callable[[], bytes], concurrency: int = 1,
                 env: dict[str, str] | None = None, logging_level: str = "info"
                 ) -> Scorer | ScriptScorer:
    """The scorer of a deployment snapshot (a job pins one): its scoring script when it has
    `code` ({sha256, scoring_script}), else its no-code scoring configuration."""
    model = deployment["model"]
    code = deployment.get("code")
    if not code:
        return Scorer.from_snapshot(deployment["scoring"], model,
                                    lambda: onnx_of(model, load_model()), concurrency)
    env = {**{k: str(v) for k, v in (env or {}).items()},
           "AZUREML_LOG_LEVEL": logging_level.upper()}
    key = hashlib.sha256(json.dumps([code["sha256"], code["scoring_script"], model["sha256"],
                                     env], sort_keys=True).encode()).hexdigest()[:32]

    def folders() -> tuple:
        return (cached("code", code["sha256"], lambda d: unpack(load_code(), d, code["sha256"])),
                model_folder(model, load_model))

    return ScriptScorer(key, code["scoring_script"], folders, env, concurrency)


def onnx_of(model: dict[str, Any], stored: bytes) -> bytes:
    """The ONNX bytes of a stored model: the blob itself, or a folder's `onnx_file`."""
    if model.get("layout") != "folder":
        return stored
    from scoring.mlmodel import member

    return member(stored, model["onnx_file"])


def model_folder(model: dict[str, Any], load_model: Callable[[], bytes]):
    """The model as a local folder (`AZUREML_MODEL_DIR`): a folder model unpacked, a
    single-file model as that one file."""
    def fill(folder) -> None:
        data = load_model()
        if model.get("layout") == "folder":
            unpack(data, folder, model["sha256"])
        elif hashlib.sha256(data).hexdigest() != model["sha256"]:
            raise ScoringConfigError("model", "the stored model's sha256 is not the "
                                     "registered one: it was changed")
        else:
            (folder / model.get("file_name", "model.onnx")).write_bytes(data)

    layout = model.get("layout") or model.get("file_name", "model.onnx")
    return cached("models", f"{model['sha256']}-{hashlib.sha256(layout.encode()).hexdigest()[:8]}",
                  fill)
