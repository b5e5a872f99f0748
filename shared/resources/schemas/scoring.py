"""The `scoring` section's shape (docs/scoring.md); scoring/config.py then checks it against
the model's signature and fills the defaults. Input types are a discriminated union on
`type`; without one the type is inferred from the model, so every input key is allowed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StrictBool, StrictFloat, StrictInt, Tag

from shared.resources.schemas.base import Strict
from shared.resources.schemas.limits import MAX_LIST, Int, Name

Number = StrictInt | StrictFloat
Names = Annotated[list[Name], Field(max_length=MAX_LIST)]
Dtype = Literal["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                "uint16", "bool", "string"]


class _Common(Strict):
    input_name: Name | None = None
    dtype: Dtype | None = None


class _Image(Strict):
    mode: Literal["L", "RGB", "RGBA", "I", "F"] | None = None
    size: Annotated[list[Int(1, 1_000_000)], Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="[width, height]")
    scale: Number | None = None
    mean: Annotated[list[Number], Field(max_length=4)] | None = None
    std: Annotated[list[Number], Field(max_length=4)] | None = None
    layout: Literal["NCHW", "NHWC", "flat"] | None = None


class _Tabular(Strict):
    format: Literal["csv", "parquet", "jsonl"] | None = None
    columns: Names | None = None
    exclude: Names | None = None
    mapping: Literal["by_name", "by_order", "auto"] | None = None


class _Tensor(Strict):
    items_per_file: Literal["many", "one", 1] | None = None


class ImageInput(_Common, _Image):
    type: Literal["image"]


class TabularInput(_Common, _Tabular):
    type: Literal["tabular"]


class TensorInput(_Common, _Tensor):
    type: Literal["tensor"]


class InferredInput(_Common, _Image, _Tabular, _Tensor):
    """No `type`: inferred from the model's inputs (a table or tensors)."""


def _input_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "inferred-input" if kind is None else f"{kind}-input"


ScoringInput = Annotated[
    Annotated[ImageInput, Tag("image-input")] | Annotated[TabularInput, Tag("tabular-input")]
    | Annotated[TensorInput, Tag("tensor-input")] | Annotated[InferredInput, Tag("inferred-input")],
    Discriminator(_input_tag),
]


class ScoringOutput(Strict):
    type: Literal["classification", "regression", "raw"] | None = None
    label_output: Name | None = None
    probabilities_output: Name | None = None
    class_names: Annotated[list[Name | StrictInt], Field(max_length=MAX_LIST)] | None = None
    probabilities: StrictBool | None = None
    softmax: StrictBool | Literal["auto", "always", "never"] | None = None
    outputs: Annotated[list[Name], Field(min_length=1, max_length=MAX_LIST)] | None = None


class Scoring(Strict):
    """How input files become tensors and model outputs become rows."""

    input: ScoringInput | None = None
    output: ScoringOutput | None = None
    max_batch: Int(1, 4096) | None = None

    def to_config(self) -> dict[str, Any]:
        """What the caller set, for scoring.config.parse_scoring_config."""
        return self.model_dump(exclude_unset=True)
