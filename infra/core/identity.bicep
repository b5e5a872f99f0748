// The app's user-assigned managed identity: what it signs in to storage, Application Insights
// and the job-events topic with (no keys or connection strings in app settings).
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
