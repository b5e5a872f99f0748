"""Python client for the batch endpoints service, shaped like azure-ai-ml's `MLClient`:

    from azure.core.credentials import AzureKeyCredential
    from client import BatchClient, load_batch_endpoint

    ml = BatchClient("http://127.0.0.1:7071/api", AzureKeyCredential(key))
    ml.batch_endpoints.begin_create_or_update(load_batch_endpoint("endpoint.yml")).result()
    job = ml.batch_endpoints.invoke("mnist-batch", input="./sample")
    ml.jobs.stream(job.name)

Errors are azure-core's (`ResourceNotFoundError`, `HttpResponseError`, ...), a document
that cannot be read is a `DocumentError`, a followed job that fails a `JobFailedError`.
"""

from client._batch_client import BatchClient
from client._entities import (
    BatchDeployment,
    BatchEndpoint,
    BatchJob,
    Data,
    Datastore,
    DocumentError,
    Input,
    Model,
    load_batch_deployment,
    load_batch_endpoint,
    load_data,
    load_datastore,
    load_model,
)
from client._jobs import JobFailedError

__all__ = [
    "BatchClient",
    "BatchDeployment",
    "BatchEndpoint",
    "BatchJob",
    "Data",
    "Datastore",
    "DocumentError",
    "Input",
    "JobFailedError",
    "Model",
    "load_batch_deployment",
    "load_batch_endpoint",
    "load_data",
    "load_datastore",
    "load_model",
]
