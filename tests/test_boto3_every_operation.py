"""Every operation lambdactl implements, called through boto3 against `lambdactl serve`: each
answers with a shape botocore parses, and each has an error path that maps to its exception."""

from __future__ import annotations

import json

from lambdactl.cli._spec import implemented_operations

from .helpers import ROLE, make_zip

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_every_operation(lam) -> None:
    called: set[str] = set()
    lam.meta.events.register("before-call.lambda", lambda model, **kw: called.add(model.name))

    layer = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": make_zip({"python/lib.py": "X = 1\n"})})
    lam.get_layer_version(LayerName="lib", VersionNumber=1)
    lam.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])
    lam.list_layers()
    lam.list_layer_versions(LayerName="lib")
    lam.add_layer_version_permission(LayerName="lib", VersionNumber=1, StatementId="s", Action="lambda:GetLayerVersion", Principal="*")
    lam.get_layer_version_policy(LayerName="lib", VersionNumber=1)
    lam.remove_layer_version_permission(LayerName="lib", VersionNumber=1, StatementId="s")

    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return e\n"})}, Layers=[layer["LayerVersionArn"]])
    lam.get_function(FunctionName="f")
    lam.get_function_configuration(FunctionName="f")
    lam.list_functions()
    lam.update_function_configuration(FunctionName="f", Timeout=5)
    lam.update_function_code(FunctionName="f", ZipFile=make_zip({"app.py": "def handler(e, c):\n    return [e]\n"}))
    assert json.loads(lam.invoke(FunctionName="f", Payload=b'{"a": 1}')["Payload"].read()) == [{"a": 1}]
    version = lam.publish_version(FunctionName="f")["Version"]
    lam.list_versions_by_function(FunctionName="f")
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion=version)
    lam.get_alias(FunctionName="f", Name="live")
    lam.update_alias(FunctionName="f", Name="live", Description="d")
    lam.list_aliases(FunctionName="f")
    lam.add_permission(FunctionName="f", StatementId="s", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    lam.get_policy(FunctionName="f")
    lam.remove_permission(FunctionName="f", StatementId="s")
    lam.tag_resource(Resource=ARN, Tags={"k": "v"})
    lam.list_tags(Resource=ARN)
    lam.untag_resource(Resource=ARN, TagKeys=["k"])
    lam.get_account_settings()

    assert lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=10)["ReservedConcurrentExecutions"] == 10
    assert lam.get_function_concurrency(FunctionName="f")["ReservedConcurrentExecutions"] == 10
    lam.put_provisioned_concurrency_config(FunctionName="f", Qualifier="live", ProvisionedConcurrentExecutions=1)
    lam.get_provisioned_concurrency_config(FunctionName="f", Qualifier="live")
    assert len(lam.list_provisioned_concurrency_configs(FunctionName="f")["ProvisionedConcurrencyConfigs"]) == 1
    lam.delete_provisioned_concurrency_config(FunctionName="f", Qualifier="live")
    lam.delete_function_concurrency(FunctionName="f")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="f")

    q = "arn:aws:sqs:us-east-1:123456789012:failures"
    put = lam.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": q}})
    assert put["FunctionArn"] == ARN + ":$LATEST" and put["MaximumRetryAttempts"] == 1
    assert lam.update_function_event_invoke_config(FunctionName="f", MaximumEventAgeInSeconds=600)["MaximumEventAgeInSeconds"] == 600
    assert lam.get_function_event_invoke_config(FunctionName="f")["DestinationConfig"]["OnFailure"]["Destination"] == q
    assert len(lam.list_function_event_invoke_configs(FunctionName="f")["FunctionEventInvokeConfigs"]) == 1
    lam.delete_function_event_invoke_config(FunctionName="f")

    url = lam.create_function_url_config(FunctionName="f", AuthType="NONE", Cors={"AllowOrigins": ["*"]})
    assert url["FunctionUrl"].startswith("http://")
    lam.get_function_url_config(FunctionName="f")
    lam.update_function_url_config(FunctionName="f", AuthType="AWS_IAM")
    assert len(lam.list_function_url_configs(FunctionName="f")["FunctionUrlConfigs"]) == 1
    lam.delete_function_url_config(FunctionName="f")

    lam.delete_alias(FunctionName="f", Name="live")
    lam.delete_function(FunctionName="f", Qualifier=version)
    lam.delete_layer_version(LayerName="lib", VersionNumber=1)
    lam.delete_function(FunctionName="f")
    assert set(implemented_operations()) <= called, set(implemented_operations()) - called


def test_error_paths_map_to_botocore_exceptions(lam) -> None:
    e = lam.exceptions
    cases = [
        (e.ResourceNotFoundException, lambda: lam.get_alias(FunctionName="ghost", Name="x")),
        (e.ResourceNotFoundException, lambda: lam.get_layer_version(LayerName="ghost", VersionNumber=1)),
        (e.ResourceNotFoundException, lambda: lam.get_policy(FunctionName="ghost")),
        (e.ResourceNotFoundException, lambda: lam.get_function_event_invoke_config(FunctionName="ghost")),
        (e.ResourceNotFoundException, lambda: lam.get_function_url_config(FunctionName="ghost")),
        (e.ResourceNotFoundException, lambda: lam.list_versions_by_function(FunctionName="ghost")),
        (e.ResourceNotFoundException, lambda: lam.put_function_concurrency(FunctionName="ghost", ReservedConcurrentExecutions=1)),
    ]
    for exc, call in cases:
        try:
            call()
        except exc as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        else:
            raise AssertionError(f"{call} did not raise {exc}")
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip()})
    for exc, call in [
        (e.ResourceConflictException, lambda: lam.create_function_url_config(FunctionName="f", AuthType="NONE") and lam.create_function_url_config(FunctionName="f", AuthType="NONE")),
        (e.InvalidParameterValueException, lambda: lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=1000)),
        (e.InvalidParameterValueException, lambda: lam.put_provisioned_concurrency_config(FunctionName="f", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)),
        (e.ProvisionedConcurrencyConfigNotFoundException, lambda: lam.publish_version(FunctionName="f") and lam.get_provisioned_concurrency_config(FunctionName="f", Qualifier="1")),
        (e.InvalidParameterValueException, lambda: lam.put_function_event_invoke_config(FunctionName="f", DestinationConfig={"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}})),
        (e.PreconditionFailedException, lambda: lam.add_permission(FunctionName="f", StatementId="s", Action="lambda:InvokeFunction", Principal="*", RevisionId="stale")),
    ]:
        try:
            call()
        except exc:
            pass
        else:
            raise AssertionError(f"{call} did not raise {exc}")
