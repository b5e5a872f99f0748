"""A local Azure Functions host for development and tests.

Azure Functions Core Tools cannot be installed here, so this package imports
`function_app.py` and serves its triggers against Azurite with the real host's semantics.
It is a development tool: it never adds behaviour the real host lacks.
"""
