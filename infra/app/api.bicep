// The function app (azd service `api`): a Flex Consumption plan and a Linux Python 3.11 app
// signed in everywhere with its user-assigned identity.
param name string
param planName string
param location string
param tags object = {}
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param identityId string
param identityClientId string
param instanceMemoryMB int
param maximumInstanceCount int
param inboxContainerName string
param dropQuietSeconds int
param jobEventsTopicEndpoint string = ''
@description('Instances kept warm for the HTTP scale group (0: scale from zero).')
param httpAlwaysReadyInstances int = 0
@description('HTTP requests one instance runs at once before the platform adds another.')
param httpPerInstanceConcurrency int = 16
@description('Subnet (delegated to Microsoft.App/environments) the app\'s outbound traffic leaves through; empty for none.')
param subnetId string = ''
@description('Share of jobs whose traces are kept (parent-based: a job is traced whole or not at all).')
param traceSamplingRatio string = '1.0'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Every app setting the app reads (docs/deploy.md has the table; tests/infra checks it
// against the code). Storage is an identity-based connection: no key anywhere.
var appSettings = union({
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  PYTHON_ISOLATE_WORKER_DEPENDENCIES: '1'
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio'
  OTEL_TRACES_SAMPLER_ARG: traceSamplingRatio
  BATCH_INBOX_CONTAINER: inboxContainerName
  BATCH_DROP_QUIET_SECONDS: string(dropQuietSeconds)
}, empty(jobEventsTopicEndpoint) ? {} : {
  BATCH_EVENTGRID_TOPIC_ENDPOINT: jobEventsTopicEndpoint
})

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: zone redundancy is an opt-in for Flex Consumption in some regions only; a batch job survives an instance loss through its queues
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_17: callers authenticate with function keys (the Azure ML batch-endpoint contract), not client certificates
  //checkov:skip=CKV_AZURE_222: callers and Event Grid reach the API over the internet; function keys and the blobs_extension key guard it
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; always-ready instances (httpAlwaysReadyInstances) are the operator's choice since they bill around the clock
  //checkov:skip=CKV_AZURE_78: Flex Consumption deprecates siteConfig.ftpsState (FTPS is not supported there); FTP and SCM basic publishing credentials are off below
  //checkov:skip=CKV_AZURE_213: App Service health check does not apply to Flex Consumption, whose instances come and go with the load (down to zero)
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Outbound through the VNet when private networking is on (storage and Key Vault are
    // then reachable only through their private endpoints).
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    // App settings may be Key Vault references (@Microsoft.KeyVault(...)), resolved with the
    // user-assigned identity (Key Vault Secrets User in app/rbac.bicep).
    keyVaultReferenceIdentity: identityId
    // Only properties Flex Consumption keeps (the deprecations list: no ftpsState, alwaysOn,
    // linuxFxVersion, use32BitWorkerProcess, functionAppScaleLimit...; tests/infra checks).
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      // Per-function scaling: the HTTP functions scale as one group (`http`), the Event Grid
      // blob trigger as `blob`, and every queue-triggered function on its own instances
      // (`function:<name>`). Queue concurrency per instance is host.json's batchSize +
      // newBatchThreshold; docs/deploy.md has the sizing table.
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: httpAlwaysReadyInstances > 0 ? [
          { name: 'http', instanceCount: httpAlwaysReadyInstances }
        ] : []
        triggers: {
          http: { perInstanceConcurrency: httpPerInstanceConcurrency }
        }
      }
      // Deploys and setting changes drain instances in batches: running executions finish
      // (up to the 60-minute scale-in grace period) while new instances start on the new
      // version, so both versions run side by side for a while (shared/messages.py).
      siteUpdateStrategy: {
        type: 'RollingUpdate'
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  // Deployments sign in with Entra ID (azd, Core Tools); basic publishing credentials are off.
  resource ftp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }

  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output name string = app.name
output baseUrl string = 'https://${app.properties.defaultHostName}'
