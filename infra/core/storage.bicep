// The one storage account: the host's AzureWebJobsStorage, the app's tables, queues and blobs,
// and the deployment package container. Shared keys are off: every client signs in with
// Microsoft Entra ID (role assignments in app/rbac.bicep).
param name string
param location string
param tags object = {}
param containers array
param queues array
@description('Private networking: the account is reachable only through its private endpoints (core/network.bicep) and trusted Azure services (Event Grid dead-lettering).')
param privateNetworking bool = false

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35: the default (privateNetworking off) lets Flex Consumption without VNet integration reach storage over its public endpoint; access needs an Entra token since shared keys are disabled; privateNetworking=true denies it
  //checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: public network access with identity-only authorization unless privateNetworking=true
  //checkov:skip=CKV_AZURE_206: LRS keeps cost low; job state is rebuilt by re-running a job, not by geo-failover
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: { enabled: true, days: 7 }
      containerDeleteRetentionPolicy: { enabled: true, days: 7 }
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in containers: {
  parent: storage::blobServices
  name: container
  properties: { publicAccess: 'None' }
}]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob

resource queueServices 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource appQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in queues: {
  parent: queueServices
  name: queue
}]
