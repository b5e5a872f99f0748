"""The resources users manage: models, datastores, endpoints, deployments."""
