#!/usr/bin/env bash
# Azure ML's mnist batch example flow (azureml-examples: cli/endpoints/batch/deploy-models/
# mnist-classifier/deploy-and-run.sh) with `bep` in place of `az ml`. Needs BEP_URL, BEP_KEY
# (or `bep configure`) and, to upload the local sample folder, BEP_STORAGE_CONNECTION_STRING.
# Build the model and the sample first: python -m examples.make_models (from the repo root).
set -euo pipefail
cd "$(dirname "$0")"

ENDPOINT_NAME="mnist-batch-$(tr -dc 'a-z0-9' < /dev/urandom | head -c 5 || true)"

echo "Creating batch endpoint $ENDPOINT_NAME"
bep batch-endpoint create --file endpoint.yml --name "$ENDPOINT_NAME" --query name -o tsv

echo "Creating batch deployment for endpoint $ENDPOINT_NAME (its model.path is registered)"
bep batch-deployment create --file deployment-onnx/deployment.yml \
  --endpoint-name "$ENDPOINT_NAME" --set-default --query "{name:name, model:model}" -o table

DEPLOYMENT_NAME="mnist-onnx-dpl"
echo "Invoking batch endpoint with a local folder (uploaded to workspaceblobstore first)"
JOB_NAME=$(bep batch-endpoint invoke --name "$ENDPOINT_NAME" --input sample \
  --input-type uri_folder --query name -o tsv)
echo "$JOB_NAME"

echo "Stream job progress to console"
bep job stream -n "$JOB_NAME" --query "{status:status, items:progress.items}" -o json

STATUS=$(bep job show -n "$JOB_NAME" --query status -o tsv)
echo "$STATUS"
if [[ $STATUS == "Completed" ]]; then
  echo "Job completed"
elif [[ $STATUS == "Failed" ]]; then
  echo "Job failed"
  exit 1
else
  echo "Job status not failed or completed"
  exit 2
fi

echo "Download scores to local path"
bep job download --name "$JOB_NAME" --output-name score --download-path ./ -o tsv
head -n 3 named-outputs/score/predictions.csv | cut -d, -f1-4

echo "List all jobs under the batch deployment"
bep batch-deployment list-jobs --name "$DEPLOYMENT_NAME" --endpoint-name "$ENDPOINT_NAME" \
  --query "[].name"

echo "Delete the endpoint (and its deployment)"
bep batch-endpoint delete --name "$ENDPOINT_NAME" --yes
