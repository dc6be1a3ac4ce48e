"""Function URL configurations on the library: shapes, URL format, every error of the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lambdactl.service import Service
from lambdactl.service.urls import function_url, url_config_by_id
from lambdactl.settings import Settings

from .conftest import create, error_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function"
URL_RE = re.compile(r"http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:9001/")
QUALIFIER_PATTERN = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)"


@pytest.fixture
def fn(svc: Service) -> Service:
    create(svc, "f", Publish=True)
    svc.clock = lambda: 1_700_000_000.5
    return svc


def test_create_get_update_list_delete(fn: Service) -> None:
    created = fn.call("CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE"})
    assert list(created) == ["FunctionUrl", "FunctionArn", "AuthType", "CreationTime"]
    assert URL_RE.fullmatch(created["FunctionUrl"])
    assert created["FunctionArn"] == f"{ARN}:f"
    assert created["CreationTime"] == "2023-11-14T22:13:20.500000Z"
    got = fn.call("GetFunctionUrlConfig", {"FunctionName": f"{ARN}:f"})
    assert got == {**created, "LastModifiedTime": "2023-11-14T22:13:20.500000Z", "InvokeMode": "BUFFERED"}
    fn.clock = lambda: 1_700_000_100.0
    cors = {"AllowCredentials": True, "AllowHeaders": ["x-a"], "AllowMethods": ["GET", "POST"],
            "AllowOrigins": ["https://example.com"], "ExposeHeaders": ["x-b"], "MaxAge": 86400}
    updated = fn.call("UpdateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "AWS_IAM", "Cors": cors})
    assert updated == {
        "FunctionUrl": created["FunctionUrl"],  # the id is kept across updates
        "FunctionArn": f"{ARN}:f",
        "AuthType": "AWS_IAM",
        "Cors": cors,
        "CreationTime": "2023-11-14T22:13:20.500000Z",
        "LastModifiedTime": "2023-11-14T22:15:00.000000Z",
    }
    updated = fn.call("UpdateFunctionUrlConfig", {"FunctionName": "f", "InvokeMode": "RESPONSE_STREAM"})
    assert (updated["AuthType"], updated["Cors"], updated["InvokeMode"]) == ("AWS_IAM", cors, "RESPONSE_STREAM")
    listed = fn.call("ListFunctionUrlConfigs", {"FunctionName": "f"})
    assert listed == {"FunctionUrlConfigs": [{
        "FunctionUrl": created["FunctionUrl"], "FunctionArn": f"{ARN}:f",
        "CreationTime": "2023-11-14T22:13:20.500000Z", "LastModifiedTime": "2023-11-14T22:15:00.000000Z",
        "Cors": cors, "AuthType": "AWS_IAM", "InvokeMode": "RESPONSE_STREAM",
    }]}
    url_id = URL_RE.fullmatch(created["FunctionUrl"]).group(1)  # type: ignore[union-attr]
    routed = url_config_by_id(fn, url_id)
    assert routed is not None and (routed["FunctionName"], routed["Qualifier"]) == ("f", None)
    assert routed["AuthType"] == "AWS_IAM"
    assert fn.call("DeleteFunctionUrlConfig", {"FunctionName": "f"}) == {}
    assert url_config_by_id(fn, url_id) is None
    assert fn.call("ListFunctionUrlConfigs", {"FunctionName": "f"}) == {"FunctionUrlConfigs": []}
    again = fn.call("CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE", "InvokeMode": "BUFFERED"})
    assert again["FunctionUrl"] != created["FunctionUrl"]  # a new configuration gets a new URL
    assert again["InvokeMode"] == "BUFFERED"


def test_url_ids_are_distinct(svc: Service) -> None:
    urls = set()
    for i in range(20):
        create(svc, f"f{i}")
        urls.add(svc.call("CreateFunctionUrlConfig", {"FunctionName": f"f{i}", "AuthType": "NONE"})["FunctionUrl"])
    assert len(urls) == 20
    assert all(URL_RE.fullmatch(u) for u in urls)


def test_url_format_follows_server_settings(home: Path) -> None:
    service = Service(Settings(home, region="eu-west-1", config={"server": {"port": 8123, "host": "lambda.test"}}))
    assert function_url(service, "a" * 32) == f"http://{'a' * 32}.lambda-url.eu-west-1.lambda.test:8123/"
    for address in ("127.0.0.1", "0.0.0.0", "::1", "[::1]"):
        service.settings.config["server"]["host"] = address
        assert function_url(service, "b" * 32) == f"http://{'b' * 32}.lambda-url.eu-west-1.localhost:8123/"


def test_alias_url_needs_the_alias(fn: Service) -> None:
    # Aliases come with the alias operations; until one exists the qualifier is unknown.
    err = error_of(fn, "CreateFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "live", "AuthType": "NONE"})
    assert (err.code, err.message) == ("ResourceNotFoundException", "Function does not exist")
    err = error_of(fn, "CreateFunctionUrlConfig", {"FunctionName": "f:live", "AuthType": "NONE"})
    assert (err.code, err.message) == ("ResourceNotFoundException", "Function does not exist")


def test_alias_url_is_kept_apart(fn: Service) -> None:
    # A stored alias URL (as create writes it once the alias exists) lists after the function's.
    fn.call("CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE"})
    fn.conn.execute(
        "INSERT INTO url_configs (function, qualifier, url_id, config, creation_time, last_modified_time) "
        "VALUES ('f', 'live', ?, '{\"AuthType\": \"AWS_IAM\"}', 't', 't')",
        ("c" * 32,),
    )
    listed = fn.call("ListFunctionUrlConfigs", {"FunctionName": "f"})["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{ARN}:f", f"{ARN}:f:live"]
    got = fn.call("GetFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "live"})
    assert (got["FunctionArn"], got["AuthType"]) == (f"{ARN}:f:live", "AWS_IAM")
    first = fn.call("ListFunctionUrlConfigs", {"FunctionName": "f", "MaxItems": 1})
    assert len(first["FunctionUrlConfigs"]) == 1
    rest = fn.call("ListFunctionUrlConfigs", {"FunctionName": "f", "Marker": first["NextMarker"]})
    assert [c["FunctionArn"] for c in rest["FunctionUrlConfigs"]] == [f"{ARN}:f:live"]
    fn.call("DeleteFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "live"})
    assert fn.call("GetFunctionUrlConfig", {"FunctionName": "f"})["FunctionArn"] == f"{ARN}:f"


def qualifier_error(value: str) -> str:
    return (
        f"1 validation error detected: Value '{value}' at 'qualifier' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"
    )


CREATE_ERRORS = [
    ({"FunctionName": "nope"}, "ResourceNotFoundException", "Function does not exist"),
    ({"FunctionName": f"{ARN}:nope"}, "ResourceNotFoundException", "Function does not exist"),
    ({"Qualifier": "1"}, "ValidationException", qualifier_error("1")),
    ({"Qualifier": "2"}, "ValidationException", qualifier_error("2")),
    ({"Qualifier": "$LATEST"}, "ValidationException", qualifier_error("$LATEST")),
    ({"FunctionName": "nope", "Qualifier": "1"}, "ValidationException", qualifier_error("1")),
    ({"Qualifier": "noalias"}, "ResourceNotFoundException", "Function does not exist"),
    ({"FunctionName": f"{ARN}:f:live", "Qualifier": "other"}, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."),
    ({"AuthType": "OPEN"}, "ValidationException", "1 validation error detected: Value 'OPEN' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"),
    ({"AuthType": None}, "ValidationException", "Value null at 'authType' failed to satisfy constraint: Member must not be null"),
    ({"InvokeMode": "STREAM"}, "ValidationException", "Value 'STREAM' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"),
    ({"Cors": {"MaxAge": 86401}}, "ValidationException", "Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400"),
    ({"Cors": {"MaxAge": -1}}, "ValidationException", "at 'cors.maxAge' failed to satisfy constraint: Member must have value greater than or equal to 0"),
    ({"Cors": {"AllowMethods": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]}}, "ValidationException", "at 'cors.allowMethods' failed to satisfy constraint: Member must have length less than or equal to 6"),
    ({"Cors": {"AllowMethods": ["CONNECTX"]}}, "ValidationException", "at 'cors.allowMethods' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 6]"),
    ({"Cors": {"AllowOrigins": ["o" * 254]}}, "ValidationException", "at 'cors.allowOrigins'"),
    ({"Cors": {"AllowHeaders": ["h"] * 101}}, "ValidationException", "at 'cors.allowHeaders' failed to satisfy constraint: Member must have length less than or equal to 100"),
    ({"Cors": {"AllowCredentials": "yes"}}, "ValidationException", "at 'cors.allowCredentials'"),
    ({"FunctionName": "f" * 65}, "ValidationException", "at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern"),
]


@pytest.mark.parametrize(("request_", "code", "message"), CREATE_ERRORS)
def test_create_errors(fn: Service, request_: dict, code: str, message: str) -> None:
    request = {"FunctionName": "f", "AuthType": "NONE", **request_}
    err = error_of(fn, "CreateFunctionUrlConfig", {k: v for k, v in request.items() if v is not None})
    assert err.code == code
    assert message in err.message
    assert err.status == (404 if code == "ResourceNotFoundException" else 400)
    assert fn.conn.execute("SELECT COUNT(*) FROM url_configs").fetchone() == (0,)


def test_create_twice_conflicts(fn: Service) -> None:
    fn.call("CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE"})
    err = error_of(fn, "CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "AWS_IAM"})
    assert (err.code, err.status) == ("ResourceConflictException", 409)
    assert err.message == (
        f"Failed to create function url config for [functionArn = {ARN}:f]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function"
    )


@pytest.mark.parametrize(
    ("op", "request_", "code", "message"),
    [
        ("GetFunctionUrlConfig", {"FunctionName": "nope"}, "ResourceNotFoundException", "The resource you requested does not exist."),
        ("GetFunctionUrlConfig", {"FunctionName": "f"}, "ResourceNotFoundException", "The resource you requested does not exist."),
        ("GetFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "noalias"}, "ResourceNotFoundException", "The resource you requested does not exist."),
        ("GetFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "1"}, "ValidationException", qualifier_error("1")),
        ("GetFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "$LATEST"}, "ValidationException", qualifier_error("$LATEST")),
        ("GetFunctionUrlConfig", {"FunctionName": f"{ARN}:f:live", "Qualifier": "x"}, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."),
        ("DeleteFunctionUrlConfig", {"FunctionName": "nope"}, "ResourceNotFoundException", "The resource you requested does not exist."),
        ("DeleteFunctionUrlConfig", {"FunctionName": "f"}, "ResourceNotFoundException", "The resource you requested does not exist."),
        ("DeleteFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "2"}, "ValidationException", qualifier_error("2")),
        ("UpdateFunctionUrlConfig", {"FunctionName": "nope", "AuthType": "NONE"}, "ResourceNotFoundException", "Function does not exist"),
        ("UpdateFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "noalias"}, "ResourceNotFoundException", "Function does not exist"),
        ("UpdateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE"}, "ResourceNotFoundException", "The resource you requested does not exist."),
        ("UpdateFunctionUrlConfig", {"FunctionName": "f", "Qualifier": "$LATEST"}, "ValidationException", qualifier_error("$LATEST")),
        ("UpdateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "SOME"}, "ValidationException", "at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"),
        ("ListFunctionUrlConfigs", {"FunctionName": "nope"}, "ResourceNotFoundException", "Function does not exist"),
        ("ListFunctionUrlConfigs", {"FunctionName": "f", "MaxItems": 51}, "ValidationException", "at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"),
    ],
)
def test_other_errors(fn: Service, op: str, request_: dict, code: str, message: str) -> None:
    err = error_of(fn, op, request_)
    assert err.code == code
    assert message in err.message
    assert err.status == (404 if code == "ResourceNotFoundException" else 400)


def test_delete_function_drops_its_url(fn: Service) -> None:
    url = fn.call("CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE"})["FunctionUrl"]
    fn.call("DeleteFunction", {"FunctionName": "f"})
    assert url_config_by_id(fn, URL_RE.fullmatch(url).group(1)) is None  # type: ignore[union-attr]
    create(fn, "f")
    assert fn.call("ListFunctionUrlConfigs", {"FunctionName": "f"}) == {"FunctionUrlConfigs": []}
