"""Webhook deliveries (shared/events/outbound.py, pinned.py) against real local HTTP and
HTTPS receivers: the host is resolved and checked when the event is sent, the connection
goes to the address checked (a name that re-resolves elsewhere cannot steer it), and https
still names and verifies the URL's host (SNI, certificate, Host header)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.messaging import CloudEvent
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.errors import ValidationError
from shared.events import outbound
from shared.resources import webhooks

EVENT = CloudEvent(source="/batch-endpoints/endpoints/e", type="BatchEndpoints.Job.Completed",
                   subject="jobs/j", data={"job_name": "j"})


class Receiver:
    """An HTTP(S) server on 127.0.0.1 that records each request's Host header, body and
    the TLS server name the client asked for."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append({"host": self.headers["host"], "path": self.path,
                                 "body": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Resolver:
    """getaddrinfo for names the test gives (changeable between calls: rebinding), with a
    record of every name asked; IP literals resolve as themselves."""

    def __init__(self, monkeypatch, answers: dict[str, str]):
        self.answers = answers
        self.asked: list[str] = []
        self.real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self.lookup)

    def lookup(self, host, port, *args, **kwargs):
        self.asked.append(host)
        if host in self.answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self.answers[host], port))]
        ipaddress.ip_address(host)  # anything else would need a real resolver
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setenv("BATCH_ALLOW_LOOPBACK_WEBHOOKS", "true")


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, loopback_allowed):
    receiver = Receiver()
    dns = Resolver(monkeypatch, {"hook.example": "127.0.0.1"})
    try:
        outbound.post_cloudevent(f"http://hook.example:{receiver.port}/events?x=1", EVENT)
    finally:
        receiver.close()
    (request,) = receiver.requests
    assert request["host"] == f"hook.example:{receiver.port}"
    assert request["path"] == "/events?x=1" and request["body"]["subject"] == "jobs/j"
    assert dns.asked == ["hook.example", "127.0.0.1"]  # resolved by the check; then pinned


def test_an_international_name_and_path_travel_as_ascii(monkeypatch, loopback_allowed):
    receiver = Receiver()
    dns = Resolver(monkeypatch, {"xn--bcher-kva.example": "127.0.0.1"})
    try:
        outbound.post_cloudevent(f"http://Bücher.example:{receiver.port}/ü?q=ä", EVENT)
    finally:
        receiver.close()
    (request,) = receiver.requests
    assert request["host"] == f"xn--bcher-kva.example:{receiver.port}"
    assert request["path"] == "/%C3%BC?q=%C3%A4"
    assert dns.asked == ["xn--bcher-kva.example", "127.0.0.1"]  # the check, then the pin


def test_a_name_that_rebinds_to_a_private_address_gets_nothing(monkeypatch):
    """Public when the URL was set, loopback (switch off) when the event is sent."""
    monkeypatch.delenv("BATCH_ALLOW_LOOPBACK_WEBHOOKS", raising=False)
    receiver = Receiver()
    dns = Resolver(monkeypatch, {"rebind.example": "8.8.8.8"})
    url = f"http://rebind.example:{receiver.port}/events"
    try:
        assert webhooks.check_url(url) == url
        dns.answers["rebind.example"] = "127.0.0.1"
        with pytest.raises(ValidationError, match="resolves to 127.0.0.1"):
            outbound.post_cloudevent(url, EVENT)
    finally:
        receiver.close()
    assert receiver.requests == []


def test_https_names_the_host_while_connecting_to_the_checked_address(
        monkeypatch, tmp_path, loopback_allowed):
    ca, server_context = _tls(tmp_path, "hook.example")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the test CA as the only trusted one
    receiver = Receiver(server_context)
    dns = Resolver(monkeypatch, {"hook.example": "127.0.0.1", "other.example": "127.0.0.1"})
    try:
        outbound.post_cloudevent(f"https://hook.example:{receiver.port}/e", EVENT)
        with pytest.raises(Exception, match="(?i)certificate|hostname"):
            outbound.post_cloudevent(f"https://other.example:{receiver.port}/e", EVENT)
    finally:
        receiver.close()
    assert receiver.server_names[0] == "hook.example"
    assert [r["host"] for r in receiver.requests] == [f"hook.example:{receiver.port}"]
    assert dns.asked.count("hook.example") == 1


def test_a_redirect_is_not_followed(monkeypatch, loopback_allowed):
    """A 3xx is the webhook's answer (a failure), never a second request elsewhere."""
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Exception, match="webhook answered 307"):
            outbound.post_cloudevent(f"http://127.0.0.1:{server.server_address[1]}/", EVENT)
    finally:
        server.shutdown()
        server.server_close()


def _tls(folder, host: str) -> tuple[object, ssl.SSLContext]:
    """A CA file and a server context whose certificate (signed by that CA) names `host`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
