"""The `aws lambda` commands as data: one CommandSpec per API operation, built from the API model.

Flag names come from the model's member names the way the AWS CLI derives them
(`FunctionName` -> `--function-name`), plus the AWS CLI's Lambda customisations (`--zip-file`
hoisted into `Code.ZipFile`, the `invoke` outfile) and lambdactl's local additions. The fast
parser, the Typer app, the man pages and the completions are all generated from these specs.
"""

from __future__ import annotations

import re

from .. import limits as L
from ..api_model import operation

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FIRST_CAP = re.compile(r"(.)([A-Z][a-z]+)")
_END_CAP = re.compile(r"([a-z0-9])([A-Z])")


def kebab(name: str) -> str:
    """`GetFunctionConfiguration` -> `get-function-configuration`, as the AWS CLI names things."""
    return _END_CAP.sub(r"\1-\2", _FIRST_CAP.sub(r"\1-\2", name)).lower()


class ParamSpec:
    """One flag. (Plain classes here: the dataclasses module costs ~7 ms of CLI start-up.)"""

    __slots__ = ("member", "flag", "type", "required", "help", "fileb_only", "local")

    def __init__(
        self,
        member: str,  # API member; dotted for hoisted members (Code.ZipFile)
        flag: str,  # --function-name
        type: Any,  # the model's type tree
        required: bool = False,
        help: str = "",
        fileb_only: bool = False,  # the AWS CLI demands fileb:// (zip files)
        local: bool = False,  # a lambdactl-only flag
    ) -> None:
        self.member = member
        self.flag = flag
        self.type = type
        self.required = required
        self.help = help
        self.fileb_only = fileb_only
        self.local = local

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def is_bool(self) -> bool:
        return bool(self.type == "boolean")

    @property
    def is_list(self) -> bool:
        return isinstance(self.type, dict) and "list" in self.type


class CommandSpec:
    """One `aws lambda`-style command."""

    def __init__(
        self,
        name: str,  # create-function
        operation: str,  # CreateFunction
        params: tuple[ParamSpec, ...],
        help: str = "",
        paginator: dict[str, str] | None = None,
        outfile: bool = False,  # invoke's positional OUTFILE
        output_members: tuple[str, ...] = (),
        waiter: str | None = None,  # `wait NAME`: polls `operation` until the waiter's state
    ) -> None:
        self.waiter = waiter
        self.name = name
        self.operation = operation
        self.params = params
        self.help = help
        self.paginator = paginator
        self.outfile = outfile
        self.output_members = output_members

    def param(self, flag: str) -> ParamSpec | None:
        for p in self.params:
            if p.flag == flag:
                return p
        return None


