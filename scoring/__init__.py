"""ONNX Runtime scoring: model signatures, sessions, readers, pre/post-processing, writers."""
