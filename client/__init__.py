"""Python client and CLI for the batch endpoints API (feels like azure-ai-ml / `az ml`)."""

from client.batch_client import BatchEndpointsClient, JobFailedError

__all__ = ["BatchEndpointsClient", "JobFailedError"]