# Short help for the operations, in our words.
OPERATION_HELP: dict[str, str] = {
    "CreateFunction": "Create a function from a deployment package (.zip).",
    "GetFunction": "Show a function's configuration, code location, tags and reserved concurrency.",
    "GetFunctionConfiguration": "Show the configuration of a function version or alias.",
    "ListFunctions": "List functions (add --function-version ALL for every published version).",
    "UpdateFunctionCode": "Replace the code of $LATEST with a new deployment package.",
    "UpdateFunctionConfiguration": "Change runtime, handler, memory, timeout, environment and other settings.",
    "DeleteFunction": "Delete a function with all its versions and aliases, or one version.",
    "TagResource": "Add tags to a function.",
    "UntagResource": "Remove tags from a function.",
    "ListTags": "List the tags of a function.",
    "GetAccountSettings": "Show account limits and this registry's usage.",
    "Invoke": "Invoke a function and write its response to OUTFILE ('-' for stdout).",
    # versions and aliases
    "PublishVersion": "Publish $LATEST's code and configuration as a new immutable version.",
    "ListVersionsByFunction": "List $LATEST and every published version of a function.",
    "CreateAlias": "Create an alias for a version, optionally splitting traffic with a second one.",
    "GetAlias": "Show an alias.",
    "UpdateAlias": "Point an alias at another version or change its routing weights.",
    "DeleteAlias": "Delete an alias.",
    "ListAliases": "List a function's aliases (--function-version filters by version).",
    # layers
    "PublishLayerVersion": "Publish a zip as the next version of a layer.",
    "GetLayerVersion": "Show a layer version.",
    "GetLayerVersionByArn": "Show a layer version named by its ARN.",
    "ListLayerVersions": "List the versions of a layer, newest first.",
    "ListLayers": "List layers with their latest matching version.",
    "DeleteLayerVersion": "Delete a layer version (functions using it keep working).",
    "AddLayerVersionPermission": "Allow an account, an organization or everyone to use a layer version.",
    "GetLayerVersionPolicy": "Show the permissions policy of a layer version.",
    "RemoveLayerVersionPermission": "Remove a statement from a layer version's policy.",
    # resource policies
    "AddPermission": "Allow a service, account or role to invoke a function, version or alias.",
    "GetPolicy": "Show the resource-based policy of a function, version or alias.",
    "RemovePermission": "Remove a statement from a function's resource-based policy.",
    # concurrency, async and URL configuration
    "PutFunctionConcurrency": "Reserve concurrency for a function (0 throttles every invocation).",
    "GetFunctionConcurrency": "Show a function's reserved concurrency ({} when none is reserved).",
    "DeleteFunctionConcurrency": "Remove a function's reserved concurrency.",
    "PutProvisionedConcurrencyConfig": "Keep environments initialised for an alias or published version.",
    "GetProvisionedConcurrencyConfig": "Show the provisioned concurrency of an alias or published version.",
    "DeleteProvisionedConcurrencyConfig": "Remove the provisioned concurrency of an alias or published version.",
    "ListProvisionedConcurrencyConfigs": "List a function's provisioned concurrency configurations.",
    "PutFunctionEventInvokeConfig": "Set retries, maximum event age and destinations for asynchronous invocation.",
    "UpdateFunctionEventInvokeConfig": "Change some settings of an asynchronous invocation configuration.",
    "GetFunctionEventInvokeConfig": "Show the asynchronous invocation configuration of a function, version or alias.",
    "DeleteFunctionEventInvokeConfig": "Remove an asynchronous invocation configuration.",
    "ListFunctionEventInvokeConfigs": "List a function's asynchronous invocation configurations.",
    "CreateFunctionUrlConfig": "Give a function or alias an HTTP URL served by the local server.",
    "GetFunctionUrlConfig": "Show the URL, auth type and CORS settings of a function or alias.",
    "UpdateFunctionUrlConfig": "Change the auth type, CORS settings or invoke mode of a function URL.",
    "DeleteFunctionUrlConfig": "Remove a function URL.",
    "ListFunctionUrlConfigs": "List the URLs of a function and its aliases.",
}

