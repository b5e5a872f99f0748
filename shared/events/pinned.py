"""One HTTP request to a URL whose host was checked, over a connection to the address that
was checked (shared/netrules.py), so a DNS name cannot resolve to a public address for the
check and to a private one for the connection (DNS rebinding).

urllib3 connects to the IP address; for https the TLS handshake still names the URL's host
(SNI) and the certificate is verified against it, and the Host header is the URL's. Redirects
are not followed (a 3xx is an answer like any other), and nothing is retried here: the
caller's queue retries.
"""

from __future__ import annotations

import urllib3

from shared.netrules import HttpUrl, IPAddress


def request(method: str, url: HttpUrl, addresses: list[IPAddress], body: bytes,
            headers: dict[str, str], timeout: float) -> int:
    """Send to the first address that accepts a connection; the response's status code.
    Raises the last connection error when none does."""
    error: Exception | None = None
    for address in addresses:
        pool = _pool(url, address, urllib3.Timeout(connect=timeout, read=timeout))
        try:
            response = pool.urlopen(method, url.target, body=body,
                                    headers={**headers, "Host": url.netloc}, retries=False,
                                    redirect=False, assert_same_host=False)
            return response.status
        except (urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.ConnectTimeoutError) as e:
            error = e
        finally:
            pool.close()
    raise ConnectionError(f"no address of {url.host} accepted a connection: {error}")


def _pool(url: HttpUrl, address: IPAddress,
          timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if url.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            str(address), url.port, timeout=timeout, maxsize=1, cert_reqs="CERT_REQUIRED",
            server_hostname=url.host, assert_hostname=url.host)
    return urllib3.HTTPConnectionPool(str(address), url.port, timeout=timeout, maxsize=1)
