// The Key Vault for the app's secrets: datastore credentials and webhook secrets, and any app
// setting written as a Key Vault reference (@Microsoft.KeyVault(SecretUri=...)). RBAC mode:
// access is by role (app/rbac.bicep: the app's identity is Key Vault Secrets User, the
// deploying user Key Vault Secrets Officer), never by access policy. With private networking
// the vault answers only through its private endpoint (core/network.bicep).
param name string
param location string
param tags object = {}
param privateNetworking bool = false

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: the default (privateNetworking off) leaves the firewall open because Flex Consumption without VNet integration has no fixed outbound address; reads need an Entra token and a role; privateNetworking=true denies public access
  //checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: public network access only while privateNetworking is off
  //checkov:skip=CKV_AZURE_110: purge protection would keep `azd down --purge` from removing the vault, and the same environment could not be provisioned again for the retention period; soft delete (7 days) still recovers a deleted secret
  //checkov:skip=CKV_AZURE_42: recoverable means soft delete plus purge protection; soft delete is on, purge protection off for the reason given for CKV_AZURE_110
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
