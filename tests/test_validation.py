"""Every validation rule of the function lifecycle operations, checked on the library."""

from __future__ import annotations

import pytest

from lambdactl.errors import LambdaError
from lambdactl.service import Service

from .conftest import create
from .helpers import make_zip

BAD_CREATE = [
    # (overrides, error code, fragment of the message)
    ({"FunctionName": "f" * 65}, "ValidationException", "Member must have length less than or equal to"),
    ({"FunctionName": "bad name"}, "ValidationException", "Member must satisfy regular expression pattern"),
    ({"FunctionName": ""}, "ValidationException", "Member must have length greater than or equal to 1"),
    ({"FunctionName": None}, "ValidationException", "Value null at 'functionName' failed to satisfy constraint: Member must not be null"),
    ({"FunctionName": "f" * 65}, "ValidationException", "at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"),
    ({"Runtime": "python2.9"}, "InvalidParameterValueException", "Value python2.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs, "),
    ({"Runtime": "python3.9"}, "InvalidParameterValueException", "The runtime parameter of python3.9 is no longer supported"),
    ({"Runtime": "nodejs18.x"}, "InvalidParameterValueException", "no longer supported"),
    ({"Runtime": "provided"}, "InvalidParameterValueException", "no longer supported"),
    ({"Runtime": "python3.15"}, "InvalidParameterValueException", "not supported yet"),
    ({"Runtime": None}, "InvalidParameterValueException", "Runtime and Handler are mandatory parameters"),
    ({"Handler": None}, "InvalidParameterValueException", "Runtime and Handler are mandatory parameters"),
    ({"Handler": "has space.handler"}, "ValidationException", "at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+"),
    ({"Handler": "a" * 129}, "ValidationException", "Member must have length less than or equal to 128"),
    ({"Role": "not-a-role"}, "ValidationException", "at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern"),
    ({"Role": "arn:aws:iam::12345:role/x"}, "ValidationException", "at 'role'"),
    ({"Role": None}, "ValidationException", "Value null at 'role' failed to satisfy constraint: Member must not be null"),
    ({"MemorySize": 127}, "ValidationException", "Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"),
    ({"MemorySize": 10241}, "ValidationException", "Member must have value less than or equal to 10240"),
    ({"MemorySize": "lots"}, "ValidationException", "at 'memorySize'"),
    ({"Timeout": 0}, "ValidationException", "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"),
    ({"Timeout": 901}, "ValidationException", "Member must have value less than or equal to 900"),
    ({"Description": "d" * 257}, "ValidationException", "at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"),
    ({"EphemeralStorage": {"Size": 511}}, "ValidationException", "at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value greater than or equal to 512"),
    ({"EphemeralStorage": {"Size": 10241}}, "ValidationException", "Member must have value less than or equal to 10240"),
    ({"EphemeralStorage": {}}, "ValidationException", "Value null at 'ephemeralStorage.size'"),
    ({"Architectures": ["x86_64", "arm64"]}, "ValidationException", "at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"),
    ({"Architectures": ["sparc"]}, "ValidationException", "Member must satisfy enum value set: [x86_64, arm64]"),
    ({"TracingConfig": {"Mode": "Sometimes"}}, "ValidationException", "at 'tracingConfig.mode'"),
    ({"Environment": {"Variables": {"1BAD": "x"}}}, "ValidationException", "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint"),
    ({"Environment": {"Variables": {"AWS_REGION": "x", "AWS_LAMBDA_FUNCTION_NAME": "y"}}}, "InvalidParameterValueException", "Reserved keys used in this request: AWS_REGION, AWS_LAMBDA_FUNCTION_NAME"),
    ({"Environment": {"Variables": {"BIG": "x" * 4096}}}, "InvalidParameterValueException", "exceeded the 4KB limit. String measured: {\"BIG\":\"xxx"),
    ({"Environment": {"Variables": {"N": 1}}}, "ValidationException", "at 'environment.variables'"),
    ({"Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l:1"] * 6}, "InvalidParameterValueException", "Cannot reference more than 5 layers."),
    ({"Layers": ["not-an-arn"]}, "ValidationException", "at 'layers'"),
    ({"Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l:1"]}, "InvalidParameterValueException", "Layer version arn:aws:lambda:us-east-1:123456789012:layer:l:1 does not exist."),
    ({"Code": {}}, "InvalidParameterValueException", "Please provide a source for function code."),
    ({"Code": {"S3Bucket": "b", "S3Key": "k"}}, "InvalidParameterValueException", "S3 code locations are not supported"),
    ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again."),
    ({"Code": None}, "ValidationException", "Value null at 'code'"),
    ({"PackageType": "Image"}, "InvalidParameterValueException", "PackageType Image is not supported"),
    ({"PackageType": "Tarball"}, "ValidationException", "at 'packageType'"),
    ({"Tags": {"k" * 129: "v"}}, "InvalidParameterValueException", "Tag key length"),
    ({"Tags": {f"k{i}": "v" for i in range(51)}}, "InvalidParameterValueException", "Number of tags exceeds resource tag limit"),
    ({"LoggingConfig": {"ApplicationLogLevel": "INFO"}}, "InvalidParameterValueException", "LogFormat to JSON"),
    ({"LoggingConfig": {"LogFormat": "XML"}}, "ValidationException", "at 'loggingConfig.logFormat'"),
    ({"Publish": "yes"}, "ValidationException", "at 'publish'"),
    ({"CodeSigningConfigArn": "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1"}, "InvalidParameterValueException", "not supported"),
]


