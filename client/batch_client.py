"""A small client over the HTTP API, named like azure-ai-ml's `batch_endpoints` operations.

It takes an `httpx` transport, so tests can swap the network for something else; by default
it talks HTTP to the service with a function key.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("Completed", "Failed", "Canceled")


class JobFailedError(RuntimeError):
    def __init__(self, job: dict[str, Any]):
        self.job = job
        error = (job.get("error") or {}).get("message", "")
        super().__init__(f"job {job['name']} ended {job['status']}: {error}")


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response):
        self.status_code = response.status_code
        try:
            self.body = response.json()
            message = self.body["error"]["message"]
        except Exception:
            self.body, message = None, response.text or response.reason_phrase
        super().__init__(f"HTTP {response.status_code}: {message}")


class BatchEndpointsClient:
    def __init__(self, base_url: str, key: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 60.0):
        headers = {"x-functions-key": key} if key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers,
                                  transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BatchEndpointsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # Reads are retried when a connection drops (a host instance restarting, say).
        attempts = 3 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(method, url, **kwargs)
                break
            except httpx.TransportError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        if response.status_code >= 400:
            raise ApiError(response)
        return response

    def _list(self, url: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a paged list, following `nextLink`."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        while next_url:
            page = self._call("GET", next_url, params=params if next_url == url else None).json()
            items += page["value"]
            next_url = page.get("nextLink")
        return items

    # models and datastores
    def create_model(self, name: str, version: str, path: str | Path | None = None, *,
                     data: bytes | None = None, datastore_path: str | None = None,
                     description: str = "") -> dict[str, Any]:
        url = f"/models/{name}/versions/{version}"
        if datastore_path:
            return self._call("PUT", url, json={"path": datastore_path,
                                                "description": description}).json()
        body = data if data is not None else Path(path).read_bytes()  # type: ignore[arg-type]
        return self._call("PUT", url, content=body, params={"description": description},
                          headers={"content-type": "application/octet-stream"}).json()

    def get_model(self, name: str, version: str) -> dict[str, Any]:
        return self._call("GET", f"/models/{name}/versions/{version}").json()

    def create_or_update_datastore(self, name: str, container_name: str) -> dict[str, Any]:
        return self._call("PUT", f"/datastores/{name}",
                          json={"container_name": container_name}).json()

    # endpoints and deployments
    def create_or_update_endpoint(self, name: str, doc: dict[str, Any] | None = None
                                  ) -> dict[str, Any]:
        return self._call("PUT", f"/endpoints/{name}", json=doc or {}).json()

    def get_endpoint(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/endpoints/{name}").json()

    def list_endpoints(self) -> list[dict[str, Any]]:
        return self._list("/endpoints")

    def delete_endpoint(self, name: str) -> None:
        self._call("DELETE", f"/endpoints/{name}")

    def create_or_update_deployment(self, endpoint: str, name: str, doc: dict[str, Any]
                                    ) -> dict[str, Any]:
        return self._call("PUT", f"/endpoints/{endpoint}/deployments/{name}", json=doc).json()

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self._call("DELETE", f"/endpoints/{endpoint}/deployments/{name}")

    # jobs
    def invoke(self, endpoint: str, input_path: str, *, input_type: str = "uri_folder",
               deployment_name: str | None = None, output_path: str | None = None,
               request_id: str | None = None, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": {"input_data": {"type": input_type,
                                                          "path": input_path}}}
        if output_path:
            body["outputs"] = {"score": {"type": "uri_folder", "path": output_path}}
        if deployment_name:
            body["deployment_name"] = deployment_name
        body.update({k: v for k, v in overrides.items() if v is not None})
        headers = {"repeatability-request-id": request_id} if request_id else {}
        return self._call("POST", f"/endpoints/{endpoint}/jobs", json=body,
                          headers=headers).json()

    def get_job(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{name}").json()

    def list_jobs(self, endpoint: str | None = None, *, status: str | None = None
                  ) -> list[dict[str, Any]]:
        url = f"/endpoints/{endpoint}/jobs" if endpoint else "/jobs"
        params = {"status": status} if status else {}
        return self._list(url, params)

    def cancel_job(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/jobs/{name}/cancel").json()

    def job_logs(self, name: str) -> str:
        return self._call("GET", f"/jobs/{name}/logs").text

    def download(self, name: str, output_name: str = "score") -> bytes:
        return self._call("GET", f"/jobs/{name}/outputs/{output_name}").content

    def wait(self, name: str, *, timeout: float = 600.0, interval: float = 0.1,
             on_progress=None, raise_on_failure: bool = True) -> dict[str, Any]:
        """Poll a job until it ends (like `az ml job stream`)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(name)
            if on_progress:
                on_progress(job)
            if job["status"] in TERMINAL:
                if raise_on_failure and job["status"] != "Completed":
                    raise JobFailedError(job)
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {name} still {job['status']} after {timeout} s")
            time.sleep(interval)