# Short help for members, in our words; other members get a syntax hint from their type.
MEMBER_HELP: dict[str, str] = {
    "FunctionName": "Name, partial ARN (ACCOUNT:function:NAME) or ARN of the function.",
    "Qualifier": "A version number or alias name ($LATEST if omitted).",
    "Runtime": "Runtime identifier, e.g. python3.12, nodejs22.x, provided.al2023.",
    "Role": "Execution role ARN (arn:aws:iam::ACCOUNT:role/NAME); stored, not assumed locally.",
    "Handler": "Entry point, e.g. app.handler (module.function).",
    "Description": "Free text, up to 256 characters.",
    "Timeout": f"Seconds the function may run ({L.MIN_TIMEOUT_S}-{L.MAX_TIMEOUT_S}, default {L.DEFAULT_TIMEOUT_S}).",
    "MemorySize": f"Memory in MB ({L.MIN_MEMORY_MB}-{L.MAX_MEMORY_MB}, default {L.DEFAULT_MEMORY_MB}); enforced on resident memory.",
    "Environment": "Variables={KEY=VALUE,...} or JSON {\"Variables\":{...}}.",
    "Publish": "Publish a new version in the same call.",
    "Layers": f"Layer version ARNs, in order (up to {L.MAX_LAYERS}).",
    "Tags": "KEY=VALUE,... or JSON object.",
    "TagKeys": "Tag keys to remove.",
    "Resource": "The function ARN.",
    "Architectures": "x86_64 or arm64.",
    "EphemeralStorage": f"Size=MB ({L.MIN_EPHEMERAL_MB}-{L.MAX_EPHEMERAL_MB}) of /tmp.",
    "RevisionId": "Only act if the current RevisionId matches (else PreconditionFailedException).",
    "ZipFile": "The deployment package: fileb://path/to/code.zip.",
    "DryRun": "Validate the request without changing anything.",
    "Payload": "The event: JSON text, file://event.json or fileb://event.json.",
    "InvocationType": "RequestResponse (wait for the result), Event (asynchronous) or DryRun.",
    "LogType": f"Tail returns the last {L.LOG_TAIL_BYTES // 1024} KB of the invocation log in LogResult.",
    "ClientContext": "Base64 of a JSON client context for the handler.",
    "FunctionVersion": "ALL to include published versions.",
    "Name": "The alias name (not all digits).",
    "RoutingConfig": "AdditionalVersionWeights={2=0.1}: send 10% of invocations to version 2.",
    "CodeSha256": "Only publish if $LATEST's code has this CodeSha256.",
    "LayerName": "The layer name or layer ARN.",
    "VersionNumber": "The layer version number.",
    "Content": "S3 locations are not supported locally; use --zip-file.",
    "CompatibleRuntimes": "Runtimes the layer is meant for (metadata for list filters).",
    "CompatibleArchitectures": "x86_64 and/or arm64 (metadata for list filters).",
    "StatementId": "A name for the statement, unique within the policy.",
    "Action": "lambda:InvokeFunction, lambda:GetFunction, lambda:* ...",
    "Principal": "A service (s3.amazonaws.com), an account id, an IAM ARN or *.",
    "SourceArn": "Only when the call comes from this resource (ArnLike condition).",
    "SourceAccount": "Only when the source resource belongs to this account.",
    "Arn": "The layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION).",
    "CodeSigningConfigArn": "A code signing configuration ARN; stored, not enforced locally.",
    "EventSourceToken": "For Alexa Smart Home functions: a token the invoker must supply.",
    "ImageUri": "Container images are not supported locally; use --zip-file.",
    "InvokedViaFunctionUrl": "Only when the call comes through the function's URL.",
    "KMSKeyArn": "A KMS key ARN for the environment variables; stored, not used locally.",
    "LicenseInfo": "The layer's license: an SPDX identifier, a URL or free text.",
    "MasterRegion": "For Lambda@Edge replicas: the region of the master function.",
    "OrganizationId": "With --principal *: only accounts of this AWS organization.",
    "PrincipalOrgID": "Only principals of this AWS organization.",
    "S3Bucket": "S3 locations are not supported locally; use --zip-file.",
    "S3Key": "S3 locations are not supported locally; use --zip-file.",
    "S3ObjectVersion": "S3 locations are not supported locally; use --zip-file.",
    "SourceKMSKeyArn": "A KMS key ARN for the code; stored, not used locally.",
}

CODE_DIR_HELP = (
    "lambdactl only: run the code from this folder (read-only task root) instead of a zip; "
    "saved changes apply to the next invocation. Not with --zip-file."
)


def syntax_hint(type_: Any) -> str:
    if isinstance(type_, dict):
        if "enum" in type_:
            return "One of: " + ", ".join(type_["enum"]) + "."
        if "structure" in type_:
            keys = ",".join(f"{k}=..." for k in list(type_["structure"])[:4])
            return f"Shorthand {keys} or JSON."
        if "map" in type_:
            return "KEY=VALUE,... or JSON object."
        if "list" in type_:
            return "One or more values, separated by spaces, or a JSON list."
    return {
        "integer": "An integer.",
        "long": "An integer.",
        "double": "A number.",
        "float": "A number.",
        "blob": "Binary data: fileb://path, or text.",
        "timestamp": "ISO-8601 time or epoch seconds.",
    }.get(str(type_), "")


def _param(member: str, meta: dict[str, Any], op_name: str) -> ParamSpec:
    type_ = meta["type"]
    help_text = MEMBER_HELP.get(member) or syntax_hint(type_)
    return ParamSpec(
        member=member,
        flag="--" + kebab(member),
        type=type_,
        required=bool(meta.get("required")),
        help=help_text,
        fileb_only=(op_name == "UpdateFunctionCode" and member == "ZipFile"),
    )


