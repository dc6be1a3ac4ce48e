"""Function lifecycle operations: create, get, list, update code/configuration, delete.

Owns the FunctionConfiguration shape and the rules Lambda applies to it. Storage goes through the
registry; invocation, versions and aliases build on the helpers here (`resolve_function_name`,
`load_version`, `render_configuration`).
"""

from __future__ import annotations

import json

from .. import limits
from ..errors import check_revision, conflict, invalid, not_found
from ..models import (
    ARCHITECTURES,
    DEPRECATED_RUNTIMES,
    ENV_KEY_RE,
    FUNCTION_NAME_RE,
    HANDLER_RE,
    QUALIFIER_RE,
    RESERVED_ENV_KEYS,
    ROLE_RE,
    RUNTIME_ENUM,
    SUPPORTED_RUNTIMES,
    function_arn,
    new_uuid,
    parse_function_name,
    timestamp,
)
from ._validate import Validator

# The standard library's parser for single configurations: importing orjson costs ~8 ms, more
# than it saves on one; list-functions, which parses thousands, loads it (see `_fast_loads`).
loads = json.loads


def _fast_loads() -> Any:
    try:
        from orjson import loads as fast
    except ModuleNotFoundError:  # pragma: no cover
        return json.loads
    return fast

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable
    from typing import Any

    from . import Service

LATEST = "$LATEST"
TRACING_MODES = ("Active", "PassThrough")
LOG_FORMATS = ("JSON", "Text")
APP_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
import re as _re  # noqa: E402

