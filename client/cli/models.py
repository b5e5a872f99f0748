"""`bep model ...` (az ml model): ONNX models and model folders (MLflow ones too), versioned."""

from __future__ import annotations

import click

from client import Model, load_model
from client.cli._common import SET, YES, command, confirm, overrides

group = click.Group("model", help="Register, show, list and delete models (ONNX files, folders, "
                    "MLflow folders).")
MODEL_NAME = click.option("--name", "-n", required=True, help="Name of the model.")


@command(group, "create", help="Register a model version from a local .onnx file, a local "
                               "folder (uploaded whole: AZUREML_MODEL_DIR of scoring scripts; "
                               "no-code deployments score its one .onnx file), an MLflow folder "
                               "(--type mlflow_model: onnx flavors as they are, scikit-learn "
                               "ones converted to ONNX here and checked against their "
                               "input_example), or a datastore path. With no --version, the "
                               "next integer.")
@click.option("--name", "-n", help="Name of the model (overrides the file's).")
@click.option("--version", "-v", help="Version (default: the newest version + 1).")
@click.option("--path", "-p", help="Local .onnx file or folder, or azureml://datastores/... .")
@click.option("--type", "type_", type=click.Choice(["custom_model", "mlflow_model"]),
              help="custom_model (default) or mlflow_model (a folder with an MLmodel file).")
@click.option("--description", "-d", help="Description of the model.")
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False),
              help="Local path to a model YAML file (name, version, path, description).")
@SET
def create(session, name, version, path, type_, description, file, sets):
    model = load_model(file, params_override=overrides(sets)) if file else Model()
    model.name = name or model.name
    model.version = str(version or model.version or "") or None
    model.path = path or model.path
    model.description = description or model.description
    model.type = type_ or model.type
    if not model.name or not model.path:
        raise click.UsageError("a model needs --name and --path (or a file giving them)")
    return session.client.models.create_or_update(model)


@command(group, "show", help="Show a model version (the newest one with --label latest or no "
                             "--version).")
@MODEL_NAME
@click.option("--version", "-v", help="Version to show.")
@click.option("--label", "-l", type=click.Choice(["latest"]), help="Show the newest version.")
def show(session, name, version, label):
    return session.client.models.get(name, version, label=label)


@command(group, "list", help="List model versions (of one model with --name).")
@click.option("--name", "-n", help="Only this model's versions.")
def list_(session, name):
    return session.client.models.list(name)


@command(group, "delete", help="Delete a model version (refused while a deployment uses it).")
@MODEL_NAME
@click.option("--version", "-v", required=True, help="Version to delete.")
@YES
def delete(session, name, version, yes):
    confirm(f"delete model {name}:{version}", yes)
    session.client.models.delete(name, version)
