// Entry point for `azd up` (subscription scope): one resource group, everything else in
// resources.bicep. To deploy into an existing resource group without azd, use resources.bicep
// directly with `az deployment group create` (see docs/azure.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name; used for the resource group name and the unique resource token.')
param environmentName string

@minLength(1)
@description('Region of the Function App, storage, monitoring and Key Vault (must offer Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Region of the session pool(s); defaults to location. Dynamic Sessions is offered in fewer regions.')
param sessionPoolLocation string = ''

@description('Resource group name; defaults to rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID); gets Session Executor on the pool so tests/azure can run from a laptop. Empty: no assignment.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@secure()
@minLength(32)
@description('HMAC key for session identifiers (AzureSession__SessionIdentifierKey). Keep it stable: changing it moves in-flight runs to new sessions.')
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
@description('Flex Consumption maximumInstanceCount.')
param functionMaxInstances int = 40

@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@minValue(1)
@maxValue(600)
@description('scaleConfiguration.maxConcurrentSessions: requests beyond it get 404 from the pool.')
param sessionPoolMaxConcurrentSessions int = 20

@minValue(300)
@maxValue(3600)
@description('Idle seconds before a session is destroyed (lifecycleConfiguration.cooldownPeriodInSeconds).')
param sessionPoolCooldownSeconds int = 300

@description('Allow outbound network from sessions (needed for model calls from workflows).')
param sessionPoolEgressEnabled bool = false

@minValue(1)
@maxValue(60)
@description('AzureSession__ExecutionPollIntervalSeconds: the longest wait between execution status polls.')
param executionPollIntervalSeconds int = 10

@description('AzureSession__ApiVersion: the data-plane api-version the app sends.')
param sessionApiVersion string = '2024-10-02-preview'

@description('Also create a custom-container pool for the image built from session_image/.')
param deployCustomContainerPool bool = false

@description('Point the app at the custom-container pool instead of the code-interpreter pool (needs deployCustomContainerPool).')
param useCustomContainerPool bool = false

@description('Image of the custom-container pool, e.g. myregistry.azurecr.io/aro-session:1.')
param customContainerImage string = ''

@description('Resource id of the Azure Container Registry holding the image; the pool identity gets AcrPull on it. Empty: a public image.')
param customContainerRegistryResourceId string = ''

@description('Port the session image listens on.')
param customContainerTargetPort int = 8080

@description('CPU cores per custom-container session, e.g. 0.5, 1.0, 2.0.')
param customContainerCpu string = '1.0'

@description('Memory per custom-container session, e.g. 2Gi (must match the CPU ratio).')
param customContainerMemory string = '2Gi'

@minValue(0)
@maxValue(600)
@description('Warm sessions kept in the custom-container pool (billed while idle).')
param readySessionInstances int = 1

@description('Use a Durable Task Scheduler (low-latency backend) instead of Azure Storage: creates it and switches the app to it through host.json override app settings.')
param deployDurableTaskScheduler bool = false

var tags = {
  'azd-env-name': environmentName
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'resources'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    sessionPoolLocation: !empty(sessionPoolLocation) ? sessionPoolLocation : location
    tags: tags
    principalId: principalId
    principalType: principalType
    sessionIdentifierKey: sessionIdentifierKey
    pythonVersion: pythonVersion
    functionMaxInstances: functionMaxInstances
    functionInstanceMemoryMB: functionInstanceMemoryMB
    sessionPoolMaxConcurrentSessions: sessionPoolMaxConcurrentSessions
    sessionPoolCooldownSeconds: sessionPoolCooldownSeconds
    sessionPoolEgressEnabled: sessionPoolEgressEnabled
    executionPollIntervalSeconds: executionPollIntervalSeconds
    sessionApiVersion: sessionApiVersion
    deployCustomContainerPool: deployCustomContainerPool
    useCustomContainerPool: useCustomContainerPool
    customContainerImage: customContainerImage
    customContainerRegistryResourceId: customContainerRegistryResourceId
    customContainerTargetPort: customContainerTargetPort
    customContainerCpu: customContainerCpu
    customContainerMemory: customContainerMemory
    readySessionInstances: readySessionInstances
    deployDurableTaskScheduler: deployDurableTaskScheduler
  }
}

// azd stores these in .azure/<env>/.env (`azd env get-value NAME`).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = resources.outputs.functionAppName
output FUNCTION_APP_URL string = resources.outputs.functionAppUrl
output SESSION_POOL_NAME string = resources.outputs.sessionPoolName
output SESSION_POOL_MANAGEMENT_ENDPOINT string = resources.outputs.sessionPoolManagementEndpoint
output CUSTOM_SESSION_POOL_MANAGEMENT_ENDPOINT string = resources.outputs.customSessionPoolManagementEndpoint
output APP_POOL_MANAGEMENT_ENDPOINT string = resources.outputs.appPoolManagementEndpoint
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = resources.outputs.managedIdentityClientId
output AZURE_KEY_VAULT_NAME string = resources.outputs.keyVaultName
output DURABLE_TASK_SCHEDULER_ENDPOINT string = resources.outputs.durableTaskSchedulerEndpoint
