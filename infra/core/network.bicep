// Private networking (main.bicep's `privateNetworking`, off by default): a VNet whose `app`
// subnet carries the function app's outbound traffic (Flex Consumption VNet integration needs
// the subnet delegated to Microsoft.App/environments), and private endpoints in the
// `endpoints` subnet for the storage account's blob, queue and table services and for the
// Key Vault, each with the private DNS zone that makes the account's usual host names resolve
// to the endpoint inside the VNet. The app's inbound side stays public (function keys, Event
// Grid's webhook delivery).
param vnetName string
param location string
param tags object = {}
param storageAccountName string
param keyVaultName string
param addressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.1.0/24'
param endpointsSubnetPrefix string = '10.40.2.0/24'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: { serviceName: 'Microsoft.App/environments' }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
      {
        name: 'endpoints'
        properties: {
          addressPrefix: endpointsSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

// One private endpoint per service: storage sub-resources (groupIds) blob, queue, table;
// the vault's is `vault`. DNS zone names follow the cloud (environment() suffixes).
var endpoints = [
  { name: 'blob', target: storage.id, zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'queue', target: storage.id, zone: 'privatelink.queue.${environment().suffixes.storage}' }
  { name: 'table', target: storage.id, zone: 'privatelink.table.${environment().suffixes.storage}' }
  { name: 'vault', target: vault.id, zone: 'privatelink.vaultcore.azure.net' }
]

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for e in endpoints: {
  name: e.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (e, i) in endpoints: {
  parent: zones[i]
  name: '${vnetName}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnet.id }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for e in endpoints: {
  name: 'pe-${e.name}-${vnetName}'
  location: location
  tags: tags
  properties: {
    subnet: { id: '${vnet.id}/subnets/endpoints' }
    privateLinkServiceConnections: [
      {
        name: e.name
        properties: {
          privateLinkServiceId: e.target
          groupIds: [e.name]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (e, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: e.name
        properties: { privateDnsZoneId: zones[i].id }
      }
    ]
  }
}]

output appSubnetId string = '${vnet.id}/subnets/app'
