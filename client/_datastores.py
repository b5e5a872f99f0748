"""`client.datastores`: the named containers inputs are read from and outputs written to,
on the service's storage account or (read only) on others."""

from __future__ import annotations

from azure.core.paging import ItemPaged

from client._entities import Datastore, DocumentError
from client._operations import Operations

DEFAULT_DATASTORE = "workspaceblobstore"


class DatastoreOperations(Operations):
    def get(self, name: str) -> Datastore:
        return Datastore._from_rest(self._json("GET", f"datastores/{name}"))

    def get_default(self) -> Datastore:
        return self.get(DEFAULT_DATASTORE)

    def list(self) -> ItemPaged[Datastore]:
        return self._pipeline.pages("datastores", Datastore._from_rest)

    def create_or_update(self, datastore: Datastore) -> Datastore:
        """Its credentials are sent once and never come back (the answer names their kind)."""
        if not datastore.name:
            raise DocumentError("the datastore needs a name")
        return Datastore._from_rest(self._json("PUT", f"datastores/{datastore.name}",
                                               json=datastore._to_rest()))

    def delete(self, name: str) -> None:
        self._pipeline.request("DELETE", f"datastores/{name}")
