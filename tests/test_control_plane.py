"""Versions, aliases, layers and resource policies: every operation and its errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lambdactl.errors import LambdaError
from lambdactl.registry import blobs
from lambdactl.service import Service
from lambdactl.service.policy import is_invoke_allowed

from .conftest import create
from .helpers import create_args, make_zip, run_cli

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:libs"


def err(svc: Service, op: str, req: dict) -> LambdaError:
    with pytest.raises(LambdaError) as info:
        svc.call(op, req)
    return info.value


def layer(svc: Service, name: str = "libs", files: dict | None = None, **extra) -> dict:
    return svc.call("PublishLayerVersion", {"LayerName": name, "Content": {"ZipFile": make_zip(files or {"python/shared.py": "X = 1\n"})}, **extra})


# ---- versions


def test_publish_version_snapshots_and_numbers_only_grow(svc: Service) -> None:
    create(svc)
    v1 = svc.call("PublishVersion", {"FunctionName": "f", "Description": "first"})
    assert (v1["Version"], v1["FunctionArn"], v1["Description"]) == ("1", ARN + ":1", "first")
    # Nothing changed: the same version comes back.
    assert svc.call("PublishVersion", {"FunctionName": "f"})["Version"] == "1"
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "MemorySize": 512})
    v2 = svc.call("PublishVersion", {"FunctionName": "f"})
    assert v2["Version"] == "2" and v2["MemorySize"] == 512
    assert svc.call("GetFunctionConfiguration", {"FunctionName": "f", "Qualifier": "1"})["MemorySize"] == 128
    svc.call("DeleteFunction", {"FunctionName": "f", "Qualifier": "2"})
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "MemorySize": 1024})
    assert svc.call("PublishVersion", {"FunctionName": "f"})["Version"] == "3"  # 2 is never reused
    versions = svc.call("ListVersionsByFunction", {"FunctionName": "f"})["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "3"]
    assert versions[0]["FunctionArn"] == ARN + ":$LATEST"


def test_published_code_survives_latest_updates(svc: Service) -> None:
    create(svc)
    v1 = svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("UpdateFunctionCode", {"FunctionName": "f", "ZipFile": make_zip({"app.py": "# new"})})
    got = svc.call("GetFunction", {"FunctionName": "f", "Qualifier": "1"})
    assert got["Configuration"]["CodeSha256"] == v1["CodeSha256"]
    sha = hashlib.sha256(make_zip()).hexdigest()
    assert f"/lambdactl/code/{sha}.zip?" in got["Code"]["Location"]
    assert blobs.path_of(svc.settings.code_dir, sha).read_bytes() == make_zip()


def test_publish_version_preconditions(svc: Service) -> None:
    cfg = create(svc)
    e = err(svc, "PublishVersion", {"FunctionName": "f", "CodeSha256": "abc"})
    assert e.code == "InvalidParameterValueException"
    assert e.message == (f"CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST ({cfg['CodeSha256']}). "
                         "Please try again with the CodeSHA256 in $LATEST.")
    assert err(svc, "PublishVersion", {"FunctionName": "f", "RevisionId": "x"}).code == "PreconditionFailedException"
    assert svc.call("PublishVersion", {"FunctionName": "f", "CodeSha256": cfg["CodeSha256"], "RevisionId": cfg["RevisionId"]})["Version"] == "1"
    assert err(svc, "PublishVersion", {"FunctionName": "ghost"}).code == "ResourceNotFoundException"


def test_list_versions_pages(svc: Service) -> None:
    create(svc)
    for i in range(60):
        svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "Description": "", "Timeout": i + 1})
        svc.call("PublishVersion", {"FunctionName": "f"})
    page = svc.call("ListVersionsByFunction", {"FunctionName": "f"})
    assert len(page["Versions"]) == 50
    rest = svc.call("ListVersionsByFunction", {"FunctionName": "f", "Marker": page["NextMarker"]})
    assert [v["Version"] for v in rest["Versions"]] == [str(i) for i in range(50, 61)]
    assert "NextMarker" not in rest


# ---- aliases


def test_alias_lifecycle(svc: Service) -> None:
    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "Timeout": 5})
    svc.call("PublishVersion", {"FunctionName": "f"})
    a = svc.call("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "1", "Description": "prod"})
    assert a["AliasArn"] == ARN + ":live" and a["FunctionVersion"] == "1" and "RoutingConfig" not in a
    assert svc.call("GetAlias", {"FunctionName": "f", "Name": "live"}) == a
    cfg = svc.call("GetFunctionConfiguration", {"FunctionName": "f", "Qualifier": "live"})
    assert cfg["FunctionArn"] == ARN + ":live" and cfg["Version"] == "1"
    assert svc.call("GetFunctionConfiguration", {"FunctionName": "f:live"})["Version"] == "1"
    b = svc.call("UpdateAlias", {"FunctionName": "f", "Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.3}}, "RevisionId": a["RevisionId"]})
    assert b["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.3}} and b["RevisionId"] != a["RevisionId"]
    assert err(svc, "UpdateAlias", {"FunctionName": "f", "Name": "live", "RevisionId": a["RevisionId"]}).code == "PreconditionFailedException"
    svc.call("CreateAlias", {"FunctionName": "f", "Name": "beta", "FunctionVersion": "$LATEST"})
    assert [x["Name"] for x in svc.call("ListAliases", {"FunctionName": "f"})["Aliases"]] == ["beta", "live"]
    assert [x["Name"] for x in svc.call("ListAliases", {"FunctionName": "f", "FunctionVersion": "1"})["Aliases"]] == ["live"]
    cleared = svc.call("UpdateAlias", {"FunctionName": "f", "Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {}}})
    assert "RoutingConfig" not in cleared
    svc.call("DeleteAlias", {"FunctionName": "f", "Name": "beta"})
    e = err(svc, "GetAlias", {"FunctionName": "f", "Name": "beta"})
    assert (e.code, e.message) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}:beta")


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        ({"Name": "123", "FunctionVersion": "1"}, "ValidationException", "at 'name'"),
        ({"Name": "a" * 129, "FunctionVersion": "1"}, "ValidationException", "at 'name'"),
        ({"Name": "x", "FunctionVersion": "v1"}, "ValidationException", "at 'functionVersion'"),
        ({"Name": "x", "FunctionVersion": "9"}, "ResourceNotFoundException", f"Function not found: {ARN}:9"),
        ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}}, "InvalidParameterValueException", "Number of items in AdditionalVersionWeights cannot be greater than 1"),
        ({"Name": "x", "FunctionVersion": "$LATEST", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.1}}}, "InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version"),
        ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.1}}}, "InvalidParameterValueException", "Invalid function version 1. Function version 1 is already included in routing configuration."),
        ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}}, "ValidationException", "additionalVersionWeights"),
        ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"7": 0.5}}}, "ResourceNotFoundException", f"Function not found: {ARN}:7"),
    ],
)
def test_alias_errors(svc: Service, request_: dict, code: str, message: str) -> None:
    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "Timeout": 5})
    svc.call("PublishVersion", {"FunctionName": "f"})
    e = err(svc, "CreateAlias", {"FunctionName": "f", **request_})
    assert e.code == code and message in e.message


def test_alias_conflicts_and_version_deletion(svc: Service) -> None:
    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "1"})
    e = err(svc, "CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "1"})
    assert (e.code, e.message) == ("ResourceConflictException", f"Alias already exists: {ARN}:live")
    assert err(svc, "DeleteFunction", {"FunctionName": "f", "Qualifier": "1"}).code == "ResourceConflictException"
    assert err(svc, "DeleteFunction", {"FunctionName": "f", "Qualifier": "live"}).message == "Deletion of aliases is not currently supported."
    svc.call("DeleteFunction", {"FunctionName": "f"})
    assert svc.conn.execute("SELECT COUNT(*) FROM aliases").fetchone()[0] == 0


def test_weighted_pick(svc: Service) -> None:
    from lambdactl.service.functions import resolve_version

    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "Timeout": 5})
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.2}}})
    picks = [resolve_version(svc, "f", "live", pick=True)[0] for _ in range(4000)]
    share = picks.count("2") / len(picks)
    # 4,000 draws at p = 0.2: the standard deviation is 0.0063; five of them is far beyond chance.
    assert abs(share - 0.2) < 0.032, share
    assert set(picks) == {"1", "2"}
    assert {resolve_version(svc, "f", "live")[0] for _ in range(50)} == {"1"}


# ---- layers


def test_layer_lifecycle(svc: Service) -> None:
    v1 = layer(svc, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"], LicenseInfo="MIT", Description="d")
    assert v1["LayerArn"] == LAYER and v1["LayerVersionArn"] == LAYER + ":1" and v1["Version"] == 1
    assert set(v1["Content"]) == {"Location", "CodeSha256", "CodeSize"}
    v2 = layer(svc, files={"nodejs/node_modules/x/index.js": "module.exports = 1"}, CompatibleRuntimes=["nodejs22.x"])
    assert v2["Version"] == 2
    assert svc.call("GetLayerVersion", {"LayerName": "libs", "VersionNumber": 1}) == v1
    assert svc.call("GetLayerVersionByArn", {"Arn": LAYER + ":2"}) == v2
    versions = svc.call("ListLayerVersions", {"LayerName": "libs"})["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1] and "Content" not in versions[0]
    assert [v["Version"] for v in svc.call("ListLayerVersions", {"LayerName": "libs", "CompatibleRuntime": "python3.12"})["LayerVersions"]] == [1]
    layers = svc.call("ListLayers", {})["Layers"]
    assert layers[0]["LayerName"] == "libs" and layers[0]["LatestMatchingVersion"]["Version"] == 2
    assert svc.call("ListLayers", {"CompatibleRuntime": "python3.12"})["Layers"][0]["LatestMatchingVersion"]["Version"] == 1
    assert svc.call("ListLayers", {"CompatibleArchitecture": "arm64"})["Layers"] == []
    svc.call("DeleteLayerVersion", {"LayerName": "libs", "VersionNumber": 2})
    svc.call("DeleteLayerVersion", {"LayerName": "libs", "VersionNumber": 2})  # idempotent
    assert err(svc, "GetLayerVersion", {"LayerName": "libs", "VersionNumber": 2}).message == "The resource you requested does not exist."
    assert layer(svc)["Version"] == 3  # numbers are never reused
    e = err(svc, "GetLayerVersion", {"LayerName": "libs", "VersionNumber": 0})
    assert e.message == "Layer Version Cannot be less than 1"


def test_functions_use_layers_and_keep_them_after_deletion(svc: Service) -> None:
    a = layer(svc, "a", files={"python/a.py": "A = 1\n"})
    b = layer(svc, "b", files={"python/b.py": "B = 1\n"})
    cfg = create(svc, Layers=[a["LayerVersionArn"], b["LayerVersionArn"]])
    assert cfg["Layers"] == [{"Arn": a["LayerVersionArn"], "CodeSize": a["Content"]["CodeSize"]}, {"Arn": b["LayerVersionArn"], "CodeSize": b["Content"]["CodeSize"]}]
    svc.call("DeleteLayerVersion", {"LayerName": "a", "VersionNumber": 1})
    sha = __import__("base64").b64decode(a["Content"]["CodeSha256"]).hex()
    assert (svc.settings.layers_dir / f"{sha}.zip").exists()  # still used by f
    # A deleted version cannot be attached anew.
    e = err(svc, "UpdateFunctionConfiguration", {"FunctionName": "f", "Layers": [a["LayerVersionArn"]]})
    assert e.message == f"Layer version {a['LayerVersionArn']} does not exist."
    svc.call("DeleteFunction", {"FunctionName": "f"})
    assert not (svc.settings.layers_dir / f"{sha}.zip").exists()


def test_layer_attach_rules(svc: Service) -> None:
    v1 = layer(svc)
    v2 = layer(svc)
    e = err(svc, "CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/r", "Handler": "app.handler", "Code": {"ZipFile": make_zip()}, "Layers": [v1["LayerVersionArn"], v2["LayerVersionArn"]]})
    assert "Two different versions of the same layer are not allowed to be referenced in the same function." in e.message
    other = "arn:aws:lambda:us-east-1:999999999999:layer:libs:1"
    assert err(svc, "CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/r", "Handler": "app.handler", "Code": {"ZipFile": make_zip()}, "Layers": [other]}).message == f"Layer version {other} does not exist."


def test_code_plus_layers_over_250mb_is_refused(svc: Service) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/big.bin", b"\0" * 200_000_000)
    big = svc.call("PublishLayerVersion", {"LayerName": "big", "Content": {"ZipFile": buf.getvalue()}})
    buf2 = io.BytesIO()
    with zipfile.ZipFile(buf2, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "x = 1\n")
        zf.writestr("data.bin", b"\0" * 70_000_000)
    e = err(svc, "CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/r", "Handler": "app.handler", "Code": {"ZipFile": buf2.getvalue()}, "Layers": [big["LayerVersionArn"]]})
    assert e.message == "Unzipped size must be smaller than 262144000 bytes"
    create(svc, "small")
    # Small code plus a 200 MB layer is within the limit.
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "small", "Layers": [big["LayerVersionArn"]]})


def test_layer_permissions(svc: Service) -> None:
    layer(svc)
    out = svc.call("AddLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "all", "Action": "lambda:GetLayerVersion", "Principal": "*", "OrganizationId": "o-abcdefghij"})
    statement = json.loads(out["Statement"])
    assert statement == {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion", "Resource": LAYER + ":1", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}
    svc.call("AddLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "acct", "Action": "lambda:GetLayerVersion", "Principal": "210987654321"})
    policy = svc.call("GetLayerVersionPolicy", {"LayerName": "libs", "VersionNumber": 1})
    doc = json.loads(policy["Policy"])
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    e = err(svc, "AddLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "acct", "Action": "lambda:GetLayerVersion", "Principal": "*"})
    assert e.code == "ResourceConflictException"
    assert err(svc, "AddLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "x", "Action": "lambda:InvokeFunction", "Principal": "*"}).code == "ValidationException"
    assert err(svc, "RemoveLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "acct", "RevisionId": "stale"}).code == "PreconditionFailedException"
    svc.call("RemoveLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "acct", "RevisionId": policy["RevisionId"]})
    assert err(svc, "RemoveLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "acct"}).message == "Statement acct is not found in resource policy."
    svc.call("RemoveLayerVersionPermission", {"LayerName": "libs", "VersionNumber": 1, "StatementId": "all"})
    assert err(svc, "GetLayerVersionPolicy", {"LayerName": "libs", "VersionNumber": 1}).code == "ResourceNotFoundException"


# ---- resource policies


def test_permissions_document_shape_and_revisions(svc: Service) -> None:
    cfg = create(svc)
    out = svc.call("AddPermission", {"FunctionName": "f", "StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::bucket", "SourceAccount": "123456789012"})
    assert json.loads(out["Statement"]) == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
        "Resource": ARN, "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}},
    }
    policy = svc.call("GetPolicy", {"FunctionName": "f"})
    assert json.loads(policy["Policy"])["Id"] == "default"
    latest = svc.call("GetFunctionConfiguration", {"FunctionName": "f"})["RevisionId"]
    assert latest != cfg["RevisionId"] and policy["RevisionId"] == latest
    svc.call("AddPermission", {"FunctionName": "f", "StatementId": "acct", "Action": "lambda:*", "Principal": "210987654321", "RevisionId": latest})
    assert json.loads(svc.call("GetPolicy", {"FunctionName": "f"})["Policy"])["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert err(svc, "AddPermission", {"FunctionName": "f", "StatementId": "x", "Action": "lambda:InvokeFunction", "Principal": "*", "RevisionId": latest}).code == "PreconditionFailedException"
    e = err(svc, "AddPermission", {"FunctionName": "f", "StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "*"})
    assert e.message == "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement."
    assert err(svc, "AddPermission", {"FunctionName": "f", "StatementId": "p", "Action": "lambda:InvokeFunction", "Principal": "nobody"}).message == "The provided principal was invalid. Please check the principal and try again."
    assert err(svc, "AddPermission", {"FunctionName": "f", "StatementId": "p", "Action": "lambda:InvokeFunction", "Principal": "*", "Qualifier": "$LATEST"}).message == "We currently do not support adding policies for $LATEST."
    assert err(svc, "RemovePermission", {"FunctionName": "f", "StatementId": "nope"}).message == "Statement nope is not found in resource policy."
    svc.call("RemovePermission", {"FunctionName": "f", "StatementId": "s3"})
    svc.call("RemovePermission", {"FunctionName": "f", "StatementId": "acct"})
    assert err(svc, "GetPolicy", {"FunctionName": "f"}).code == "ResourceNotFoundException"


def test_policies_per_qualifier_and_size_limit(svc: Service) -> None:
    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "1"})
    svc.call("AddPermission", {"FunctionName": "f", "Qualifier": "live", "StatementId": "sns", "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com"})
    doc = json.loads(svc.call("GetPolicy", {"FunctionName": "f", "Qualifier": "live"})["Policy"])
    assert doc["Statement"][0]["Resource"] == ARN + ":live"
    assert err(svc, "GetPolicy", {"FunctionName": "f"}).code == "ResourceNotFoundException"
    assert err(svc, "AddPermission", {"FunctionName": "f", "Qualifier": "nope", "StatementId": "x", "Action": "lambda:InvokeFunction", "Principal": "*"}).code == "ResourceNotFoundException"
    with pytest.raises(LambdaError) as info:
        for i in range(200):
            svc.call("AddPermission", {"FunctionName": "f", "StatementId": f"s{i:03d}", "Action": "lambda:InvokeFunction", "Principal": "*", "SourceArn": f"arn:aws:sqs:us-east-1:123456789012:{'q' * 40}{i}"})
    assert info.value.code == "PolicyLengthExceededException"


def test_is_invoke_allowed(svc: Service) -> None:
    create(svc)
    svc.call("AddPermission", {"FunctionName": "f", "StatementId": "sqs", "Action": "lambda:InvokeFunction", "Principal": "sqs.amazonaws.com", "SourceArn": "arn:aws:sqs:us-east-1:123456789012:jobs-*"})
    svc.call("AddPermission", {"FunctionName": "f", "StatementId": "acct", "Action": "lambda:*", "Principal": "210987654321", "SourceAccount": "210987654321"})
    assert is_invoke_allowed(svc, "f", None, "sqs.amazonaws.com", source_arn="arn:aws:sqs:us-east-1:123456789012:jobs-eu")
    assert not is_invoke_allowed(svc, "f", None, "sqs.amazonaws.com", source_arn="arn:aws:sqs:us-east-1:123456789012:other")
    assert not is_invoke_allowed(svc, "f", None, "sqs.amazonaws.com")
    assert not is_invoke_allowed(svc, "f", None, "sns.amazonaws.com", source_arn="arn:aws:sqs:us-east-1:123456789012:jobs-eu")
    assert is_invoke_allowed(svc, "f", "$LATEST", "210987654321", source_account="210987654321")
    assert not is_invoke_allowed(svc, "f", None, "210987654321", source_account="111111111111")
    assert not is_invoke_allowed(svc, "f", "1", "sqs.amazonaws.com", source_arn="arn:aws:sqs:us-east-1:123456789012:jobs-eu")


def test_function_url_conditions_limit_statements_to_url_calls(svc: Service) -> None:
    create(svc)
    svc.call("AddPermission", {"FunctionName": "f", "StatementId": "url", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"})
    svc.call("AddPermission", {"FunctionName": "f", "StatementId": "via", "Action": "lambda:InvokeFunction", "Principal": "*", "InvokedViaFunctionUrl": True})
    assert is_invoke_allowed(svc, "f", None, "*", action="lambda:InvokeFunctionUrl", url_auth_type="NONE", via_url=True)
    assert not is_invoke_allowed(svc, "f", None, "*", action="lambda:InvokeFunctionUrl", url_auth_type="AWS_IAM", via_url=True)
    assert is_invoke_allowed(svc, "f", None, "*", via_url=True)
    assert not is_invoke_allowed(svc, "f", None, "*")  # a plain Invoke is not opened by the URL statement


# ---- through the CLI


def test_cli_round_trip(home: Path, zip_path: Path, tmp_path: Path) -> None:
    layer_zip = tmp_path / "layer.zip"
    layer_zip.write_bytes(make_zip({"python/shared.py": "X = 1\n"}))
    r = run_cli("publish-layer-version", "--layer-name", "libs", "--zip-file", f"fileb://{layer_zip}", "--compatible-runtimes", "python3.12", "python3.13", home=home)
    assert r.code == 0, r.stderr
    assert r.json["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert run_cli(*create_args("f", zip_path, "--layers", r.json["LayerVersionArn"]), home=home).code == 0
    assert run_cli("publish-version", "--function-name", "f", home=home).json["Version"] == "1"
    r = run_cli("create-alias", "--function-name", "f", "--name", "live", "--function-version", "1", "--routing-config", 'AdditionalVersionWeights={1=0.5}', home=home)
    assert r.code == 254 and "already included in routing configuration" in r.stderr
    r = run_cli("create-alias", "--function-name", "f", "--name", "live", "--function-version", "1", home=home)
    assert r.code == 0 and r.json["AliasArn"].endswith(":f:live")
    r = run_cli("add-permission", "--function-name", "f", "--qualifier", "live", "--statement-id", "s3", "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com", home=home)
    assert r.code == 0 and json.loads(r.json["Statement"])["Resource"].endswith(":f:live")
    r = run_cli("list-aliases", "--function-name", "f", "--query", "Aliases[].Name", "--output", "text", home=home)
    assert r.stdout.strip() == "live"
    r = run_cli("list-layers", "--query", "Layers[].LatestMatchingVersion.Version", home=home)
    assert r.json == [1]
    assert run_cli("list-versions-by-function", "--function-name", "f", "--max-items", "1", "--query", "Versions[].Version", home=home).json == ["$LATEST"]


# ---- logging configuration


def test_logging_levels_exist_only_with_json(svc: Service) -> None:
    group = {"LogGroup": "/aws/lambda/f"}
    created = create(svc, LoggingConfig={"LogFormat": "JSON"})
    assert created["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **group}

    def update(change: dict) -> dict:
        return svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "LoggingConfig": change})["LoggingConfig"]

    # A level alone updates a JSON function and keeps the other level.
    assert update({"ApplicationLogLevel": "DEBUG"}) == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO", **group}
    # Switching to Text drops both levels; a level given with Text (or on a Text function) is refused.
    assert update({"LogFormat": "Text"}) == {"LogFormat": "Text", **group}
    for change in ({"SystemLogLevel": "WARN"}, {"LogFormat": "Text", "ApplicationLogLevel": "ERROR"}):
        e = err(svc, "UpdateFunctionConfiguration", {"FunctionName": "f", "LoggingConfig": change})
        assert (e.code, e.message) == ("InvalidParameterValueException", "To set ApplicationLogLevel or SystemLogLevel you must set LogFormat to JSON.")
    assert svc.call("GetFunctionConfiguration", {"FunctionName": "f"})["LoggingConfig"] == {"LogFormat": "Text", **group}
    # Back to JSON with one level given: the other starts at INFO.
    assert update({"LogFormat": "JSON", "SystemLogLevel": "WARN"}) == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", **group}
