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
