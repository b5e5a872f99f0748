#!/bin/sh
# azd postdeploy hook. The inbox's Event Grid subscription delivers to the app's blob webhook,
# whose key (blobs_extension) exists only once the deployed app has started. So the first
# deploy waits for that key, then turns on INBOX_EVENTS_ENABLED and provisions again, which
# creates infra/app/inbox-events.bicep. Later deploys find it on and do nothing.
set -eu
if [ "$(azd env get-value INBOX_EVENTS_ENABLED 2>/dev/null || true)" = "true" ]; then
  exit 0
fi
echo "Waiting for the app's blobs_extension key (the host creates it on start)..."
tries=0
until [ -n "$(az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" \
               --query systemKeys.blobs_extension -o tsv 2>/dev/null || true)" ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 30 ]; then
    echo "No blobs_extension key after 5 minutes: is the inbox blob trigger source=EventGrid?" >&2
    exit 1
  fi
  curl -s -o /dev/null "$SERVICE_API_BASE_URL/api/models" || true  # wakes the host
  sleep 10
done
azd env set INBOX_EVENTS_ENABLED true
azd provision --no-prompt
