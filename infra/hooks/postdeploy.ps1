# azd postdeploy hook (Windows); the same steps as postdeploy.sh.
$ErrorActionPreference = 'Stop'
if ((azd env get-value INBOX_EVENTS_ENABLED 2>$null) -eq 'true') { exit 0 }
Write-Host "Waiting for the app's blobs_extension key (the host creates it on start)..."
for ($i = 0; $i -le 30; $i++) {
  $key = az functionapp keys list -g $env:AZURE_RESOURCE_GROUP -n $env:AZURE_FUNCTION_APP_NAME `
           --query systemKeys.blobs_extension -o tsv 2>$null
  if ($key) { break }
  if ($i -eq 30) { throw 'No blobs_extension key after 5 minutes: is the inbox blob trigger source=EventGrid?' }
  try { Invoke-WebRequest -Uri "$env:SERVICE_API_BASE_URL/api/models" -SkipHttpErrorCheck | Out-Null } catch {}
  Start-Sleep -Seconds 10
}
azd env set INBOX_EVENTS_ENABLED true
azd provision --no-prompt
