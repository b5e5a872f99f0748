"""The function app: one FunctionApp and the blueprints it is made of, nothing else.

    blueprints/resources_api.py   HTTP  models, datastores (and their files), endpoints, deployments
    blueprints/data_api.py        HTTP  data assets (versions naming where data is)
    blueprints/jobs_api.py        HTTP  invoke, jobs, outputs, cancel, logs
    blueprints/preview_api.py     HTTP  preview: a deployment scores sample files at once
    blueprints/pipeline.py        queue plan → score → aggregate (+ poison queues)
    blueprints/events.py          queue job-ended CloudEvents out
    blueprints/drops.py           blob  inbox drops; Event Grid BlobCreated; quiet-window checks
    blueprints/openapi_api.py     HTTP  the OpenAPI document and its readable page
    blueprints/studio.py          HTTP  the Studio web page (studio/)
"""

import azure.functions as func

from blueprints import (
    data_api,
    drops,
    events,
    jobs_api,
    openapi_api,
    pipeline,
    preview_api,
    resources_api,
    studio,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(resources_api.bp)
app.register_functions(data_api.bp)
app.register_functions(jobs_api.bp)
app.register_functions(preview_api.bp)
app.register_functions(pipeline.bp)
app.register_functions(events.bp)
app.register_functions(drops.bp)
app.register_functions(openapi_api.bp)
app.register_functions(studio.bp)
