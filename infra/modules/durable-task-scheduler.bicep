// Optional Durable Task Scheduler: the low-latency Durable Functions backend (push-based
// dispatch instead of Azure Storage queue polling). resources.bicep also switches the app to
// it: app settings override host.json's durableTask.storageProvider with {"type":
// "azureManaged", "connectionStringName": "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"} and the
// extension bundle with the Preview one (see docs/azure.md).

param location string
param tags object = {}

@minLength(3)
@maxLength(64)
param schedulerName string

param taskHubName string

@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string = 'Consumption'

@description('Principal that runs orchestrations (the app identity).')
param dataContributorPrincipalId string

// Built-in role: Durable Task Data Contributor.
var durableTaskDataContributorRoleId = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: schedulerName
  location: location
  tags: tags
  properties: {
    // An empty list denies all traffic; access is controlled by Entra ID + RBAC.
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    sku: {
      name: skuName
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

resource dataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler.id, dataContributorPrincipalId, durableTaskDataContributorRoleId)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributorRoleId)
    principalId: dataContributorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