@pytest.mark.parametrize(("overrides", "code", "fragment"), BAD_CREATE)
def test_create_function_rejects(svc: Service, overrides: dict, code: str, fragment: str) -> None:
    with pytest.raises(LambdaError) as info:
        create(svc, **overrides)
    assert info.value.code == code, info.value.message
    assert fragment in info.value.message
    # Nothing half-stored after a refusal.
    assert svc.call("ListFunctions")["Functions"] == []
    assert not list((svc.settings.code_dir).glob("*.zip")) if svc.settings.code_dir.exists() else True


def test_several_validation_errors_are_reported_together(svc: Service) -> None:
    with pytest.raises(LambdaError) as info:
        create(svc, MemorySize=1, Timeout=0)
    assert info.value.message.startswith("2 validation errors detected: ")
    assert "memorySize" in info.value.message and "timeout" in info.value.message


def test_environment_at_exactly_4kb_is_accepted(svc: Service) -> None:
    # {"K":"..."} is 8 bytes of framing plus the value.
    value = "x" * (4096 - len('{"KK":""}'))
    out = create(svc, Environment={"Variables": {"KK": value}})
    assert out["Environment"]["Variables"]["KK"] == value


def test_zip_over_50mb_is_refused_with_413(svc: Service) -> None:
    big = b"PK" + b"\0" * (52_428_800)
    with pytest.raises(LambdaError) as info:
        create(svc, Code={"ZipFile": big})
    assert info.value.code == "RequestEntityTooLargeException"
    assert info.value.status == 413
    assert info.value.message == "Zipped size must be smaller than 52428800 bytes"


def test_unzipped_over_250mb_is_refused(svc: Service) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "def handler(e, c): pass\n")
        zf.writestr("big.bin", b"\0" * 262_144_000)
    with pytest.raises(LambdaError) as info:
        create(svc, Code={"ZipFile": buf.getvalue()})
    assert info.value.code == "InvalidParameterValueException"
    assert info.value.message == "Unzipped size must be smaller than 262144000 bytes"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("f", "f"),
        ("f:$LATEST", "f"),
        ("123456789012:function:f", "f"),
        ("arn:aws:lambda:us-east-1:123456789012:function:f", "f"),
        ("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", "f"),
    ],
)
def test_function_name_forms(svc: Service, name: str, expected: str) -> None:
    create(svc)
    assert svc.call("GetFunctionConfiguration", {"FunctionName": name})["FunctionName"] == expected


def test_function_in_other_region_or_account_is_not_found(svc: Service) -> None:
    create(svc)
    for name in ("arn:aws:lambda:eu-west-1:123456789012:function:f", "999999999999:function:f"):
        with pytest.raises(LambdaError) as info:
            svc.call("GetFunctionConfiguration", {"FunctionName": name})
        assert info.value.code == "ResourceNotFoundException"


def test_conflicting_qualifiers(svc: Service) -> None:
    create(svc)
    with pytest.raises(LambdaError) as info:
        svc.call("GetFunctionConfiguration", {"FunctionName": "f:1", "Qualifier": "2"})
    assert info.value.code == "InvalidParameterValueException"
    assert "derived qualifier" in info.value.message


