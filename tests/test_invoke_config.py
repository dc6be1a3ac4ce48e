"""Asynchronous invocation configuration on the library: shapes, put vs update, every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdactl.service import Service
from lambdactl.service.invoke_config import event_invoke_config

from .conftest import create, error_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function"
SQS = "arn:aws:sqs:us-east-1:123456789012:q"
SNS = "arn:aws:sns:us-east-1:123456789012:t"
EMPTY = {"OnSuccess": {}, "OnFailure": {}}


@pytest.fixture
def fn(svc: Service) -> Service:
    create(svc, "f", Publish=True)
    svc.clock = lambda: 1_573_686_021.4791
    return svc


def test_put_get_list_delete(fn: Service) -> None:
    out = fn.call(
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": SQS}}},
    )
    assert out == {
        "LastModified": 1573686021.479,
        "FunctionArn": f"{ARN}:f:$LATEST",
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": SQS}},
    }
    assert fn.call("GetFunctionEventInvokeConfig", {"FunctionName": "f"}) == out
    assert fn.call("GetFunctionEventInvokeConfig", {"FunctionName": "f", "Qualifier": "$LATEST"}) == out
    assert event_invoke_config(fn, "f", None) == out
    version = fn.call("PutFunctionEventInvokeConfig", {"FunctionName": f"{ARN}:f:1", "MaximumEventAgeInSeconds": 120})
    assert version == {
        "LastModified": 1573686021.479,
        "FunctionArn": f"{ARN}:f:1",
        "MaximumEventAgeInSeconds": 120,
        "DestinationConfig": EMPTY,
    }
    assert event_invoke_config(fn, "f", "1") == version
    listed = fn.call("ListFunctionEventInvokeConfigs", {"FunctionName": "f"})
    assert listed == {"FunctionEventInvokeConfigs": [out, version]}
    assert fn.call("DeleteFunctionEventInvokeConfig", {"FunctionName": "f"}) == {}
    assert event_invoke_config(fn, "f", None) is None
    assert fn.call("ListFunctionEventInvokeConfigs", {"FunctionName": "f"}) == {"FunctionEventInvokeConfigs": [version]}
    assert fn.call("DeleteFunctionEventInvokeConfig", {"FunctionName": "f:1"}) == {}
    assert fn.call("ListFunctionEventInvokeConfigs", {"FunctionName": "f"}) == {"FunctionEventInvokeConfigs": []}


def test_put_replaces_and_update_merges(fn: Service) -> None:
    fn.call(
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60,
         "DestinationConfig": {"OnSuccess": {"Destination": SNS}, "OnFailure": {"Destination": SQS}}},
    )
    fn.clock = lambda: 1_600_000_000.0
    updated = fn.call(
        "UpdateFunctionEventInvokeConfig",
        {"FunctionName": "f", "MaximumRetryAttempts": 0, "DestinationConfig": {"OnSuccess": {}}},
    )
    assert updated == {
        "LastModified": 1600000000.0,
        "FunctionArn": f"{ARN}:f:$LATEST",
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 60,
        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": SQS}},
    }
    replaced = fn.call("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 0})
    assert replaced == {
        "LastModified": 1600000000.0,
        "FunctionArn": f"{ARN}:f:$LATEST",
        "MaximumRetryAttempts": 0,
        "DestinationConfig": EMPTY,
    }


def test_every_kind_of_destination(fn: Service) -> None:
    create(fn, "target")
    accepted = {
        "OnSuccess": [SQS, SNS, f"{ARN}:target", f"{ARN}:target:$LATEST",
                      "arn:aws:events:us-east-1:123456789012:event-bus/default", ""],
        "OnFailure": [SQS, SNS, f"{ARN}:target", "arn:aws:events:us-east-1:123456789012:event-bus/b",
                      "arn:aws:s3:::bucket"],
    }
    for kind, arns in accepted.items():
        for dest in arns:
            out = fn.call("PutFunctionEventInvokeConfig", {"FunctionName": "f", "DestinationConfig": {kind: {"Destination": dest}}})
            assert out["DestinationConfig"][kind] == ({"Destination": dest} if dest else {})


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        ({}, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting."),
        ({"MaximumRetryAttempts": 3}, "ValidationException", "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"),
        ({"MaximumRetryAttempts": -1}, "ValidationException", "Value '-1' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"),
        ({"MaximumEventAgeInSeconds": 59}, "ValidationException", "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"),
        ({"MaximumEventAgeInSeconds": 21601}, "ValidationException", "Member must have value less than or equal to 21600"),
        ({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:_-/!lambda:us-east-1:123456789012:function:f"}}}, "ValidationException", "1 validation error detected: Value 'arn:aws:_-/!lambda:us-east-1:123456789012:function:f' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)"),
        ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:" + "q" * 320}}}, "ValidationException", "Member must have length less than or equal to 350"),
        ({"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 1}, "ValidationException", "2 validation errors detected: "),
        ({"DestinationConfig": {"OnSuccess": {"Destination": f"{ARN}:doesnotexist"}}}, "InvalidParameterValueException", f"The destination ARN {ARN}:doesnotexist is invalid."),
        ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:lambda:eu-west-1:123456789012:function:f2"}}}, "InvalidParameterValueException", "The destination ARN arn:aws:lambda:eu-west-1:123456789012:function:f2 is invalid."),
        ({"DestinationConfig": {"OnFailure": {"Destination": f"{ARN}:f"}}}, "InvalidParameterValueException", "You can't specify the function as a destination for itself."),
        ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:iam:us-east-1:123456789012:function:f"}}}, "InvalidParameterValueException", "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:iam:us-east-1:123456789012:function:f), onFailure=null) is invalid."),
        ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}, "OnFailure": {"Destination": SQS}}}, "InvalidParameterValueException", f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:s3:::bucket), onFailure=OnFailure(destination={SQS})) is invalid."),
        ({"FunctionName": "nope", "MaximumRetryAttempts": 1}, "ResourceNotFoundException", "The function doesn't exist."),
        ({"FunctionName": f"{ARN}:nope", "MaximumRetryAttempts": 1}, "ResourceNotFoundException", "The function doesn't exist."),
        ({"Qualifier": "2", "MaximumRetryAttempts": 1}, "ResourceNotFoundException", "The function doesn't exist."),
        ({"Qualifier": "noalias", "MaximumRetryAttempts": 1}, "ResourceNotFoundException", "The function doesn't exist."),
        ({"FunctionName": "f:1", "Qualifier": "$LATEST", "MaximumRetryAttempts": 1}, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."),
        ({"Qualifier": "bad qualifier", "MaximumRetryAttempts": 1}, "ValidationException", "at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern"),
    ],
)
@pytest.mark.parametrize("op", ["PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig"])
def test_put_and_update_errors(fn: Service, op: str, request_: dict, code: str, message: str) -> None:
    if op == "UpdateFunctionEventInvokeConfig":
        fn.call("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 2})
    err = error_of(fn, op, {"FunctionName": "f", **request_})
    assert err.code == code
    assert message in err.message
    assert err.status == (404 if code == "ResourceNotFoundException" else 400)
    stored = fn.conn.execute("SELECT config FROM event_invoke_configs").fetchall()
    assert stored == ([] if op.startswith("Put") else [('{"MaximumRetryAttempts": 2}',)])


@pytest.mark.parametrize(
    ("op", "request_", "message"),
    [
        ("GetFunctionEventInvokeConfig", {"FunctionName": "f"}, f"The function {ARN}:f:$LATEST doesn't have an EventInvokeConfig"),
        ("GetFunctionEventInvokeConfig", {"FunctionName": "f", "Qualifier": "1221"}, f"The function {ARN}:f:1221 doesn't have an EventInvokeConfig"),
        ("GetFunctionEventInvokeConfig", {"FunctionName": "nope"}, f"The function {ARN}:nope:$LATEST doesn't have an EventInvokeConfig"),
        ("GetFunctionEventInvokeConfig", {"FunctionName": "f", "Qualifier": "live"}, f"The function {ARN}:f:live doesn't have an EventInvokeConfig"),
        ("DeleteFunctionEventInvokeConfig", {"FunctionName": "f"}, f"The function {ARN}:f:$LATEST doesn't have an EventInvokeConfig"),
        ("DeleteFunctionEventInvokeConfig", {"FunctionName": "nope"}, f"The function {ARN}:nope:$LATEST doesn't have an EventInvokeConfig"),
        ("UpdateFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 1}, f"The function {ARN}:f:$LATEST doesn't have an EventInvokeConfig"),
        ("UpdateFunctionEventInvokeConfig", {"FunctionName": "f", "Qualifier": "1", "MaximumRetryAttempts": 1}, f"The function {ARN}:f:1 doesn't have an EventInvokeConfig"),
        ("ListFunctionEventInvokeConfigs", {"FunctionName": "nope"}, "The function doesn't exist."),
    ],
)
def test_not_found(fn: Service, op: str, request_: dict, message: str) -> None:
    err = error_of(fn, op, request_)
    assert (err.code, err.status, err.message) == ("ResourceNotFoundException", 404, message)


def test_list_pages_and_limits(fn: Service) -> None:
    fn.call("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 0})
    fn.call("PutFunctionEventInvokeConfig", {"FunctionName": "f", "Qualifier": "1", "MaximumRetryAttempts": 1})
    first = fn.call("ListFunctionEventInvokeConfigs", {"FunctionName": "f", "MaxItems": 1})
    assert [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"]] == [f"{ARN}:f:$LATEST"]
    rest = fn.call("ListFunctionEventInvokeConfigs", {"FunctionName": "f", "Marker": first["NextMarker"]})
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [f"{ARN}:f:1"]
    assert "NextMarker" not in rest
    err = error_of(fn, "ListFunctionEventInvokeConfigs", {"FunctionName": "f", "MaxItems": 0})
    assert "Member must have value greater than or equal to 1" in err.message


def test_delete_function_drops_event_invoke_configs(fn: Service) -> None:
    fn.call("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 0})
    fn.call("DeleteFunction", {"FunctionName": "f"})
    create(fn, "f")
    assert fn.call("ListFunctionEventInvokeConfigs", {"FunctionName": "f"}) == {"FunctionEventInvokeConfigs": []}


def test_cli_prints_modelled_timestamps_as_iso_8601(home: Path, zip_path: Path) -> None:
    # The API sends epoch seconds; the AWS CLI v2 prints them as ISO 8601 (and --query sees that).
    import re

    from .helpers import create_args, run_cli

    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    put = run_cli("put-function-event-invoke-config", "--function-name", "f", "--maximum-retry-attempts", "1", home=home)
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00"
    assert re.fullmatch(iso, put.json["LastModified"]), put.stdout
    listed = run_cli("list-function-event-invoke-configs", "--function-name", "f",
                     "--query", "FunctionEventInvokeConfigs[0].LastModified", "--output", "text", home=home)
    assert listed.stdout.strip() == put.json["LastModified"]
    # A function's LastModified is a string in the model, printed as the service wrote it.
    config = run_cli("get-function-configuration", "--function-name", "f", home=home).json
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", config["LastModified"])
