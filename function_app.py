"""The function app: one FunctionApp, the blueprints it is made of, nothing else."""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
