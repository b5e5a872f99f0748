// Batch endpoints on Azure Functions: everything `azd up` creates, in one resource group.
//
// Hosting: the Flex Consumption plan (FC1), Linux, Python 3.11. Its limits that matter here:
// - instance memory is 512, 2048 (default) or 4096 MB; CPU and network scale with it. ONNX
//   Runtime sessions live in each instance's memory, so 2048 MB is the smallest size that fits
//   the benchmark's CNN with room for a mini-batch of decoded images;
// - maximumInstanceCount from 40 (the lowest Flex accepts) to 1,000 (client tools default to
//   100); functions scale per group: the HTTP functions together, the Event Grid blob trigger,
//   and each queue-triggered function on its own (docs/deploy.md has the sizing table);
// - blob triggers must use the Event Grid source (`source=EventGrid`); the polling blob trigger
//   does not run on Flex, hence the Event Grid subscription on the inbox container below;
// - functionTimeout defaults to 30 minutes (host.json sets 10) and may be unbounded;
// - the runtime is chosen in functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and
//   FUNCTIONS_EXTENSION_VERSION must not be app settings;
// - updates roll (functionAppConfig.siteUpdateStrategy): old instances drain while new ones
//   start, so two versions of the code run side by side during a deploy.
//
// No Bicep compiler runs where this was written: tests/infra parses every file with pycep
// and runs checkov on it (with privateNetworking off and on), nothing more.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; makes the resource names unique.')
param environmentName string

@minLength(1)
@description('Azure region of every resource (one where Flex Consumption is offered).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying user, given data access to the storage account to upload inputs and read outputs. Empty for none.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@allowed([512, 2048, 4096])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Upper bound of the instances the app scales out to (Flex Consumption accepts 40 to 1,000).')
param maximumInstanceCount int = 100

@minValue(0)
@description('Always-ready instances for the HTTP functions (0: the API cold-starts after idling; each one bills around the clock).')
param httpAlwaysReadyInstances int = 0

@minValue(1)
@maxValue(1000)
@description('HTTP requests one instance takes at once (the Flex default at 2048 MB is 16).')
param httpPerInstanceConcurrency int = 16

@description('Share of jobs whose traces go to Application Insights (0 to 1; a job is traced whole or not at all).')
param traceSamplingRatio string = '1.0'

@description('Private networking: VNet integration for the app, private endpoints (blob, queue, table, Key Vault) with private DNS zones, public network access to storage and Key Vault off. Off by default so a first `azd up` from a laptop can upload inputs.')
param privateNetworking bool = false

@description('Container whose new blobs become jobs (BATCH_INBOX_CONTAINER).')
param inboxContainerName string = 'inbox'

@minValue(1)
@description('Seconds a drop folder must stay quiet before its files become one job.')
param dropQuietSeconds int = 30

@description('Create the inbox Event Grid subscription. Its webhook needs the app deployed first, so the postdeploy hook turns this on after the first deploy.')
param inboxEventsEnabled bool = false

@description('Create an Event Grid topic (CloudEvents, Entra-only) for job-ended events.')
param jobEventsTopicEnabled bool = false

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = 'func-batch-${resourceToken}'
var deploymentContainerName = 'app-package'
// Containers and queues the app uses (it also creates them on first use); see
// shared/config.py and shared/messages.py. Poison queues: the host moves messages there after
// maxDequeueCount failures, and the *_poisoned functions turn them into failed items.
var appContainers = [inboxContainerName, 'batch-models', 'batch-jobs', 'workspaceblobstore']
var appQueues = [
  'batch-plan'
  'batch-score'
  'batch-aggregate'
  'batch-events'
  'batch-drops'
  'batch-check'
  'batch-plan-poison'
  'batch-score-poison'
  'batch-aggregate-poison'
  'batch-events-poison'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-batch-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stbatch${resourceToken}'
    location: location
    tags: tags
    containers: concat([deploymentContainerName], appContainers)
    queues: appQueues
    privateNetworking: privateNetworking
  }
}

module vault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-batch-${resourceToken}'
    location: location
    tags: tags
    privateNetworking: privateNetworking
  }
}

module network 'core/network.bicep' = if (privateNetworking) {
  name: 'network'
  scope: rg
  params: {
    vnetName: 'vnet-batch-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    keyVaultName: vault.outputs.name
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-batch-${resourceToken}'
    applicationInsightsName: 'appi-batch-${resourceToken}'
    location: location
    tags: tags
  }
}

module workbook 'core/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    name: 'Batch endpoints (${environmentName})'
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module jobEvents 'app/job-events.bicep' = if (jobEventsTopicEnabled) {
  name: 'job-events'
  scope: rg
  params: {
    name: 'evgt-batch-${resourceToken}'
    location: location
    tags: tags
  }
}

// The app starts with its roles in place (rbac needs only storage, identity and telemetry).
module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  dependsOn: [rbac]
  params: {
    name: appName
    planName: 'plan-batch-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    inboxContainerName: inboxContainerName
    dropQuietSeconds: dropQuietSeconds
    jobEventsTopicEndpoint: jobEventsTopicEnabled ? jobEvents!.outputs.endpoint : ''
    httpAlwaysReadyInstances: httpAlwaysReadyInstances
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    traceSamplingRatio: traceSamplingRatio
    subnetId: privateNetworking ? network!.outputs.appSubnetId : ''
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    jobEventsTopicName: jobEventsTopicEnabled ? jobEvents!.outputs.name : ''
    keyVaultName: vault.outputs.name
  }
}

module inboxEvents 'app/inbox-events.bicep' = if (inboxEventsEnabled) {
  name: 'inbox-events'
  scope: rg
  dependsOn: [rbac]
  params: {
    name: 'evgst-batch-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    functionAppName: api.outputs.name
    inboxContainerName: inboxContainerName
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICE_API_BASE_URL string = api.outputs.baseUrl
output INBOX_CONTAINER_NAME string = inboxContainerName
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output AZURE_KEY_VAULT_URI string = vault.outputs.uri
