// The Function App on Flex Consumption (Linux, Python), running as the user-assigned identity:
// identity-based AzureWebJobsStorage, Entra-authenticated Application Insights, the deployment
// package in a blob container, and the AzureSession__* settings that settings.py reads.
// Flex Consumption takes the runtime from functionAppConfig.runtime, so FUNCTIONS_WORKER_RUNTIME
// and FUNCTIONS_EXTENSION_VERSION must not be set as app settings.

param location string
param tags object = {}
param functionAppName string
param planName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityResourceId string
param identityClientId string

@description('Python of the Function App. 3.13 (default): the app pins its worker (azure-functions-runtime in requirements.txt, the version tests/worker loads the app with), dependency isolation is on, and cold starts are faster. 3.11 and 3.12 run on the platform-managed worker.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.13'

@minValue(1)
@maxValue(1000)
param maxInstances int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('The pool the app talks to (its poolManagementEndpoint output).')
param poolManagementEndpoint string
param sessionApiVersion string = '2024-10-02-preview'

@minValue(1)
@maxValue(60)
param executionPollIntervalSeconds int = 10

@description('Versionless Key Vault secret URI of the session identifier key.')
param sessionIdentifierKeySecretUri string

@description('More app settings (e.g. the Durable Task Scheduler connection).')
param extraAppSettings object = {}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
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

var appSettings = {
  // Functions host storage (Durable task hub): identity-based, no keys.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  // Telemetry with Entra auth (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The AzureSession section (settings.py). tests/infra keeps these names in sync.
  AzureSession__PoolManagementEndpoint: poolManagementEndpoint
  AzureSession__AuthMode: 'managed-identity'
  AzureSession__ManagedIdentityClientId: identityClientId
  AzureSession__ApiVersion: sessionApiVersion
  AzureSession__ExecutionPollIntervalSeconds: string(executionPollIntervalSeconds)
  AzureSession__SessionIdentifierKey: '@Microsoft.KeyVault(SecretUri=${sessionIdentifierKeySecretUri})'
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the app identity (it has Key Vault Secrets User).
    keyVaultReferenceIdentity: identityResourceId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maxInstances
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, extraAppSettings)
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
