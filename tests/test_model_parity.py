"""The CLI's flags and the API model agree with botocore's Lambda model (what `aws lambda` uses)."""

from __future__ import annotations

import pytest

from lambdactl.cli._spec import all_commands, kebab

botocore = pytest.importorskip("botocore.session")


@pytest.fixture(scope="module")
def model():
    return botocore.get_session().get_service_model("lambda")


def test_command_names_match_the_aws_cli(model) -> None:
    names = {kebab(op): op for op in model.operation_names}
    for spec in all_commands():
        assert names.get(spec.name) == spec.operation


def test_every_flag_is_an_api_member(model) -> None:
    for spec in all_commands():
        members = set(model.operation_model(spec.operation).input_shape.members)
        for p in spec.params:
            if p.local:
                continue  # lambdactl's own flags (--code-dir)
            top = p.member.split(".")[0]
            assert top in members, f"{spec.name} {p.flag}"
            if not p.local and "." not in p.member:
                assert p.flag == "--" + kebab(p.member)


def test_required_members_are_required_flags(model) -> None:
    for spec in all_commands():
        required = set(model.operation_model(spec.operation).input_shape.required_members)
        flagged = {p.member.split(".")[0] for p in spec.params if p.required}
        if spec.operation in ("CreateFunction", "PublishLayerVersion"):
            required -= {"Code", "Content"}  # --zip-file stands in for them, as in the AWS CLI
        paginator = spec.paginator or {}
        required -= {paginator.get("input_token"), paginator.get("limit_key")}
        assert required == flagged, spec.name


@pytest.mark.parametrize(("name", "flag"), [("KMSKeyArn", "kms-key-arn"), ("CodeSha256", "code-sha256"), ("S3ObjectVersion", "s3-object-version"), ("ListTags", "list-tags"), ("GetFunctionUrlConfig", "get-function-url-config")])
def test_kebab(name: str, flag: str) -> None:
    assert kebab(name) == flag


def test_outputs_list_members_in_the_model_order(model, svc) -> None:
    """botocore parses a response member by member in the model's order, so that is the order
    the AWS CLI prints; ours must be the same, nested structures and list items included."""
    from .conftest import create
    from .helpers import make_zip

    def check(shape, value, where: str) -> None:
        if shape.type_name == "structure" and isinstance(value, dict):
            order = [m for m in shape.members if m in value]
            assert [k for k in value if k in shape.members] == order, where
            for name, member in shape.members.items():
                if name in value:
                    check(member, value[name], f"{where}.{name}")
        elif shape.type_name == "list" and isinstance(value, list):
            for item in value:
                check(shape.member, item, f"{where}[]")

    create(svc, LoggingConfig={"LogFormat": "JSON"})
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "1"})
    layer = {"LayerName": "l", "Content": {"ZipFile": make_zip({"python/x.py": "X = 1\n"})},
             "CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["x86_64"], "LicenseInfo": "MIT"}
    calls = [
        ("PublishLayerVersion", layer),
        ("GetLayerVersion", {"LayerName": "l", "VersionNumber": 1}),
        ("ListLayerVersions", {"LayerName": "l"}),
        ("ListLayers", {}),
        ("PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "live", "ProvisionedConcurrentExecutions": 1}),
        ("GetProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "live"}),
        ("ListProvisionedConcurrencyConfigs", {"FunctionName": "f"}),
        ("GetFunctionConfiguration", {"FunctionName": "f"}),
        ("GetFunction", {"FunctionName": "f"}),
        ("ListFunctions", {}),
        ("ListVersionsByFunction", {"FunctionName": "f"}),
        ("GetAlias", {"FunctionName": "f", "Name": "live"}),
        ("PutFunctionEventInvokeConfig", {"FunctionName": "f", "MaximumRetryAttempts": 1}),
        ("ListFunctionEventInvokeConfigs", {"FunctionName": "f"}),
        ("ListAliases", {"FunctionName": "f"}),
        ("PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": 5}),
        ("CreateFunctionUrlConfig", {"FunctionName": "f", "AuthType": "NONE", "Cors": {"AllowOrigins": ["*"], "MaxAge": 5}}),
        ("GetFunctionUrlConfig", {"FunctionName": "f"}),
        ("ListFunctionUrlConfigs", {"FunctionName": "f"}),
        ("AddPermission", {"FunctionName": "f", "StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "*"}),
        ("GetPolicy", {"FunctionName": "f"}),
        ("UpdateFunctionConfiguration", {"FunctionName": "f", "Environment": {"Variables": {"KEY": "v"}}}),
        ("GetAccountSettings", {}),
    ]
    for op, request in calls:
        check(model.operation_model(op).output_shape, svc.call(op, request), op)
