"""Shapes and identifiers of the Lambda API: runtime ids, ARNs, name patterns, timestamps.

Pure functions and constants only; no I/O, no knowledge of the registry or the faces.
"""

from __future__ import annotations

import re
import time

# The botocore model's Runtime enum, in its order (ValidationException lists it verbatim).
RUNTIME_ENUM: tuple[str, ...] = (
    "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x",
    "nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8", "java8.al2",
    "java11", "java17", "java21", "java25", "python2.7", "python3.6", "python3.7", "python3.8",
    "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8",
    "dotnet10", "nodejs4.3-edge", "go1.x", "ruby2.5", "ruby2.7", "ruby3.2", "ruby3.3", "ruby3.4",
    "ruby4.0", "provided", "provided.al2", "provided.al2023", "nodejs26.x", "python3.15",
    "java8.al2023", "java11.al2023", "java17.al2023", "custom",
)

# Lambda accepts these at create/update today.
SUPPORTED_RUNTIMES: frozenset[str] = frozenset({
    "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "nodejs20.x", "nodejs22.x", "nodejs24.x",
    "java11", "java17", "java21", "java25", "java8.al2",
    "dotnet8", "dotnet10", "ruby3.2", "ruby3.3", "ruby3.4",
    "provided.al2", "provided.al2023",
})

# Enum members AWS lists but does not (yet) accept for new functions.
FUTURE_RUNTIMES: frozenset[str] = frozenset({
    "python3.15", "nodejs26.x", "ruby4.0", "java8.al2023", "java11.al2023", "java17.al2023",
})

DEPRECATED_RUNTIMES: frozenset[str] = frozenset(
    set(RUNTIME_ENUM) - SUPPORTED_RUNTIMES - FUTURE_RUNTIMES - {"custom"}
)

# Runtimes lambdactl can execute locally (the others are stored but refused at invoke).
PYTHON_RUNTIMES = {f"python3.{n}": f"3.{n}" for n in range(6, 16)}
NODE_RUNTIMES = {f"nodejs{n}.x": str(n) for n in (10, 12, 14, 16, 18, 20, 22, 24, 26)}
PROVIDED_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})

FUNCTION_NAME_RE = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
ALIAS_NAME_RE = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
QUALIFIER_RE = re.compile(r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+")
VERSION_RE = re.compile(r"(\$LATEST|[0-9]+)")
ROLE_RE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
HANDLER_RE = re.compile(r"[^\s]+")
ENV_KEY_RE = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
STATEMENT_ID_RE = re.compile(r"([a-zA-Z0-9-_.]+)")
ORG_ID_RE = re.compile(r"o-[a-z0-9]{10,32}")
ACCOUNT_ID_RE = re.compile(r"\d{12}")
ARCHITECTURES = ("x86_64", "arm64")
LAYER_NAME_RE = re.compile(
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
)

RESERVED_ENV_KEYS: frozenset[str] = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


# lambdactl-only request members, carried by the CLI, the server and the remote client beside the
# model's own (the model has no place for them).
LOCAL_MEMBERS: dict[str, tuple[str, ...]] = {"UpdateFunctionCode": ("CodeDir",)}


def new_uuid() -> str:
    """A random (version 4) UUID as text, without the uuid module (it imports platform: ~2 ms
    of every CLI start)."""
    import os

    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{arn}:{version}" if version is not None else arn


def timestamp(epoch: float | None = None) -> str:
    """Lambda's FunctionConfiguration time format: `2020-04-10T19:06:32.563+0000`."""
    t = time.time() if epoch is None else epoch
    ms = int(round((t - int(t)) * 1000))
    if ms == 1000:
        t, ms = int(t) + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + f".{ms:03d}+0000"


def parse_function_name(value: str) -> tuple[str, str | None, str | None, str | None]:
    """Split NAME / NAME:Q / ACCOUNT:function:NAME[:Q] / full ARN.

    Returns (name, qualifier, region, account); region/account are None when not given.
    The caller validates the pattern first.
    """
    if value.startswith("arn:"):
        parts = value.split(":")
        # arn aws lambda REGION ACCOUNT function NAME [Q]
        region, account, name = parts[3], parts[4], parts[6] if len(parts) > 6 else ""
        qual = parts[7] if len(parts) > 7 else None
        return name, qual, region, account
    parts = value.split(":")
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], (parts[3] if len(parts) > 3 else None), None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1], None, None
    return value, None, None, None