LAYER_VERSION_ARN_RE = _re.compile(
    r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
)
DLQ_ARN_RE = _re.compile(r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()")
KMS_ARN_RE = _re.compile(r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()")
LOG_GROUP_RE = _re.compile(r"[\.\-_/#A-Za-z0-9]+")

# Members that live on a version and are copied by publish-version, in the order AWS prints them.
CONFIG_ORDER = (
    "FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description",
    "Timeout", "MemorySize", "LastModified", "CodeSha256", "Version", "VpcConfig",
    "DeadLetterConfig", "Environment", "KMSKeyArn", "TracingConfig", "MasterArn", "RevisionId",
    "Layers", "State", "StateReason", "StateReasonCode", "LastUpdateStatus",
    "LastUpdateStatusReason", "LastUpdateStatusReasonCode", "FileSystemConfigs", "PackageType",
    "ImageConfigResponse", "SigningProfileVersionArn", "SigningJobArn", "Architectures",
    "EphemeralStorage", "SnapStart", "RuntimeVersionConfig", "LoggingConfig",
)
# Omitted from list-functions items, as AWS omits them.
LIST_OMITS = frozenset({
    "State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode", "RuntimeVersionConfig",
})


# ---------------------------------------------------------------------------------------------
# Names, qualifiers, rows


def resolve_function_name(
    svc: Service,
    value: Any,
    qualifier: Any = None,
    *,
    max_len: int = limits.MAX_FUNCTION_ARN_CHARS_GET,
    member: str = "FunctionName",
    allow_qualifier: bool = True,
) -> tuple[str, str | None]:
    """Accept NAME, NAME:Q, ACCOUNT:function:NAME[:Q] or an ARN; return (name, qualifier)."""
    v = Validator({member: value, "Qualifier": qualifier})
    raw = v.string(member, required=True, min_len=1, max_len=max_len, pattern=FUNCTION_NAME_RE)
    q = v.string("Qualifier", min_len=1, max_len=128, pattern=QUALIFIER_RE)
    v.check()
    assert raw is not None
    name, derived, region, account = parse_function_name(raw)
    if len(name) > limits.MAX_FUNCTION_NAME_CHARS:
        # The name itself is what is too long, whatever length an ARN in this member may have.
        v.fail(member, raw, f"Member must have length less than or equal to {limits.MAX_FUNCTION_NAME_CHARS}")
        v.check()
    if (region and region != svc.region) or (account and account != svc.account_id):
        raise not_found(f"Function not found: {raw}")
    if derived is not None and q is not None and derived != q:
        raise invalid("The derived qualifier from the function name does not match the specified qualifier.")
    q = derived if derived is not None else q
    if q is not None and not allow_qualifier:
        raise invalid(f"Unsupported qualifier in function name: {raw}")
    return name, q


def arn(svc: Service, name: str, qualifier: str | None = None) -> str:
    return function_arn(svc.region, svc.account_id, name, qualifier)


def load_version(svc: Service, name: str, version: str, conn: sqlite3.Connection | None = None) -> dict[str, Any]:
    """The stored configuration of one version, or ResourceNotFoundException as Lambda words it."""
    c = conn or svc.conn
    row = c.execute(
        "SELECT config FROM versions WHERE function = ? AND version = ?", (name, version)
    ).fetchone()
    if row is None:
        qualified = arn(svc, name, version if version != LATEST or function_exists(c, name) else None)
        if version == LATEST:
            qualified = arn(svc, name)
        raise not_found(f"Function not found: {qualified}")
    stored: dict[str, Any] = loads(row[0])
    return stored


def function_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM functions WHERE name = ?", (name,)).fetchone() is not None


def resolve_version(
    svc: Service, name: str, qualifier: str | None, conn: sqlite3.Connection | None = None, *, pick: bool = False
) -> tuple[str, dict[str, Any]]:
    """Qualifier (None, $LATEST, number, or alias) -> (version, stored config).

    With `pick` (invocations), an alias with a routing config chooses its version by weight.
    """
    if qualifier is None or qualifier == LATEST:
        return LATEST, load_version(svc, name, LATEST, conn)
    if qualifier.isdigit():
        c = conn or svc.conn
        row = c.execute(
            "SELECT config FROM versions WHERE function = ? AND version = ?", (name, qualifier)
        ).fetchone()
        if row is None:
            raise not_found(f"Function not found: {arn(svc, name, qualifier)}")
        return qualifier, loads(row[0])
    from .aliases import resolve_alias

    return resolve_alias(svc, name, qualifier, pick=pick, conn=conn)


def render_configuration(svc: Service, stored: dict[str, Any], *, arn_qualifier: str | None = None) -> dict[str, Any]:
    """Stored members -> FunctionConfiguration in AWS's member order (private members dropped)."""
    out = {k: stored[k] for k in CONFIG_ORDER if k in stored}
    out["FunctionArn"] = arn(svc, stored["FunctionName"], arn_qualifier)
    out.setdefault("State", "Active")
    out.setdefault("LastUpdateStatus", "Successful")
    if "RuntimeVersionConfig" not in out:
        out["RuntimeVersionConfig"] = {"RuntimeVersionArn": runtime_version_arn(svc, stored.get("Runtime"))}
    return _reorder(out) if "State" not in stored else out


def listing_items(svc: Service, rows: Iterable[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """(stored configuration JSON, ARN qualifier) rows -> list-functions / list-versions items.

    The hot path of a 10,000-function listing, so no per-item reordering: `save_version` keeps
    every row in AWS's member order with FunctionArn's slot held and private members last, so
    an item is its parsed row minus the members listings omit, with the ARN filled in place.
    """
    rows = list(rows)
    parse = _fast_loads() if len(rows) > 10 else loads
    prefix = arn(svc, "")
    items = []
    for config, qualifier in rows:
        item = _as_listed(parse(config))
        name = item["FunctionName"]
        item["FunctionArn"] = f"{prefix}{name}:{qualifier}" if qualifier else prefix + name
        items.append(item)
    return items


def _as_listed(item: dict[str, Any]) -> dict[str, Any]:
    """A stored row, in place, as a listing shows it: without the members listings omit and
    without private ones (FunctionArn's slot stays, empty)."""
    for k in LIST_OMITS.intersection(item):
        del item[k]
    for k in [k for k in item if k[0] == "_"]:
        del item[k]
    return item


# The list-item cache, `versions.listing` (schema m004). Owned here: `save_version` is its only
# writer and fills it in the statement that writes `config`, so the two change in one
# transaction; `list_functions_encoded` is its only reader. NULL means no cached item (a row
# from before m004, or text SQLite cannot store): the item is then encoded from `config`.
# Measured at 10,000 functions, the whole `list-functions` takes ~170 ms with the cache and
# ~315 ms without it (parsing 10,000 configurations and encoding them again).


def encode_list_item(item: dict[str, Any]) -> str:
    """The service's JSON encoding of one ListFunctions item, the text the cache holds: AWS's
    member order (`save_version` keeps it), FunctionArn's value empty until read, indented by
    4 spaces at depth 0 with non-ASCII kept, the layout of the AWS CLI's JSON output, so a
    face printing a whole listing that way embeds the items without parsing them."""
    return json.dumps(item, indent=4, ensure_ascii=False)


ARN_SLOT = '"FunctionArn": ""'


def _cacheable(text: str) -> str | None:
    """`text`, or None when SQLite cannot store it (a lone surrogate from a non-UTF-8
    argument): such a row's item is then encoded from its configuration when read."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _encoded_items(svc: Service, rows: Iterable[tuple[str, str | None, str, str | None]]) -> list[str]:
    """(function name, cached item or None, stored config, ARN qualifier) rows -> encoded
    items, FunctionArn filled in: the same items as `listing_items`, never parsed. Names and
    qualifiers need no JSON escaping ([a-zA-Z0-9-_], $LATEST, digits)."""
    # As JSON string content: region and account come from the command line and config.toml.
    prefix = json.dumps(arn(svc, ""), ensure_ascii=False)[1:-1]
    out = []
    for name, text, config, qualifier in rows:
        if text is None:
            text = encode_list_item(_as_listed(loads(config)))
        value = f"{prefix}{name}:{qualifier}" if qualifier else prefix + name
        out.append(text.replace(ARN_SLOT, f'"FunctionArn": "{value}"', 1))
    return out


def runtime_version_arn(svc: Service, runtime: str | None) -> str:
    import hashlib

    digest = hashlib.sha256(f"lambdactl:{runtime}".encode()).hexdigest()
    return f"arn:aws:lambda:{svc.region}::runtime:{digest}"


def new_revision() -> str:
    return new_uuid()


# ---------------------------------------------------------------------------------------------
# Validation of configuration members shared by create and update-configuration


def _validate_config(svc: Service, v: Validator, req: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Validate every configuration member present; return the members to store."""
    out: dict[str, Any] = {}
    runtime = v.string("Runtime", enum=None)
    if runtime is not None:
        out["Runtime"] = runtime
    role = v.string("Role", required=creating, min_len=1, max_len=2048, pattern=ROLE_RE)
    if role is not None:
        out["Role"] = role
    handler = v.string("Handler", max_len=limits.MAX_HANDLER_CHARS, pattern=HANDLER_RE)
    if handler is not None:
        out["Handler"] = handler
    desc = v.string("Description", max_len=limits.MAX_DESCRIPTION_CHARS)
    if desc is not None:
        out["Description"] = desc
    timeout = v.integer("Timeout", minimum=limits.MIN_TIMEOUT_S, maximum=limits.MAX_TIMEOUT_S)
    if timeout is not None:
        out["Timeout"] = timeout
    memory = v.integer("MemorySize", minimum=limits.MIN_MEMORY_MB, maximum=limits.MAX_MEMORY_MB)
    if memory is not None:
        out["MemorySize"] = memory
    env = v.structure("Environment")
    variables: dict[str, str] | None = None
    if env is not None:
        variables = v.string_map("Environment.Variables", source=env, key_pattern=ENV_KEY_RE)
        out["Environment"] = {"Variables": variables or {}}
    eph = v.structure("EphemeralStorage")
    if eph is not None:
        size = v.integer(
            "EphemeralStorage.Size",
            required=True,
            minimum=limits.MIN_EPHEMERAL_MB,
            maximum=limits.MAX_EPHEMERAL_MB,
            source=eph,
        )
        if size is not None:
            out["EphemeralStorage"] = {"Size": size}
    tracing = v.structure("TracingConfig")
    if tracing is not None:
        mode = v.string("TracingConfig.Mode", enum=TRACING_MODES, source=tracing)
        out["TracingConfig"] = {"Mode": mode or "PassThrough"}
    dlq = v.structure("DeadLetterConfig")
    if dlq is not None:
        target = v.string("DeadLetterConfig.TargetArn", pattern=DLQ_ARN_RE, source=dlq)
        out["DeadLetterConfig"] = {"TargetArn": target} if target else {}
    kms = v.string("KMSKeyArn", pattern=KMS_ARN_RE)
    if kms is not None:
        out["KMSKeyArn"] = kms
    layers = v.string_list("Layers", item_pattern=LAYER_VERSION_ARN_RE, item_max_len=140)
    if layers is not None:
        out["Layers"] = layers
    logging_cfg = v.structure("LoggingConfig")
    if logging_cfg is not None:
        fmt = v.string("LoggingConfig.LogFormat", enum=LOG_FORMATS, source=logging_cfg)
        app = v.string("LoggingConfig.ApplicationLogLevel", enum=APP_LOG_LEVELS, source=logging_cfg)
        system = v.string("LoggingConfig.SystemLogLevel", enum=SYSTEM_LOG_LEVELS, source=logging_cfg)
        group = v.string("LoggingConfig.LogGroup", min_len=1, max_len=512, pattern=LOG_GROUP_RE, source=logging_cfg)
        out["LoggingConfig"] = {
            k: val
            for k, val in (("LogFormat", fmt), ("ApplicationLogLevel", app), ("SystemLogLevel", system), ("LogGroup", group))
            if val is not None
        }
    vpc = v.structure("VpcConfig")
    if vpc is not None:
        subnets = v.string_list("VpcConfig.SubnetIds", max_items=16, source=vpc) or []
        groups = v.string_list("VpcConfig.SecurityGroupIds", max_items=5, source=vpc) or []
        out["VpcConfig"] = {"SubnetIds": subnets, "SecurityGroupIds": groups, "VpcId": ""}
    arches = v.string_list("Architectures", min_items=1, max_items=1, item_enum=ARCHITECTURES)
    if arches is not None:
        out["Architectures"] = arches
    snap = v.structure("SnapStart")
    if snap is not None:
        apply_on = v.string("SnapStart.ApplyOn", enum=("PublishedVersions", "None"), source=snap)
        out["SnapStart"] = {"ApplyOn": apply_on or "None", "OptimizationStatus": "Off"}
    v.check()

    # Semantic checks, in the order Lambda makes them.
    if runtime is not None:
        _check_runtime(svc, runtime)
    if variables is not None:
        _check_environment(variables)
    if layers is not None:
        out["Layers"] = _resolve_layers(svc, layers)
    return out


LOG_LEVEL_KEYS = ("ApplicationLogLevel", "SystemLogLevel")
LOGGING_ORDER = ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup")


def merged_logging(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """A LoggingConfig after `change`, as Lambda keeps it: log levels exist only with the JSON
    format, so switching to JSON sets any level not given to INFO and switching to Text drops
    them; a level given while the result stays Text is refused."""
    merged = {**current, **change}
    if merged.get("LogFormat") == "JSON":
        for key in LOG_LEVEL_KEYS:
            merged.setdefault(key, "INFO")
    elif any(key in change for key in LOG_LEVEL_KEYS):
        raise invalid("To set ApplicationLogLevel or SystemLogLevel you must set LogFormat to JSON.")
    else:
        for key in LOG_LEVEL_KEYS:
            merged.pop(key, None)
    return {key: merged[key] for key in LOGGING_ORDER if key in merged}


def _check_runtime(svc: Service, runtime: str) -> None:
    if runtime not in RUNTIME_ENUM:
        raise invalid(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
            f"value set: [{', '.join(RUNTIME_ENUM)}] or be a valid ARN"
        )
    allowed = set(svc.settings.get("runtimes.allow_deprecated", []) or [])
    if runtime not in SUPPORTED_RUNTIMES and runtime not in allowed:
        if runtime in DEPRECATED_RUNTIMES or runtime == "custom":
            raise invalid(
                f"The runtime parameter of {runtime} is no longer supported for creating or updating "
                "AWS Lambda functions. We recommend you use a supported runtime while creating or "
                "updating functions."
            )
        raise invalid(
            f"The runtime parameter of {runtime} is not supported yet for creating or updating "
            "AWS Lambda functions."
        )


def _check_environment(variables: dict[str, str]) -> None:
    prefix = "Lambda was unable to configure your environment variables because the environment variables you have provided"
    reserved = [k for k in variables if k in RESERVED_ENV_KEYS]
    if reserved:
        raise invalid(
            f"{prefix} contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )
    # execve takes C strings: a NUL would cut the value short or fail the sandbox's start.
    # (Keys cannot hold one: their pattern is checked before.)
    with_nul = [k for k, value in variables.items() if "\0" in value]
    if with_nul:
        raise invalid(
            f"{prefix} contain a null character (\\u0000) in the value of: {', '.join(with_nul)}. "
            "An environment variable cannot hold one."
        )
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode("utf-8")) > limits.MAX_ENV_BYTES:
        raise invalid(f"{prefix} exceeded the {limits.MAX_ENV_BYTES >> 10}KB limit. String measured: {measured}")


def _resolve_layers(svc: Service, arns: list[str]) -> list[dict[str, Any]]:
    if len(arns) > limits.MAX_LAYERS:
        raise invalid("Cannot reference more than 5 layers.")
    from .layers import resolve_function_layers

    return resolve_function_layers(svc, arns)


# ---------------------------------------------------------------------------------------------
# Code


HOST_PATH_REFUSED = (
    "CodeDir names a folder on this machine: lambdactl accepts it only from the local CLI "
    "(--code-dir, run in the user's own process), never over HTTP. Upload a zip (ZipFile) instead."
)


def _code_from_request(svc: Service, code: dict[str, Any] | None) -> tuple[bytes, str | None]:
    """The package bytes of a request, and the code folder when it names one (`--code-dir`)."""
    import base64

    assert code is not None
    if code.get("CodeDir") is not None:
        if not svc.host_paths:
            raise invalid(HOST_PATH_REFUSED)
        if code.get("ZipFile") is not None:
            raise invalid("Specify either a zip file or a code directory, not both.")
        from .codedir import check_dir, snapshot

        path = check_dir(code["CodeDir"])
        return snapshot(path), path
    zip_file = code.get("ZipFile")
    s3 = any(code.get(k) for k in ("S3Bucket", "S3Key", "S3ObjectVersion"))
    if code.get("ImageUri"):
        raise invalid("lambdactl runs Zip functions only: container images (ImageUri) are not supported.")
    if s3:
        raise invalid(
            "lambdactl keeps code locally: S3 code locations are not supported. "
            "Pass the deployment package with --zip-file fileb://FILE.zip."
        )
    if zip_file is None:
        raise invalid("Please provide a source for function code.")
    if isinstance(zip_file, str):
        try:
            zip_file = base64.b64decode(zip_file, validate=True)
        except ValueError:
            raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
    if not isinstance(zip_file, (bytes, bytearray)):
        raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
    return bytes(zip_file), None


def check_code_zip(data: bytes, extra_unzipped_bytes: int = 0) -> tuple[str, int]:
    """The checks Lambda makes on an uploaded package (`packaging.validate`, shared with
    `lambdactl lint`); returns (sha256 hex, unzipped bytes)."""
    import base64

    from ..packaging.validate import check_code_zip as check

    facts = check(data, extra_unzipped_bytes=extra_unzipped_bytes)
    return base64.b64decode(facts.sha256_b64).hex(), int(facts.unzipped_size)


def _layers_unzipped(svc: Service, stored_layers: list[dict[str, Any]] | None) -> int:
    """Unzipped bytes of a function's layers, for the code-plus-layers limit (MAX_UNZIPPED_BYTES)."""
    if not stored_layers:
        return 0
    from .layers import layers_unzipped_size

    return layers_unzipped_size(svc, [layer["Arn"] for layer in stored_layers])


def sha_b64(sha_hex: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(sha_hex)).decode("ascii")


def store_code(svc: Service, data: bytes, sha_hex: str) -> None:
    from ..registry import blobs
    from .storage import check_code_storage

    check_code_storage(svc, len(data))
    blobs.store(svc.settings.code_dir, data, sha_hex)


def collect_code_blobs(svc: Service, candidates: set[str]) -> dict[str, int]:
    """Remove code blobs no version references any more (caller holds the write lock);
    returns the digests removed with their sizes."""
    from ..registry import blobs

    removed = {}
    for sha in candidates:
        if svc.conn.execute("SELECT 1 FROM versions WHERE code_sha = ? LIMIT 1", (sha,)).fetchone() is None:
            size = blobs.remove(svc.settings.code_dir, sha)
            if size is not None:
                removed[sha] = size
    return removed


# ---------------------------------------------------------------------------------------------
# Persistence of a version row


def save_version(svc: Service, name: str, version: str, stored: dict[str, Any], code_sha: str) -> None:
    """Store one version's configuration in AWS's member order, with FunctionArn's slot held, so
    rendering it later is a single pass."""
    if "Environment" in stored and not stored["Environment"].get("Variables"):
        stored.pop("Environment")
    stored.setdefault("FunctionArn", "")
    stored.setdefault("State", "Active")
    stored.setdefault("LastUpdateStatus", "Successful")
    ordered = {k: stored[k] for k in CONFIG_ORDER if k in stored}
    ordered.update((k, v) for k, v in stored.items() if k.startswith("_"))
    config = json.dumps(ordered, separators=(",", ":"))
    svc.conn.execute(
        "INSERT OR REPLACE INTO versions (function, version, version_num, config, code_sha, code_size, revision_id, last_modified, listing)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            version,
            0 if version == LATEST else int(version),
            config,
            code_sha,
            int(stored["CodeSize"]),
            stored["RevisionId"],
            stored["LastModified"],
            _cacheable(encode_list_item(_as_listed(dict(ordered)))),  # a shallow copy: only keys go
        ),
    )


def _check_revision(svc: Service, stored: dict[str, Any], given: str | None) -> None:
    check_revision(given, stored.get("RevisionId"))


def code_sha_hex(stored: dict[str, Any]) -> str:
    import binascii  # not base64: this runs on every invoke, base64 costs an import

    return binascii.a2b_base64(stored["CodeSha256"]).hex()


# ---------------------------------------------------------------------------------------------
# Operations


def create_function(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    raw_name = v.string(
        "FunctionName", required=True, min_len=1, max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE, pattern=FUNCTION_NAME_RE
    )
    code = v.structure("Code", required=True)
    package_type = v.string("PackageType", enum=("Zip", "Image"))
    publish = v.boolean("Publish")
    tags = v.string_map("Tags")
    v.check()
    name, qualifier = resolve_function_name(svc, raw_name, max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE)
    if qualifier is not None:
        raise invalid(f"Unsupported qualifier in function name: {raw_name}")
    config = _validate_config(svc, v, req, creating=True)
    for member, what in (("CodeSigningConfigArn", "Code signing"), ("FileSystemConfigs", "EFS file systems")):
        if req.get(member):
            raise invalid(f"{what} ({member}) are not supported by lambdactl.")
    if package_type == "Image":
        raise invalid("lambdactl runs Zip functions only: PackageType Image is not supported.")
    if "Runtime" not in config or "Handler" not in config:
        raise invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
    if tags is not None:
        from .tags import check_tags

        check_tags(tags)
    data, code_dir = _code_from_request(svc, code)
    sha_hex, unzipped = check_code_zip(data, _layers_unzipped(svc, config.get("Layers")))

    now = svc.clock()
    stored: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": config["Runtime"],
        "Role": config["Role"],
        "Handler": config["Handler"],
        "CodeSize": len(data),
        "Description": config.get("Description", ""),
        "Timeout": config.get("Timeout", limits.DEFAULT_TIMEOUT_S),
        "MemorySize": config.get("MemorySize", limits.DEFAULT_MEMORY_MB),
        "LastModified": timestamp(now),
        "CodeSha256": sha_b64(sha_hex),
        "Version": LATEST,
        "TracingConfig": config.get("TracingConfig", {"Mode": "PassThrough"}),
        "RevisionId": new_revision(),
        "PackageType": "Zip",
        "Architectures": config.get("Architectures", ["x86_64"]),
        "EphemeralStorage": config.get("EphemeralStorage", {"Size": limits.DEFAULT_EPHEMERAL_MB}),
        "SnapStart": config.get("SnapStart", {"ApplyOn": "None", "OptimizationStatus": "Off"}),
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        "RuntimeVersionConfig": {"RuntimeVersionArn": runtime_version_arn(svc, config["Runtime"])},
        "_UnzippedSize": unzipped,
    }
    for key in ("Environment", "DeadLetterConfig", "KMSKeyArn", "Layers", "VpcConfig"):
        if config.get(key):
            stored[key] = config[key]
    if code_dir is not None:
        stored["_CodeDir"] = code_dir
    if "LoggingConfig" in config:
        stored["LoggingConfig"] = merged_logging(stored["LoggingConfig"], config["LoggingConfig"])

    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        if function_exists(svc.conn, name):
            raise conflict(f"Function already exist: {name}")
        store_code(svc, data, sha_hex)
        svc.conn.execute(
            "INSERT INTO functions (name, created, tags, next_version) VALUES (?, ?, ?, 1)",
            (name, now, json.dumps(tags or {})),
        )
        save_version(svc, name, LATEST, stored, sha_hex)
        result_version = LATEST
        if publish:
            from .versions import publish_locked

            published = publish_locked(svc, name, None)
            result_version = published["Version"]
    if result_version != LATEST:
        out = render_configuration(svc, load_version(svc, name, result_version), arn_qualifier=result_version)
    else:
        out = render_configuration(svc, stored)
    # Lambda answers create while the function is still Pending; locally it is ready at once.
    out["State"] = "Pending"
    out["StateReason"] = "The function is being created."
    out["StateReasonCode"] = "Creating"
    return _reorder(out)


def _updating(config: dict[str, Any]) -> dict[str, Any]:
    """Lambda answers an update while it is still InProgress; locally it is done at once."""
    config["LastUpdateStatus"] = "InProgress"
    config["LastUpdateStatusReason"] = "The function is being created."
    config["LastUpdateStatusReasonCode"] = "Creating"
    return _reorder(config)


def _reorder(config: dict[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in CONFIG_ORDER if k in config}


def get_function_configuration(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = resolve_function_name(svc, req.get("FunctionName"), req.get("Qualifier"))
    version, stored = resolve_version(svc, name, qualifier)
    return render_configuration(svc, stored, arn_qualifier=qualifier)


def get_function(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = resolve_function_name(svc, req.get("FunctionName"), req.get("Qualifier"))
    from ..registry.db import read_transaction

    with read_transaction(svc.conn):
        version, stored = resolve_version(svc, name, qualifier)
        row = svc.conn.execute(
            "SELECT tags, reserved_concurrency FROM functions WHERE name = ?", (name,)
        ).fetchone()
    out: dict[str, Any] = {
        "Configuration": render_configuration(svc, stored, arn_qualifier=qualifier),
        # A folder's path is told only to the local CLI that linked it; anyone else gets the
        # snapshot its CodeSha256 names, as a download link.
        "Code": (
            {"RepositoryType": "Directory", "Location": stored["_CodeDir"]}
            if "_CodeDir" in stored and svc.host_paths
            else {"RepositoryType": "S3", "Location": code_location(svc, code_sha_hex(stored))}
        ),
    }
    tags = json.loads(row[0]) if row else {}
    if tags:
        out["Tags"] = tags
    if row and row[1] is not None:
        out["Concurrency"] = {"ReservedConcurrentExecutions": row[1]}
    return out


def code_location(svc: Service, sha_hex: str, kind: str = "code") -> str:
    """Where a code (or layer) zip can be downloaded: a presigned link to the server this service
    answers for (else the configured server address), expiring as Lambda's links do."""
    from .access import presigned_url

    path = f"/lambdactl/{'code' if kind == 'code' else 'layers'}/{sha_hex}.zip"
    return presigned_url(svc, path)


def decode_marker(marker: str | None) -> tuple[str, int] | None:
    import base64

    if marker is None:
        return None
    try:
        name, num = base64.urlsafe_b64decode(marker.encode()).decode().split("\x00")
        return name, int(num)
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"Invalid marker: {marker}") from None


def encode_marker(name: str, num: int) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{name}\x00{num}".encode()).decode()


def list_functions(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    rows, all_versions, next_marker = _functions_page(svc, req)
    items = listing_items(svc, ((config, version if all_versions else None) for _n, version, config, _t in rows))
    out: dict[str, Any] = {"Functions": items}
    if next_marker:
        out["NextMarker"] = next_marker
    return out


def list_functions_encoded(svc: Service, req: dict[str, Any]) -> list[str]:
    """Every item of ListFunctions (all pages from req's Marker on, as the CLI's pagination
    merges them), each as `encode_list_item` text: for a face printing a whole listing."""
    out: list[str] = []
    req = dict(req)
    while True:
        rows, all_versions, next_marker = _functions_page(svc, req)
        out += _encoded_items(svc, ((name, text, config, version if all_versions else None) for name, version, config, text in rows))
        if not next_marker:
            return out
        req["Marker"] = next_marker


def _functions_page(svc: Service, req: dict[str, Any]) -> tuple[list[tuple[str, str, str, str | None]], bool, str | None]:
    """One page of ListFunctions: (function, version, config, cached item) rows, whether all
    versions are listed, and the next page's marker."""
    v = Validator(req)
    marker = v.string("Marker")
    max_items = v.integer("MaxItems", minimum=1, maximum=limits.MAX_LIST_ITEMS)
    fv = v.string("FunctionVersion", enum=("ALL",))
    v.string("MasterRegion", pattern=_re.compile(r"ALL|[a-z]{2}(-gov)?-[a-z]+-\d{1}"))
    v.check()
    page = min(max_items or limits.LIST_FUNCTIONS_PAGE, limits.LIST_FUNCTIONS_PAGE)
    start = decode_marker(marker)
    # Keyset pagination on an index, so every page costs the same however deep it is.
    if fv == "ALL":
        where, params = "", []
        if start is not None:
            where = "WHERE function > ? OR (function = ? AND version_num > ?)"
            params = [start[0], start[0], start[1]]
        order = "function, version_num"
    else:
        where, params = "WHERE version_num = 0", []
        if start is not None:
            where += " AND function > ?"
            params = [start[0]]
        order = "version_num, function"
    rows = svc.conn.execute(
        f"SELECT function, version_num, version, config, listing FROM versions {where} ORDER BY {order} LIMIT ?",
        (*params, page + 1),
    ).fetchall()
    next_marker = encode_marker(rows[page - 1][0], rows[page - 1][1]) if len(rows) > page else None
    return [(r[0], r[2], r[3], r[4]) for r in rows[:page]], fv == "ALL", next_marker


def update_function_code(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    publish = v.boolean("Publish")
    dry_run = v.boolean("DryRun")
    revision = v.string("RevisionId")
    arches = v.string_list("Architectures", min_items=1, max_items=1, item_enum=ARCHITECTURES)
    v.check()
    name, qualifier = resolve_function_name(svc, req.get("FunctionName"), max_len=140)
    if qualifier is not None:
        raise invalid(f"Unsupported qualifier in function name: {req.get('FunctionName')}")
    code: dict[str, Any] = {k: req[k] for k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri", "CodeDir") if k in req}
    data, code_dir = _code_from_request(svc, code)
    from ..registry.db import write_transaction

    current = load_version(svc, name, LATEST)
    sha_hex, unzipped = check_code_zip(data, _layers_unzipped(svc, current.get("Layers")))
    if dry_run:
        _check_revision(svc, current, revision)
        preview = dict(current, CodeSha256=sha_b64(sha_hex), CodeSize=len(data))
        return render_configuration(svc, preview)
    with write_transaction(svc.conn):
        stored = load_version(svc, name, LATEST)
        _check_revision(svc, stored, revision)
        old_sha = code_sha_hex(stored)
        store_code(svc, data, sha_hex)
        stored.update(
            CodeSha256=sha_b64(sha_hex),
            CodeSize=len(data),
            LastModified=timestamp(svc.clock()),
            RevisionId=new_revision(),
            _UnzippedSize=unzipped,
        )
        stored.pop("_CodeDir", None)
        if code_dir is not None:
            stored["_CodeDir"] = code_dir
        if arches is not None:
            stored["Architectures"] = arches
        save_version(svc, name, LATEST, stored, sha_hex)
        if old_sha != sha_hex:
            collect_code_blobs(svc, {old_sha})
        if publish:
            from .versions import publish_locked

            published = publish_locked(svc, name, None)
            out = render_configuration(
                svc, (load_version(svc, name, published["Version"])), arn_qualifier=published["Version"]
            )
            return out
    return _updating(render_configuration(svc, stored))


def update_function_configuration(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    revision = v.string("RevisionId")
    name, qualifier = resolve_function_name(svc, req.get("FunctionName"), max_len=140)
    if qualifier is not None:
        raise invalid(f"Unsupported qualifier in function name: {req.get('FunctionName')}")
    changes = _validate_config(svc, v, req, creating=False)
    if req.get("ImageConfig"):
        raise invalid("lambdactl runs Zip functions only: ImageConfig is not supported.")
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        stored = load_version(svc, name, LATEST)
        _check_revision(svc, stored, revision)
        if "Layers" in changes:
            total = int(stored.get("_UnzippedSize", 0)) + _layers_unzipped(svc, changes["Layers"])
            if total >= limits.MAX_UNZIPPED_BYTES:
                raise invalid(f"Unzipped size must be smaller than {limits.MAX_UNZIPPED_BYTES} bytes")
        for key, value in changes.items():
            if key == "LoggingConfig":
                stored["LoggingConfig"] = merged_logging(stored.get("LoggingConfig", {}), value)
            elif key in ("Layers", "DeadLetterConfig", "Environment") and not value:
                stored.pop(key, None)
            else:
                stored[key] = value
        if "Runtime" in changes:
            stored["RuntimeVersionConfig"] = {"RuntimeVersionArn": runtime_version_arn(svc, changes["Runtime"])}
        stored["LastModified"] = timestamp(svc.clock())
        stored["RevisionId"] = new_revision()
        save_version(svc, name, LATEST, stored, code_sha_hex(stored))
    return _updating(render_configuration(svc, stored))


def delete_function(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = resolve_function_name(svc, req.get("FunctionName"), req.get("Qualifier"))
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        if qualifier is not None and qualifier != LATEST and not qualifier.isdigit():
            raise invalid("Deletion of aliases is not currently supported.")
        if qualifier == LATEST:
            load_version(svc, name, LATEST)
            raise invalid("$LATEST version cannot be deleted without deleting the function.")
        if qualifier is not None:
            load_version(svc, name, qualifier)
            from .aliases import aliases_referencing

            users = aliases_referencing(svc, name, qualifier)
            if users:
                raise conflict(
                    "Unable to delete version because the following aliases reference it: "
                    f"[{', '.join(users)}]"
                )
            gone = svc.conn.execute(
                "SELECT code_sha, config FROM versions WHERE function = ? AND version = ?", (name, qualifier)
            ).fetchall()
            svc.conn.execute("DELETE FROM versions WHERE function = ? AND version = ?", (name, qualifier))
            svc.conn.execute("DELETE FROM policies WHERE function = ? AND qualifier = ?", (name, qualifier))
            from .concurrency import delete_function_configs

            delete_function_configs(svc, name, qualifier)
        else:
            if not function_exists(svc.conn, name):
                raise not_found(f"Function not found: {arn(svc, name)}")
            gone = svc.conn.execute("SELECT code_sha, config FROM versions WHERE function = ?", (name,)).fetchall()
            for table in ("aliases", "policies"):
                svc.conn.execute(f"DELETE FROM {table} WHERE function = ?", (name,))
            from .concurrency import delete_function_configs

            delete_function_configs(svc, name)
            svc.conn.execute("DELETE FROM versions WHERE function = ?", (name,))
            svc.conn.execute("DELETE FROM functions WHERE name = ?", (name,))
        collect_code_blobs(svc, {sha for sha, _ in gone})
        from .layers import collect_layer_blobs, layer_shas

        collect_layer_blobs(svc, layer_shas(svc, [loads(cfg) for _, cfg in gone]))
    return {}
