"""Sample models and inputs built locally (scikit-learn's bundled datasets, `onnx` helpers),
and the demo that runs a real batch job end to end. Nothing is downloaded."""
