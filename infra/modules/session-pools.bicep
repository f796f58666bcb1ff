// Dynamic Sessions pools: the built-in Python code-interpreter pool (always) and, optionally,
// a custom-container pool running the image built from session_image/. The app identity gets
// "Azure ContainerApps Session Executor" on each pool: without it the data plane answers 403.

param location string
param tags object = {}
param resourceToken string

@description('Principal that calls the pool data plane (the app identity).')
param executorPrincipalId string

@description('Optional second principal (the deploying user, for tests/azure). Empty: none.')
param extraExecutorPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param extraExecutorPrincipalType string = 'User'

@minValue(1)
@maxValue(600)
param maxConcurrentSessions int = 20

@minValue(300)
@maxValue(3600)
param cooldownSeconds int = 300

param egressEnabled bool = false

param deployCustomContainerPool bool = false
param customContainerImage string = ''
param customContainerRegistryResourceId string = ''
param customContainerTargetPort int = 8080
param customContainerCpu string = '1.0'
param customContainerMemory string = '2Gi'

@minValue(0)
@maxValue(600)
param readySessionInstances int = 1

@description('Log Analytics workspace for the custom-container environment logs.')
param logAnalyticsName string

// Built-in role: Azure ContainerApps Session Executor (data-plane: executions, files, sessions).
var sessionExecutorRoleId = '0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0'
var networkStatus = egressEnabled ? 'EgressEnabled' : 'EgressDisabled'
var lifecycle = {
  lifecycleType: 'Timed'
  cooldownPeriodInSeconds: cooldownSeconds
}

resource codeInterpreterPool 'Microsoft.App/sessionPools@2025-07-01' = {
  name: 'sp-py-${resourceToken}'
  location: location
  tags: tags
  properties: {
    poolManagementType: 'Dynamic'
    containerType: 'PythonLTS'
    scaleConfiguration: {
      maxConcurrentSessions: maxConcurrentSessions
    }
    dynamicPoolConfiguration: {
      lifecycleConfiguration: lifecycle
    }
    sessionNetworkConfiguration: {
      status: networkStatus
    }
  }
}

resource codeInterpreterExecutor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(codeInterpreterPool.id, executorPrincipalId, sessionExecutorRoleId)
  scope: codeInterpreterPool
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', sessionExecutorRoleId)
    principalId: executorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource codeInterpreterExtraExecutor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(extraExecutorPrincipalId)) {
  name: guid(codeInterpreterPool.id, extraExecutorPrincipalId, sessionExecutorRoleId)
  scope: codeInterpreterPool
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', sessionExecutorRoleId)
    principalId: extraExecutorPrincipalId
    principalType: extraExecutorPrincipalType
  }
}

// --- optional custom-container pool ------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

// A separate identity that can only pull the image: session code is untrusted, so it must
// never be able to obtain a token of the app identity (lifecycle 'None' below as well).
resource pullIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (deployCustomContainerPool) {
  name: 'id-pull-${resourceToken}'
  location: location
  tags: tags
}

module acrPull 'acr-pull.bicep' = if (deployCustomContainerPool && !empty(customContainerRegistryResourceId)) {
  name: 'acrPull-${resourceToken}'
  scope: resourceGroup(split(customContainerRegistryResourceId, '/')[2], split(customContainerRegistryResourceId, '/')[4])
  params: {
    registryName: last(split(customContainerRegistryResourceId, '/'))
    principalId: pullIdentity!.properties.principalId
  }
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = if (deployCustomContainerPool) {
  name: 'cae-${resourceToken}'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

// Pull with the pool identity from a private registry; nothing for a public image.
var registryCredentials = empty(customContainerRegistryResourceId)
  ? {}
  : {
      registryCredentials: {
        server: '${toLower(last(split(customContainerRegistryResourceId, '/')))}.azurecr.io'
        identity: pullIdentity.id
      }
    }

resource customPool 'Microsoft.App/sessionPools@2025-07-01' = if (deployCustomContainerPool) {
  name: 'sp-custom-${resourceToken}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${pullIdentity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    poolManagementType: 'Dynamic'
    containerType: 'CustomContainer'
    scaleConfiguration: {
      maxConcurrentSessions: maxConcurrentSessions
      readySessionInstances: readySessionInstances
    }
    dynamicPoolConfiguration: {
      lifecycleConfiguration: lifecycle
    }
    sessionNetworkConfiguration: {
      status: networkStatus
    }
    customContainerTemplate: union({
      containers: [
        {
          name: 'session'
          image: customContainerImage
          resources: {
            cpu: json(customContainerCpu)
            memory: customContainerMemory
          }
        }
      ]
      ingress: {
        targetPort: customContainerTargetPort
      }
    }, registryCredentials)
    managedIdentitySettings: [
      {
        identity: pullIdentity.id
        lifecycle: 'None'
      }
    ]
  }
  dependsOn: [
    acrPull
  ]
}

resource customExecutor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (deployCustomContainerPool) {
  name: guid(customPool.id, executorPrincipalId, sessionExecutorRoleId)
  scope: customPool
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', sessionExecutorRoleId)
    principalId: executorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource customExtraExecutor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (deployCustomContainerPool && !empty(extraExecutorPrincipalId)) {
  name: guid(customPool.id, extraExecutorPrincipalId, sessionExecutorRoleId)
  scope: customPool
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', sessionExecutorRoleId)
    principalId: extraExecutorPrincipalId
    principalType: extraExecutorPrincipalType
  }
}

output codeInterpreterPoolName string = codeInterpreterPool.name
output codeInterpreterPoolManagementEndpoint string = codeInterpreterPool.properties.poolManagementEndpoint
output customPoolManagementEndpoint string = deployCustomContainerPool ? customPool!.properties.poolManagementEndpoint : ''
output pullIdentityPrincipalId string = deployCustomContainerPool ? pullIdentity!.properties.principalId : ''
