"""The Functions-facing layer: triggers that decode their binding and call plain code."""
