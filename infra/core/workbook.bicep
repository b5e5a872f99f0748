// An Azure Monitor workbook on the app's Application Insights: the questions of
// docs/operations.md as a page — pick a job (its name) and see where its time went and which
// mini-batches failed; throughput per deployment over a time range. The queries read the
// spans and attributes shared/telemetry.py sends (batch.job, batch.endpoint, ...).
param name string
param location string
param tags object = {}
param applicationInsightsName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var jobTrace = '''
let trace = toscalar(requests | where customDimensions["batch.job"] == "{Job}"
                     | summarize take_any(operation_Id));
'''

var whereTimeWent = '''
union requests, dependencies
| where operation_Id == trace
| summarize spans = count(), total_s = round(sum(duration) / 1000, 1),
            p50_ms = percentile(duration, 50), p95_ms = percentile(duration, 95),
            max_ms = max(duration) by name
| order by total_s desc
'''

var failedMiniBatches = '''
requests
| where operation_Id == trace and name == "score mini-batch"
| extend mini_batch = toint(customDimensions["batch.mini_batch"]),
         items = toint(customDimensions["batch.items"]),
         failed = toint(customDimensions["batch.items_failed"])
| where failed > 0 or success == false
| join kind=leftouter (
    union exceptions, (traces | where severityLevel >= 2)
    | where operation_Id == trace
    | project operation_ParentId, problem = coalesce(outerMessage, message)
  ) on $left.id == $right.operation_ParentId
| project timestamp, mini_batch, items, failed, success, problem, cloud_RoleInstance
| order by mini_batch asc
'''

var throughput = '''
requests
| where name == "score mini-batch"
| extend deployment = strcat(tostring(customDimensions["batch.endpoint"]), "/",
                             tostring(customDimensions["batch.deployment"])),
         items = toint(customDimensions["batch.items"])
| summarize items = sum(items) by deployment, bin(timestamp, 5m)
| render timechart
'''

var componentsQuery = {
  version: 'KqlItem/1.0'
  queryType: 0
  resourceType: 'microsoft.insights/components'
  size: 0
}

var content = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      content: { json: '## Batch endpoints\nA job is one trace (docs/operations.md). Enter a job name for the first two tables.' }
      name: 'intro'
    }
    {
      type: 9
      content: {
        version: 'KqlParameterItem/1.0'
        parameters: [
          { id: 'job', version: 'KqlParameterItem/1.0', name: 'Job', type: 1, value: '' }
          {
            id: 'range'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            type: 4
            value: { durationMs: 86400000 }
          }
        ]
        style: 'pills'
        queryType: 0
        resourceType: 'microsoft.insights/components'
      }
      name: 'parameters'
    }
    {
      type: 3
      content: union(componentsQuery, {
        title: 'Why is the job slow: where its time went'
        query: '${jobTrace}${whereTimeWent}'
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      })
      name: 'where-time-went'
    }
    {
      type: 3
      content: union(componentsQuery, {
        title: 'Which mini-batches failed, and why (items: GET /jobs/{job}/errors)'
        query: '${jobTrace}${failedMiniBatches}'
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      })
      name: 'failed-mini-batches'
    }
    {
      type: 3
      content: union(componentsQuery, {
        title: 'Items scored per deployment'
        query: throughput
        timeContextFromParameter: 'TimeRange'
        visualization: 'timechart'
      })
      name: 'throughput'
    }
  ]
  fallbackResourceIds: [applicationInsights.id]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsights.id, name)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: name
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(content)
  }
}

output id string = workbook.id
