"""Access to Azure Storage: connection strings and typed clients."""
