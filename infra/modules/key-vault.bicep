// Key Vault (RBAC mode) holding AzureSession__SessionIdentifierKey. The app reads it through a
// Key Vault reference, so the value is never stored in app settings; only identities with
// Key Vault Secrets User (the app) can read it.

param location string
param tags object = {}

@minLength(3)
@maxLength(24)
param keyVaultName string

@secure()
@minLength(32)
param sessionIdentifierKey string

@description('Principal that reads the secret (the app identity).')
param secretsUserPrincipalId string

param secretName string = 'SessionIdentifierKey'

// Built-in role: Key Vault Secrets User.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource sessionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: sessionIdentifierKey
    contentType: 'text/plain'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, secretsUserPrincipalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: secretsUserPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
// Versionless URI: the app always resolves the latest version of the secret.
output sessionIdentifierKeySecretUri string = '${vault.properties.vaultUri}secrets/${sessionKeySecret.name}'
