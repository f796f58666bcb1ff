// Everything the app needs, in one resource group. Deploy with `azd up` (through main.bicep)
// or directly: az deployment group create -g <rg> -f infra/resources.bicep -p environmentName=...
//
// One user-assigned identity runs the Function App. It holds exactly the roles the app needs:
// storage data roles (identity-based AzureWebJobsStorage, Durable task hub, deployment
// package), Monitoring Metrics Publisher (Entra-authenticated telemetry), Key Vault Secrets
// User (the session identifier key) and Azure ContainerApps Session Executor on the pool.

@minLength(1)
@maxLength(48)
param environmentName string

param location string = resourceGroup().location

@description('Region of the session pool(s); Dynamic Sessions is offered in fewer regions.')
param sessionPoolLocation string = location

param tags object = {}

@description('Object id of a user or principal to grant Session Executor on the pool (for tests/azure). Empty: none.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@secure()
@minLength(32)
@description('HMAC key for session identifiers, stored in Key Vault and read through a Key Vault reference.')
param sessionIdentifierKey string

@description('Python of the Function App. 3.13 (default): the app pins its worker (azure-functions-runtime in requirements.txt, the version tests/worker loads the app with), dependency isolation is on, and cold starts are faster. 3.11 and 3.12 run on the platform-managed worker.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.13'

@minValue(1)
@maxValue(1000)
param functionMaxInstances int = 40

@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@minValue(1)
@maxValue(600)
param sessionPoolMaxConcurrentSessions int = 20

@minValue(300)
@maxValue(3600)
param sessionPoolCooldownSeconds int = 300

param sessionPoolEgressEnabled bool = false

@minValue(1)
@maxValue(60)
param executionPollIntervalSeconds int = 10

param sessionApiVersion string = '2024-10-02-preview'

param deployCustomContainerPool bool = false
param useCustomContainerPool bool = false
param customContainerImage string = ''
param customContainerRegistryResourceId string = ''
param customContainerTargetPort int = 8080
param customContainerCpu string = '1.0'
param customContainerMemory string = '2Gi'

@minValue(0)
@maxValue(600)
param readySessionInstances int = 1

param deployDurableTaskScheduler bool = false

var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName, location))
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var taskHubName = 'AgentRuntimeHub'

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-func-${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    metricsPublisherPrincipalId: appIdentity.properties.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    storageAccountName: 'st${resourceToken}'
    deploymentContainerName: deploymentContainerName
    dataPrincipalId: appIdentity.properties.principalId
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    tags: tags
    keyVaultName: 'kv-${resourceToken}'
    sessionIdentifierKey: sessionIdentifierKey
    secretsUserPrincipalId: appIdentity.properties.principalId
  }
}

module sessionPools 'modules/session-pools.bicep' = {
  name: 'sessionPools'
  params: {
    location: sessionPoolLocation
    tags: tags
    resourceToken: resourceToken
    executorPrincipalId: appIdentity.properties.principalId
    extraExecutorPrincipalId: principalId
    extraExecutorPrincipalType: principalType
    maxConcurrentSessions: sessionPoolMaxConcurrentSessions
    cooldownSeconds: sessionPoolCooldownSeconds
    egressEnabled: sessionPoolEgressEnabled
    deployCustomContainerPool: deployCustomContainerPool
    customContainerImage: customContainerImage
    customContainerRegistryResourceId: customContainerRegistryResourceId
    customContainerTargetPort: customContainerTargetPort
    customContainerCpu: customContainerCpu
    customContainerMemory: customContainerMemory
    readySessionInstances: readySessionInstances
    logAnalyticsName: monitoring.outputs.logAnalyticsName
  }
}

module durableTaskScheduler 'modules/durable-task-scheduler.bicep' = if (deployDurableTaskScheduler) {
  name: 'durableTaskScheduler'
  params: {
    location: location
    tags: tags
    schedulerName: 'dts-${resourceToken}'
    taskHubName: taskHubName
    dataContributorPrincipalId: appIdentity.properties.principalId
  }
}

var appPoolEndpoint = deployCustomContainerPool && useCustomContainerPool
  ? sessionPools.outputs.customPoolManagementEndpoint
  : sessionPools.outputs.codeInterpreterPoolManagementEndpoint

// With the scheduler, the app must also use it: host.json (deployed as it is) keeps the Azure
// Storage provider, and these app settings override it. The Functions host reads
// AzureFunctionsJobHost__<path> settings over the same paths of host.json (extensions,
// extensionBundle). Python apps get the azureManaged provider from the Preview bundle.
var durableTaskSchedulerConnectionSetting = 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
var durableTaskSchedulerSettings = deployDurableTaskScheduler
  ? {
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskScheduler!.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${appIdentity.properties.clientId}'
      TASKHUB_NAME: taskHubName
      AzureFunctionsJobHost__extensions__durableTask__hubName: taskHubName
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: durableTaskSchedulerConnectionSetting
      AzureFunctionsJobHost__extensionBundle__id: 'Microsoft.Azure.Functions.ExtensionBundle.Preview'
      AzureFunctionsJobHost__extensionBundle__version: '[4.29.0, 5.0.0)'
    }
  : {}

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  params: {
    location: location
    tags: tags
    functionAppName: functionAppName
    planName: 'plan-${resourceToken}'
    identityResourceId: appIdentity.id
    identityClientId: appIdentity.properties.clientId
    pythonVersion: pythonVersion
    maxInstances: functionMaxInstances
    instanceMemoryMB: functionInstanceMemoryMB
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    poolManagementEndpoint: appPoolEndpoint
    sessionApiVersion: sessionApiVersion
    executionPollIntervalSeconds: executionPollIntervalSeconds
    sessionIdentifierKeySecretUri: keyVault.outputs.sessionIdentifierKeySecretUri
    extraAppSettings: durableTaskSchedulerSettings
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = functionApp.outputs.url
output sessionPoolName string = sessionPools.outputs.codeInterpreterPoolName
output sessionPoolManagementEndpoint string = sessionPools.outputs.codeInterpreterPoolManagementEndpoint
output customSessionPoolManagementEndpoint string = sessionPools.outputs.customPoolManagementEndpoint
output appPoolManagementEndpoint string = appPoolEndpoint
output managedIdentityClientId string = appIdentity.properties.clientId
output keyVaultName string = keyVault.outputs.name
output durableTaskSchedulerEndpoint string = deployDurableTaskScheduler ? durableTaskScheduler!.outputs.endpoint : ''
