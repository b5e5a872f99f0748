"""Benchmarks: the service end to end against a hand-written ONNX Runtime script."""