def test_duplicate_function_conflicts(svc: Service) -> None:
    create(svc)
    with pytest.raises(LambdaError) as info:
        create(svc)
    assert (info.value.code, info.value.status) == ("ResourceConflictException", 409)
    assert info.value.message == "Function already exist: f"


def test_not_found_messages(svc: Service) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:ghost"
    for op in ("GetFunction", "GetFunctionConfiguration", "DeleteFunction"):
        with pytest.raises(LambdaError) as info:
            svc.call(op, {"FunctionName": "ghost"})
        assert (info.value.code, info.value.status) == ("ResourceNotFoundException", 404)
        assert info.value.message == f"Function not found: {arn}"
    create(svc)
    with pytest.raises(LambdaError) as info:
        svc.call("GetFunctionConfiguration", {"FunctionName": "f", "Qualifier": "7"})
    assert info.value.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f:7"


def test_revision_id_preconditions(svc: Service) -> None:
    rev = create(svc)["RevisionId"]
    with pytest.raises(LambdaError) as info:
        svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "MemorySize": 256, "RevisionId": "0" * 36})
    assert (info.value.code, info.value.status) == ("PreconditionFailedException", 412)
    assert info.value.message.startswith("The Revision Id provided does not match the latest Revision Id.")
    out = svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "MemorySize": 256, "RevisionId": rev})
    assert out["RevisionId"] != rev
    with pytest.raises(LambdaError) as info:
        svc.call("UpdateFunctionCode", {"FunctionName": "f", "ZipFile": make_zip(), "RevisionId": rev})
    assert info.value.code == "PreconditionFailedException"


def test_update_configuration_validates_like_create(svc: Service) -> None:
    create(svc)
    for bad, code in (({"Timeout": 1000}, "ValidationException"), ({"Runtime": "python3.8"}, "InvalidParameterValueException")):
        with pytest.raises(LambdaError) as info:
            svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", **bad})
        assert info.value.code == code
    assert svc.call("GetFunctionConfiguration", {"FunctionName": "f"})["Timeout"] == 3


def test_deprecated_runtime_allowed_by_config(home, svc: Service) -> None:
    svc.settings.config = {"runtimes": {"allow_deprecated": ["python3.9"]}}
    assert create(svc, Runtime="python3.9")["Runtime"] == "python3.9"


def test_delete_latest_or_alias_qualifier(svc: Service) -> None:
    create(svc)
    with pytest.raises(LambdaError) as info:
        svc.call("DeleteFunction", {"FunctionName": "f", "Qualifier": "$LATEST"})
    assert info.value.message == "$LATEST version cannot be deleted without deleting the function."


def test_tags_validation(svc: Service) -> None:
    create(svc)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    with pytest.raises(LambdaError) as info:
        svc.call("TagResource", {"Resource": arn + ":1", "Tags": {"a": "b"}})
    assert info.value.message == "Tags on function aliases and versions are not supported. Please specify a function ARN."
    with pytest.raises(LambdaError) as info:
        svc.call("TagResource", {"Resource": "f", "Tags": {"a": "b"}})
    assert info.value.code == "ValidationException"
    with pytest.raises(LambdaError) as info:
        svc.call("ListTags", {"Resource": arn[:-1] + "nope"})
    assert info.value.code == "ResourceNotFoundException"
    with pytest.raises(LambdaError) as info:
        svc.call("TagResource", {"Resource": arn, "Tags": {"aws:x": "y"}})
    assert info.value.code == "InvalidParameterValueException"
    with pytest.raises(LambdaError) as info:
        svc.call("TagResource", {"Resource": arn, "Tags": {f"k{i}": "v" for i in range(51)}})
    assert info.value.code == "InvalidParameterValueException"
    assert svc.call("ListTags", {"Resource": arn}) == {"Tags": {}}


def test_list_functions_parameters(svc: Service) -> None:
    with pytest.raises(LambdaError) as info:
        svc.call("ListFunctions", {"MaxItems": 0})
    assert info.value.code == "ValidationException"
    with pytest.raises(LambdaError) as info:
        svc.call("ListFunctions", {"FunctionVersion": "SOME"})
    assert info.value.code == "ValidationException"
    with pytest.raises(LambdaError) as info:
        svc.call("ListFunctions", {"Marker": "garbage!"})
    assert info.value.code == "InvalidParameterValueException"