def build_command(op_name: str) -> CommandSpec:
    op = operation(op_name)
    paginator = op.get("paginator")
    hidden = {paginator["input_token"], paginator["limit_key"]} if paginator else set()
    params: list[ParamSpec] = []
    for member, meta in sorted(op["input"].items(), key=lambda kv: (not kv[1].get("required"), kv[0])):
        if member in hidden:
            continue
        p = _param(member, meta, op_name)
        if op_name in ("CreateFunction", "PublishLayerVersion") and member in ("Code", "Content"):
            p = ParamSpec(p.member, p.flag, p.type, False, "S3 locations are not supported locally; use --zip-file.")
        params.append(p)
    if op_name in ("CreateFunction", "PublishLayerVersion"):
        target = "Code.ZipFile" if op_name == "CreateFunction" else "Content.ZipFile"
        params.append(ParamSpec(target, "--zip-file", "blob", help=MEMBER_HELP["ZipFile"], fileb_only=True))
    if op_name in ("CreateFunction", "UpdateFunctionCode"):
        target = "Code.CodeDir" if op_name == "CreateFunction" else "CodeDir"
        params.append(ParamSpec(target, "--code-dir", "string", help=CODE_DIR_HELP, local=True))
    return CommandSpec(
        name=kebab(op_name),
        operation=op_name,
        params=tuple(params),
        help=OPERATION_HELP.get(op_name, ""),
        paginator=paginator,
        outfile=op_name == "Invoke",
        output_members=tuple(op["output"]),
    )


def implemented_operations() -> list[str]:
    from ..protocol import implemented_operations as implemented

    return implemented()


_BY_CLI_NAME: dict[str, str] | None = None


def command(cli_name: str) -> CommandSpec | None:
    """The spec of one implemented command, or None (built on demand: the CLI runs one command)."""
    global _BY_CLI_NAME
    if _BY_CLI_NAME is None:
        _BY_CLI_NAME = {kebab(n): n for n in implemented_operations()}
    op_name = _BY_CLI_NAME.get(cli_name)
    return build_command(op_name) if op_name else None


def all_command_names() -> list[str]:
    return [kebab(n) for n in implemented_operations()]


def all_commands() -> list[CommandSpec]:
    return [build_command(n) for n in implemented_operations()]


# Help for the waiters botocore leaves undescribed.
WAITER_HELP = {"FunctionExists": "Waits until the function exists. This waiter uses GetFunction API."}


def waiter_command(cli_name: str) -> CommandSpec | None:
    """`wait function-active-v2` and the rest: the waiter's operation's flags, polled."""
    from ..api_model import WAITER_NAMES, waiter

    for name in WAITER_NAMES:
        if kebab(name) == cli_name:
            w = waiter(name)
            base = build_command(w["operation"])
            return CommandSpec(name=cli_name, operation=w["operation"], params=base.params,
                               help=w.get("description") or WAITER_HELP.get(name, ""),
                               waiter=name)
    return None


def all_waiters() -> list[CommandSpec]:
    from ..api_model import WAITER_NAMES

    return [spec for n in WAITER_NAMES if (spec := waiter_command(kebab(n))) is not None]


def placeholder(type_: Any) -> str:
    """The value a flag takes, named by the model's shape the way the AWS CLI's help names it."""
    if isinstance(type_, dict):
        if "enum" in type_:
            return "<string>"
        if "structure" in type_:
            return "<structure>"
        if "map" in type_:
            return "<map>"
        if "list" in type_:
            inner = placeholder(type_["list"])[1:-1]
            return f"<list of {inner}s>"
    return {"long": "<integer>", "float": "<double>"}.get(str(type_), f"<{type_}>")


def choices(type_: Any) -> tuple[str, ...]:
    """The enum values a flag (or each item of a list flag) accepts; () when it is free text."""
    if isinstance(type_, dict):
        if "enum" in type_:
            return tuple(type_["enum"])
        if "list" in type_:
            return choices(type_["list"])
    return ()


