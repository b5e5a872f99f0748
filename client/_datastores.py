"""`client.datastores`: the named containers inputs are read from and outputs written to."""

from __future__ import annotations

from azure.core.paging import ItemPaged

from client._entities import Datastore
from client._operations import Operations

DEFAULT_DATASTORE = "workspaceblobstore"


class DatastoreOperations(Operations):
    def get(self, name: str) -> Datastore:
        return Datastore._from_rest(self._json("GET", f"datastores/{name}"))

    def get_default(self) -> Datastore:
        return self.get(DEFAULT_DATASTORE)

    def list(self) -> ItemPaged[Datastore]:
        return self._pipeline.pages("datastores", Datastore._from_rest)
