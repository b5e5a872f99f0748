"""The Functions-facing layer: triggers that decode their binding and call plain code.

Importing it (function_app.py does, first) makes every log record of the process free of
secrets (shared/logredact.py): storage SAS, function keys, credential headers."""

from shared import logredact

logredact.install()