# Examples per command, shared by `lambdactl help COMMAND` and the man pages: (what, arguments).
# Commands missing here get one built from their required flags and SAMPLE_VALUES.
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "create-function": (
        ("Create a Python function from a zip", "--function-name my-function --runtime python3.12 "
         "--handler app.handler --role arn:aws:iam::123456789012:role/lambda-role --zip-file fileb://function.zip"),
        ("Run the code straight from a folder", "--function-name my-function --runtime python3.12 "
         "--handler app.handler --role arn:aws:iam::123456789012:role/lambda-role --code-dir ./src"),
    ),
    "invoke": (
        ("Invoke synchronously and print the response", "--function-name my-function "
         "--cli-binary-format raw-in-base64-out --payload '{\"name\": \"world\"}' response.json"),
        ("Show the end of the log as well", "--function-name my-function --log-type Tail "
         "--query LogResult --output text out.json | base64 -d"),
        ("Queue an asynchronous invocation", "--function-name my-function --invocation-type Event out.json"),
    ),
    "update-function-configuration": (
        ("Give a function more memory and time", "--function-name my-function --memory-size 512 --timeout 30"),
        ("Set environment variables", "--function-name my-function --environment 'Variables={STAGE=dev,DEBUG=1}'"),
    ),
    "update-function-code": (
        ("Replace the code and publish a version", "--function-name my-function --zip-file fileb://function.zip --publish"),
    ),
    "list-functions": (
        ("List function names as a table", "--query 'Functions[].[FunctionName,Runtime]' --output table"),
        ("Page through functions two at a time", "--max-items 2"),
    ),
    "get-function-configuration": (
        ("Show the runtime of an alias", "--function-name my-function --qualifier live --query Runtime --output text"),
    ),
    "publish-version": (("Publish $LATEST as a version", "--function-name my-function --description 'first release'"),),
    "create-alias": (
        ("Send 10% of traffic to version 2", "--function-name my-function --name live --function-version 1 "
         "--routing-config 'AdditionalVersionWeights={2=0.1}'"),
    ),
    "publish-layer-version": (
        ("Publish a layer", "--layer-name deps --zip-file fileb://layer.zip --compatible-runtimes python3.12"),
    ),
    "add-permission": (
        ("Let S3 invoke a function", "--function-name my-function --statement-id s3 --action lambda:InvokeFunction "
         "--principal s3.amazonaws.com"),
    ),
    "tag-resource": (
        ("Tag a function", "--resource arn:aws:lambda:us-east-1:123456789012:function:my-function --tags team=web"),
    ),
    "put-function-concurrency": (
        ("Reserve 10 concurrent executions", "--function-name my-function --reserved-concurrent-executions 10"),
    ),
    "create-function-url-config": (
        ("Serve a function over HTTP without auth", "--function-name my-function --auth-type NONE"),
    ),
}

# Values the generated examples use, by member name, else by the flag's placeholder.
SAMPLE_VALUES: dict[str, str] = {
    "FunctionName": "my-function", "Name": "live", "FunctionVersion": "1", "Qualifier": "live",
    "LayerName": "deps", "VersionNumber": "1", "StatementId": "s1", "Action": "lambda:GetLayerVersion",
    "Principal": "'*'", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:my-function",
    "Arn": "arn:aws:lambda:us-east-1:123456789012:layer:deps:1", "TagKeys": "team",
    "ProvisionedConcurrentExecutions": "2", "AuthType": "NONE", "Tags": "team=web",
}


def examples(spec: CommandSpec) -> tuple[tuple[str, str], ...]:
    """The command's examples as (what, full command line)."""
    prefix = f"lambdactl wait {spec.name}" if spec.waiter else f"lambdactl {spec.name}"
    table = EXAMPLES.get(spec.name) if not spec.waiter else None
    if table:
        return tuple((what, f"{prefix} {args}") for what, args in table)
    args = []
    for p in spec.params:
        if p.required:
            value = SAMPLE_VALUES.get(p.member) or (choices(p.type) or ("VALUE",))[0]
            args.append(f"{p.flag} {value}")
    what = spec.help.split(".")[0] if spec.help else spec.name
    return ((what, " ".join([prefix, *args])),)

# Examples of lambdactl's own commands, for their man pages.
OWN_EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "package": (("Zip a folder reproducibly", "lambdactl package ./src -o function.zip"),
                ("Install requirements for the target runtime", "lambdactl package ./src -o function.zip "
                 "--requirements requirements.txt --runtime python3.12"),),
    "package-layer": (("Build a Python layer", "lambdactl package-layer ./deps -o layer.zip --runtime python3.12"),),
    "lint": (("Check a zip before creating a function", "lambdactl lint function.zip --runtime python3.12 "
              "--handler app.handler"),
             ("Report as SARIF", "lambdactl lint function.zip --output sarif"),),
    "serve": (("Serve the API and point the AWS CLI at it", "lambdactl serve --port 9001 --detach"),),
    "serve status": (("Show where the server listens", "lambdactl serve status"),),
    "serve stop": (("Stop the server", "lambdactl serve stop"),),
    "logs tail": (("Follow a function's log", "lambdactl logs tail my-function --follow --since 1h"),),
    "doctor": (("Check the registry and collect garbage", "lambdactl doctor --gc"),),
}
