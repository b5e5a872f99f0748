// Inbox drops on Flex Consumption: the storage account's Event Grid system topic and a
// BlobCreated subscription on the inbox container that delivers to the Event Grid-based blob
// trigger's webhook (`/runtime/webhooks/blobs`). The webhook's key (`blobs_extension`) exists
// only once the app's code has run, which is why main.bicep deploys this after the first
// deploy (infra/hooks/postdeploy.sh). Undeliverable events are dead-lettered to a container
// with the topic's own identity.
param name string
param location string
param tags object = {}
param storageAccountName string
param functionAppName string
param inboxContainerName string

// The inbox blob trigger in blueprints/drops.py (tests/infra checks the name).
var inboxFunctionName = 'inbox_blob_dropped'
var deadLetterContainerName = 'inbox-deadletter'
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobServices 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' = {
      name: deadLetterContainerName
      properties: { publicAccess: 'None' }
    }
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, topic.id, blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource inboxSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'inbox-blob-created'
  dependsOn: [deadLetterWriter, storage::blobServices::deadLetters]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${inboxFunctionName}&code=${listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${inboxContainerName}/'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}
