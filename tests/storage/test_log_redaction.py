"""No secret in a log record (shared/logredact.py): the rules on strings, and real urllib3
retries of SAS-signed storage requests to an unreachable Azurite, logged and raised."""

from __future__ import annotations

import logging
import socket
import traceback

import pytest
import urllib3
from azure.core.exceptions import ServiceRequestError

from shared import logredact
from shared.logredact import redact
from shared.storage.blobreads import BlobReads
from shared.storage.connection import StorageAccount, azurite_connection_string

SIGNED = ("http://127.0.0.1:10000/devstoreaccount1/batch-jobs/x.csv?restype=container"
          "&sv=2025-01-05&st=2026-12-07T14%3A00%3A00Z&se=2026-12-07T16%3A00%3A00Z&sr=c"
          "&sp=rcw&skoid=a1&sktid=b2&skt=t&ske=e&sks=b&skv=v&spr=https&sig=ab%2Bcd%3D")


def test_every_sas_parameter_value_goes_and_its_name_and_the_rest_stay():
    clean = redact(f"Retrying (Retry(total=3)) after connection broken by 'x': {SIGNED}")
    assert "sig=REDACTED" in clean and "ab%2Bcd" not in clean
    for name in ("sv", "st", "se", "sr", "sp", "skoid", "sktid", "skt", "ske", "sks", "skv",
                 "spr"):
        assert f"&{name}=REDACTED" in clean, name
    assert clean.startswith("Retrying (Retry(total=3)) after connection broken by 'x': "
                            "http://127.0.0.1:10000/devstoreaccount1/batch-jobs/x.csv"
                            "?restype=container&")


@pytest.mark.parametrize(("text", "expected"), [
    ("GET /api/jobs?code=k3y&status=Running", "GET /api/jobs?code=REDACTED&status=Running"),
    ("GET /api/jobs?a=1&CODE=k3y", "GET /api/jobs?a=1&CODE=REDACTED"),
    ("copy from https%3A%2F%2Fa%2Fb%3Fsv%3D1%26sig%3Dabc",
     "copy from https%3A%2F%2Fa%2Fb%3Fsv%3DREDACTED%26sig%3DREDACTED"),
    ("<Url>https://a/b?se=1&amp;sig=abc</Url>",
     "<Url>https://a/b?se=REDACTED&amp;sig=REDACTED</Url>"),
    ("{'x-functions-key': 'k3y', 'Accept': '*/*'}",
     "{'x-functions-key': 'REDACTED', 'Accept': '*/*'}"),
    ("Authorization: Bearer eyJ0eXAi.x.y", "Authorization: REDACTED"),
    ("AccountName=a;AccountKey=c2VjcmV0==;BlobEndpoint=http://h",
     "AccountName=a;AccountKey=REDACTED;BlobEndpoint=http://h"),
    ("SharedAccessSignature=sv=2025&sig=abc;BlobEndpoint=http://h",
     "SharedAccessSignature=REDACTED;BlobEndpoint=http://h"),
    # not secrets: left alone
    ("the worker exited with code=3, status=Running",
     "the worker exited with code=3, status=Running"),
    ("GET /jobs?status=Failed&signal=1&session=2", "GET /jobs?status=Failed&signal=1&session=2"),
])
def test_rules(text, expected):
    assert redact(text) == expected


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections to it are refused


def test_urllib3_retries_of_a_signed_get_log_and_raise_no_signature(caplog):
    """The hot path's GET (BlobReads, SAS from the account key) to an Azurite that is down:
    urllib3 logs each retry with the URL; neither those lines nor the error raised (its
    message or its traceback) carry the signature."""
    logredact.install()
    port = _dead_port()
    account = StorageAccount.from_connection_string(
        azurite_connection_string(ports={"blob": port, "queue": port, "table": port}))
    reads = BlobReads(account, None, "2025-01-05", 2)
    caplog.set_level(logging.WARNING, logger="urllib3")
    quick = urllib3.Retry(total=2, backoff_factor=0, allowed_methods=None)
    with pytest.raises(ServiceRequestError) as raised:
        reads._send("GET", "inputs", "devstoreaccount1/inputs/a.png", "", {}, "inputs/a.png",
                    lambda r: r.data, retries=quick)
    retried = [r for r in caplog.records if r.name.startswith("urllib3")
               and "Retrying" in r.getMessage()]
    assert len(retried) == 2, [r.getMessage() for r in caplog.records]
    text = "\n".join(r.getMessage() for r in retried)
    assert "sig=REDACTED" in text and "sv=REDACTED" in text, text
    shown = "".join(traceback.format_exception(raised.value))
    assert "inputs/a.png" in shown and "sig=" not in shown.replace("sig=REDACTED", ""), shown
    assert "sig=" not in caplog.text.replace("sig=REDACTED", "")


def test_logged_exceptions_are_redacted(caplog):
    logredact.install()
    log = logging.getLogger("batch.test")
    try:
        raise RuntimeError(f"could not GET {SIGNED}")
    except RuntimeError:
        log.exception("failed with %s", "GET /api/x?code=k3y")
    (record,) = [r for r in caplog.records if r.name == "batch.test"]
    assert record.getMessage() == "failed with GET /api/x?code=REDACTED"
    assert "sig=REDACTED" in record.exc_text and "ab%2Bcd" not in record.exc_text
    assert "ab%2Bcd" not in caplog.text and "k3y" not in caplog.text
