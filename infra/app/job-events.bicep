// Optional Event Grid topic for job-ended events (shared/events/outbound.py). The app
// publishes CloudEvents 1.0 with its identity, so the topic takes that schema and no keys.
param name string
param location string
param tags object = {}

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  //checkov:skip=CKV_AZURE_193: subscribers and the app reach the topic publicly; sending needs an Entra token (local auth disabled)
  name: name
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

output name string = topic.name
output endpoint string = topic.properties.endpoint
