"""Concurrency, async invocation and URL commands through the installed console script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import create_args, run_cli

ARN = "arn:aws:lambda:us-east-1:123456789012:function"
SQS = "arn:aws:sqs:us-east-1:123456789012:q"


@pytest.fixture
def made(home: Path, zip_path: Path) -> Path:
    r = run_cli(*create_args("f", zip_path, "--publish"), home=home)
    assert r.code == 0, r.stderr
    return home


def test_reserved_concurrency_round_trip(made: Path) -> None:
    r = run_cli("put-function-concurrency", "--function-name", "f", "--reserved-concurrent-executions", "10", home=made)
    assert (r.code, r.json) == (0, {"ReservedConcurrentExecutions": 10}), r.stderr
    r = run_cli("get-function-concurrency", "--function-name", "f", home=made)
    assert (r.code, r.json) == (0, {"ReservedConcurrentExecutions": 10})
    assert run_cli("get-function", "--function-name", "f", "--query", "Concurrency", home=made).json == {"ReservedConcurrentExecutions": 10}
    r = run_cli("get-account-settings", "--query", "AccountLimit.UnreservedConcurrentExecutions", home=made)
    assert r.json == 990
    r = run_cli("put-function-concurrency", "--function-name", "f", "--reserved-concurrent-executions", "901", home=made)
    assert r.code == 254
    assert r.stderr.strip() == (
        "An error occurred (InvalidParameterValueException) when calling the PutFunctionConcurrency operation: "
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100]."
    )
    r = run_cli("put-function-concurrency", "--function-name", "f", home=made)
    assert r.code == 252
    assert "--reserved-concurrent-executions" in r.stderr
    r = run_cli("put-function-concurrency", "--function-name", "f", "--reserved-concurrent-executions", "many", home=made)
    assert r.code == 252
    r = run_cli("delete-function-concurrency", "--function-name", "f", home=made)
    assert (r.code, r.stdout) == (0, "")
    assert run_cli("get-function-concurrency", "--function-name", "f", home=made).stdout == ""


def test_provisioned_concurrency_round_trip(made: Path) -> None:
    r = run_cli("put-provisioned-concurrency-config", "--function-name", "f", "--qualifier", "1",
                "--provisioned-concurrent-executions", "2", home=made)
    assert r.code == 0, r.stderr
    assert r.json["Status"] == "READY" and r.json["RequestedProvisionedConcurrentExecutions"] == 2
    r = run_cli("list-provisioned-concurrency-configs", "--function-name", "f", "--query",
                "ProvisionedConcurrencyConfigs[].FunctionArn", home=made)
    assert r.json == [f"{ARN}:f:1"]
    r = run_cli("put-provisioned-concurrency-config", "--function-name", "f", "--qualifier", "$LATEST",
                "--provisioned-concurrent-executions", "2", home=made)
    assert r.code == 254
    assert "Provisioned Concurrency Configs cannot be applied to unpublished function versions." in r.stderr
    r = run_cli("get-provisioned-concurrency-config", "--function-name", "f", home=made)
    assert r.code == 252  # --qualifier is required
    assert run_cli("delete-provisioned-concurrency-config", "--function-name", "f", "--qualifier", "1", home=made).code == 0
    r = run_cli("get-provisioned-concurrency-config", "--function-name", "f", "--qualifier", "1", home=made)
    assert r.code == 254
    assert "(ProvisionedConcurrencyConfigNotFoundException)" in r.stderr


def test_event_invoke_config_round_trip(made: Path) -> None:
    r = run_cli("put-function-event-invoke-config", "--function-name", "f", "--maximum-retry-attempts", "1",
                "--destination-config", '{"OnFailure":{"Destination":"' + SQS + '"}}', home=made)
    assert r.code == 0, r.stderr
    assert r.json["FunctionArn"] == f"{ARN}:f:$LATEST"
    assert r.json["MaximumRetryAttempts"] == 1
    assert r.json["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": SQS}}
    # Epoch seconds on the wire; printed in ISO 8601 as the AWS CLI v2 does.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", r.json["LastModified"])
    r = run_cli("update-function-event-invoke-config", "--function-name", "f", "--maximum-event-age-in-seconds", "60", home=made)
    assert (r.code, r.json["MaximumRetryAttempts"], r.json["MaximumEventAgeInSeconds"]) == (0, 1, 60)
    r = run_cli("put-function-event-invoke-config", "--function-name", "f", "--qualifier", "1",
                "--destination-config", f"OnSuccess={{Destination={SQS}}}", home=made)
    assert r.code == 0, r.stderr
    assert r.json["DestinationConfig"]["OnSuccess"] == {"Destination": SQS}
    got = run_cli("get-function-event-invoke-config", "--function-name", "f", "--qualifier", "1", home=made)
    assert got.json == r.json
    # Paginated: --max-items stops early with a NextToken, the next call resumes from it.
    first = run_cli("list-function-event-invoke-configs", "--function-name", "f", "--max-items", "1", home=made).json
    assert [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"]] == [f"{ARN}:f:$LATEST"]
    rest = run_cli("list-function-event-invoke-configs", "--function-name", "f", "--starting-token", first["NextToken"], home=made).json
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [f"{ARN}:f:1"]
    merged = run_cli("list-function-event-invoke-configs", "--function-name", "f", "--page-size", "1", home=made).json
    assert len(merged["FunctionEventInvokeConfigs"]) == 2 and "NextToken" not in merged
    r = run_cli("put-function-event-invoke-config", "--function-name", "f", "--maximum-retry-attempts", "3", home=made)
    assert r.code == 254
    assert "(ValidationException)" in r.stderr and "at 'maximumRetryAttempts'" in r.stderr
    r = run_cli("put-function-event-invoke-config", "--function-name", "f", home=made)
    assert r.code == 254
    assert "You must specify at least one of error handling or destination setting." in r.stderr
    r = run_cli("put-function-event-invoke-config", "--function-name", "f", "--destination-config", "{not json", home=made)
    assert r.code == 252
    assert run_cli("delete-function-event-invoke-config", "--function-name", "f", home=made).code == 0
    r = run_cli("get-function-event-invoke-config", "--function-name", "f", home=made)
    assert r.code == 254
    assert f"The function {ARN}:f:$LATEST doesn't have an EventInvokeConfig" in r.stderr


def test_function_url_round_trip(made: Path) -> None:
    r = run_cli("create-function-url-config", "--function-name", "f", "--auth-type", "NONE", "--cors", "AllowOrigins=*", home=made)
    assert r.code == 0, r.stderr
    url = r.json["FunctionUrl"]
    assert url.startswith("http://") and url.endswith(".lambda-url.us-east-1.localhost:9001/")
    assert r.json["Cors"] == {"AllowOrigins": ["*"]}
    r = run_cli("create-function-url-config", "--function-name", "f", "--auth-type", "NONE", home=made)
    assert r.code == 254
    assert "(ResourceConflictException)" in r.stderr
    assert run_cli("create-function-url-config", "--function-name", "f", home=made).code == 252
    r = run_cli("update-function-url-config", "--function-name", "f", "--auth-type", "AWS_IAM",
                "--cors", "AllowMethods=GET,POST,MaxAge=300", home=made)
    assert r.code == 0, r.stderr
    assert (r.json["FunctionUrl"], r.json["AuthType"]) == (url, "AWS_IAM")
    assert r.json["Cors"] == {"AllowMethods": ["GET", "POST"], "MaxAge": 300}
    r = run_cli("get-function-url-config", "--function-name", "f", "--output", "text", "--query", "[AuthType,InvokeMode]", home=made)
    assert r.stdout.split() == ["AWS_IAM", "BUFFERED"]
    r = run_cli("get-function-url-config", "--function-name", "f", "--qualifier", "1", home=made)
    assert r.code == 254
    assert "(ValidationException)" in r.stderr
    assert run_cli("list-function-url-configs", "--function-name", "f", "--query", "FunctionUrlConfigs[].FunctionUrl", home=made).json == [url]
    assert run_cli("delete-function-url-config", "--function-name", "f", home=made).stdout == ""
    r = run_cli("get-function-url-config", "--function-name", "f", home=made)
    assert r.code == 254
    assert "The resource you requested does not exist." in r.stderr


def test_delete_function_takes_its_configuration(made: Path, zip_path: Path) -> None:
    assert run_cli("put-function-concurrency", "--function-name", "f", "--reserved-concurrent-executions", "5", home=made).code == 0
    assert run_cli("create-function-url-config", "--function-name", "f", "--auth-type", "NONE", home=made).code == 0
    assert run_cli("delete-function", "--function-name", "f", home=made).code == 0
    assert run_cli(*create_args("f", zip_path), home=made).code == 0
    assert run_cli("get-function-concurrency", "--function-name", "f", home=made).stdout == ""
    assert run_cli("list-function-url-configs", "--function-name", "f", home=made).json == {"FunctionUrlConfigs": []}
    assert run_cli("get-account-settings", "--query", "AccountLimit.UnreservedConcurrentExecutions", home=made).json == 1000
