"""Layers: published, immutable zips of shared code merged under /opt, and their permissions.

Versions only grow and their content never changes. A deleted version can no longer be attached,
but functions that already use it keep it: its blob stays while any version of a function names it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import LambdaError, check_revision, conflict, invalid, not_found
from ..models import ARCHITECTURES, LAYER_NAME_RE, ORG_ID_RE, RUNTIME_ENUM, layer_arn, timestamp
from ._validate import Validator
from .functions import (
    check_code_zip,
    code_location,
    decode_marker,
    encode_marker,
    new_revision,
    sha_b64,
)

if TYPE_CHECKING:
    from . import Service

LAYER_VERSION_ARN_RE = re.compile(
    r"arn:[a-zA-Z0-9-]+:lambda:([a-zA-Z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)"
)
LAYER_PRINCIPAL_RE = re.compile(r"\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root")
LAYER_STATEMENT_ID_RE = re.compile(r"([a-zA-Z0-9-_]+)")  # no dots, unlike function policies
NO_SUCH = "The resource you requested does not exist."


def _layer_name(svc: Service, v: Validator, member: str = "LayerName") -> str:
    value = v.string(member, required=True, min_len=1, max_len=limits.MAX_LAYER_NAME_CHARS, pattern=LAYER_NAME_RE)
    v.check()
    assert value is not None
    if value.startswith("arn:"):
        parts = value.split(":")
        if parts[3] != svc.region or parts[4] != svc.account_id:
            raise not_found(NO_SUCH)
        return parts[6]
    return value


def _version_number(v: Validator) -> int:
    number = v.integer("VersionNumber", required=True)
    v.check()
    assert number is not None
    if number < 1:
        raise invalid("Layer Version Cannot be less than 1")
    return number


COLUMNS = (
    "version, description, created_date, compatible_runtimes, compatible_architectures, license_info, "
    "code_sha, code_size, deleted, policy, policy_revision"
)


def _row(svc: Service, name: str, number: int, *, include_deleted: bool = False) -> tuple[Any, ...]:
    row = svc.conn.execute(
        f"SELECT {COLUMNS} FROM layer_versions WHERE layer = ? AND version = ?", (name, number)
    ).fetchone()
    if row is None or (row[8] and not include_deleted):
        raise not_found(NO_SUCH)
    return tuple(row)


def _shape(svc: Service, name: str, row: tuple[Any, ...], *, content: bool = True) -> dict[str, Any]:
    version, description, created, runtimes, arches, license_info, sha, size = row[:8]
    out: dict[str, Any] = {}
    if content:
        out["Content"] = {"Location": code_location(svc, sha, "layer"), "CodeSha256": sha_b64(sha), "CodeSize": size}
        out["LayerArn"] = layer_arn(svc.region, svc.account_id, name)
    out["LayerVersionArn"] = layer_arn(svc.region, svc.account_id, name, version)
    # Members in the model's order (the AWS CLI prints them so): a list item has Version first.
    if not content:
        out["Version"] = version
    out["Description"] = description or ""
    out["CreatedDate"] = created
    if content:
        out["Version"] = version
    if json.loads(arches):
        out["CompatibleArchitectures"] = json.loads(arches)
    if json.loads(runtimes):
        out["CompatibleRuntimes"] = json.loads(runtimes)
    if license_info:
        out["LicenseInfo"] = license_info
    return out


def publish_layer_version(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    content = v.structure("Content", required=True)
    description = v.string("Description", max_len=limits.MAX_DESCRIPTION_CHARS)
    runtimes = v.string_list("CompatibleRuntimes", max_items=15, item_enum=RUNTIME_ENUM)
    arches = v.string_list("CompatibleArchitectures", max_items=2, item_enum=ARCHITECTURES)
    license_info = v.string("LicenseInfo", max_len=limits.MAX_LICENSE_INFO_CHARS)
    v.check()
    assert content is not None
    if any(content.get(k) for k in ("S3Bucket", "S3Key", "S3ObjectVersion")):
        raise invalid(
            "lambdactl keeps layers locally: S3 content locations are not supported. "
            "Pass the layer zip with --zip-file fileb://FILE.zip."
        )
    data = content.get("ZipFile")
    if isinstance(data, str):
        import base64

        data = base64.b64decode(data)
    if not isinstance(data, (bytes, bytearray)):
        raise invalid("Please provide a source for layer content.")
    sha_hex, unzipped = check_code_zip(bytes(data))
    from ..registry import blobs
    from ..registry.db import write_transaction
    from .storage import check_code_storage

    with write_transaction(svc.conn):
        check_code_storage(svc, len(data))
        blobs.store(svc.settings.layers_dir, bytes(data), sha_hex)
        svc.conn.execute("INSERT OR IGNORE INTO layers (name, next_version) VALUES (?, 1)", (name,))
        (number,) = svc.conn.execute("SELECT next_version FROM layers WHERE name = ?", (name,)).fetchone()
        svc.conn.execute("UPDATE layers SET next_version = ? WHERE name = ?", (number + 1, name))
        svc.conn.execute(
            "INSERT INTO layer_versions (layer, version, description, created_date, compatible_runtimes, "
            "compatible_architectures, license_info, code_sha, code_size, unzipped_size, deleted, policy) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '[]')",
            (name, number, description or "", timestamp(svc.clock()), json.dumps(runtimes or []),
             json.dumps(arches or []), license_info, sha_hex, len(data), unzipped),
        )
        row = _row(svc, name, number)
    return _shape(svc, name, row)


def get_layer_version(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    number = _version_number(v)
    return _shape(svc, name, _row(svc, name, number))


def get_layer_version_by_arn(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    value = v.string("Arn", required=True, min_len=1, max_len=140, pattern=re.compile(
        r"(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)"
    ))
    v.check()
    assert value is not None
    m = LAYER_VERSION_ARN_RE.fullmatch(value)
    if m is None or m.group(1) != svc.region or m.group(2) != svc.account_id:
        raise not_found(NO_SUCH)
    number = int(m.group(4))
    if number < 1:
        raise invalid("Layer Version Cannot be less than 1")
    return _shape(svc, m.group(3), _row(svc, m.group(3), number))


def _filters(v: Validator) -> tuple[str | None, str | None]:
    runtime = v.string("CompatibleRuntime", enum=RUNTIME_ENUM)
    arch = v.string("CompatibleArchitecture", enum=ARCHITECTURES)
    return runtime, arch


def _matches(row: tuple[Any, ...], runtime: str | None, arch: str | None) -> bool:
    if runtime is not None and runtime not in json.loads(row[3]):
        return False
    return not (arch is not None and arch not in json.loads(row[4]))


def list_layer_versions(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    runtime, arch = _filters(v)
    marker = v.string("Marker")
    max_items = v.integer("MaxItems", minimum=1, maximum=limits.MAX_SMALL_LIST_ITEMS)
    v.check()
    page = max_items or limits.MAX_SMALL_LIST_ITEMS
    start = decode_marker(marker)
    before = start[1] if start is not None else 2**62
    rows = svc.conn.execute(
        f"SELECT {COLUMNS} FROM layer_versions WHERE layer = ? AND deleted = 0 AND version < ? ORDER BY version DESC",
        (name, before),
    ).fetchall()
    matching = [tuple(r) for r in rows if _matches(tuple(r), runtime, arch)]
    out: dict[str, Any] = {"LayerVersions": [_shape(svc, name, r, content=False) for r in matching[:page]]}
    if len(matching) > page:
        out["NextMarker"] = encode_marker(name, matching[page - 1][0])
    return out


def list_layers(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    runtime, arch = _filters(v)
    marker = v.string("Marker")
    max_items = v.integer("MaxItems", minimum=1, maximum=limits.MAX_SMALL_LIST_ITEMS)
    v.check()
    page = max_items or limits.MAX_SMALL_LIST_ITEMS
    start = decode_marker(marker)
    items: list[dict[str, Any]] = []
    names = svc.conn.execute(
        "SELECT name FROM layers WHERE name > ? ORDER BY name", (start[0] if start else "",)
    ).fetchall()
    more = False
    for (name,) in names:
        rows = svc.conn.execute(
            f"SELECT {COLUMNS} FROM layer_versions WHERE layer = ? AND deleted = 0 ORDER BY version DESC", (name,)
        ).fetchall()
        latest = next((tuple(r) for r in rows if _matches(tuple(r), runtime, arch)), None)
        if latest is None:
            continue
        if len(items) == page:
            more = True
            break
        items.append({
            "LayerName": name,
            "LayerArn": layer_arn(svc.region, svc.account_id, name),
            "LatestMatchingVersion": _shape(svc, name, latest, content=False),
        })
    out: dict[str, Any] = {"Layers": items}
    if more:
        out["NextMarker"] = encode_marker(items[-1]["LayerName"], 0)
    return out


def delete_layer_version(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    number = _version_number(v)
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        row = svc.conn.execute(
            "SELECT code_sha FROM layer_versions WHERE layer = ? AND version = ? AND deleted = 0", (name, number)
        ).fetchone()
        if row is None:
            return {}  # deleting twice, or a version that never was, is not an error on AWS
        svc.conn.execute("UPDATE layer_versions SET deleted = 1, policy = '[]' WHERE layer = ? AND version = ?", (name, number))
        collect_layer_blobs(svc, {row[0]})
    return {}


def collect_layer_blobs(svc: Service, candidates: set[str]) -> dict[str, int]:
    """Remove layer blobs that neither a live layer version nor any function version uses
    (the caller holds the write lock); returns the digests removed with their sizes."""
    from ..registry import blobs

    removed = {}
    for sha in candidates:
        if svc.conn.execute("SELECT 1 FROM layer_versions WHERE code_sha = ? AND deleted = 0", (sha,)).fetchone():
            continue
        arns = [
            layer_arn(svc.region, svc.account_id, layer, version)
            for layer, version in svc.conn.execute("SELECT layer, version FROM layer_versions WHERE code_sha = ?", (sha,))
        ]
        if not any(
            svc.conn.execute("SELECT 1 FROM versions WHERE instr(config, ?) > 0 LIMIT 1", (json.dumps(a),)).fetchone()
            for a in arns
        ):
            size = blobs.remove(svc.settings.layers_dir, sha)
            if size is not None:
                removed[sha] = size
    return removed


def layer_shas(svc: Service, stored_configs: list[dict[str, Any]]) -> set[str]:
    """Digests of the layers named by some function versions (to collect after deleting them)."""
    out = set()
    for config in stored_configs:
        for layer in config.get("Layers", []):
            try:
                out.add(layer_content(svc, layer["Arn"])[0])
            except LambdaError:
                continue
    return out


# ---------------------------------------------------------------------------------------------
# Function side: attaching layers, finding their content


def resolve_function_layers(svc: Service, arns: list[str]) -> list[dict[str, Any]]:
    """Validate a function's Layers list -> [{"Arn", "CodeSize"}], as Lambda checks it."""
    seen: dict[str, str] = {}
    out = []
    for value in arns:
        m = LAYER_VERSION_ARN_RE.fullmatch(value)
        if m is None or m.group(1) != svc.region or m.group(2) != svc.account_id:
            raise invalid(f"Layer version {value} does not exist.")
        name, number = m.group(3), int(m.group(4))
        if name in seen:
            raise invalid(
                "Two different versions of the same layer are not allowed to be referenced in the same "
                f"function. {seen[name]} and {value} are versions of the same layer."
            )
        seen[name] = value
        row = svc.conn.execute(
            "SELECT code_size FROM layer_versions WHERE layer = ? AND version = ? AND deleted = 0", (name, number)
        ).fetchone()
        if row is None:
            raise invalid(f"Layer version {value} does not exist.")
        out.append({"Arn": value, "CodeSize": row[0]})
    return out


def layer_content(svc: Service, arn_text: str) -> tuple[str, int]:
    """A layer version's blob digest and unzipped size, deleted or not (functions keep working)."""
    m = LAYER_VERSION_ARN_RE.fullmatch(arn_text)
    if m is None:
        raise LambdaError("ServiceException", f"Invalid layer ARN stored: {arn_text}", 500)
    row = svc.conn.execute(
        "SELECT code_sha, unzipped_size FROM layer_versions WHERE layer = ? AND version = ?",
        (m.group(3), int(m.group(4))),
    ).fetchone()
    if row is None:
        raise LambdaError("ServiceException", f"Layer content missing for {arn_text}", 500)
    return row[0], int(row[1])


def layers_unzipped_size(svc: Service, arns: list[str]) -> int:
    return sum(layer_content(svc, a)[1] for a in arns)


# ---------------------------------------------------------------------------------------------
# Layer version permissions


def _policy_doc(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements}, separators=(",", ":"))


def add_layer_version_permission(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    number = _version_number(v)
    sid = v.string("StatementId", required=True, min_len=1, max_len=100, pattern=LAYER_STATEMENT_ID_RE)
    action = v.string("Action", required=True, max_len=22, pattern=re.compile(r"lambda:GetLayerVersion"))
    principal = v.string("Principal", required=True, pattern=LAYER_PRINCIPAL_RE)
    org = v.string("OrganizationId", max_len=34, pattern=ORG_ID_RE)
    revision = v.string("RevisionId")
    v.check()
    if org is not None and principal != "*":
        raise invalid("OrganizationId can only be specified with Principal '*'.")
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        row = _row(svc, name, number)
        statements: list[dict[str, Any]] = json.loads(row[9])
        check_revision(revision, row[10], "GetLayerPolicy")
        if any(s["Sid"] == sid for s in statements):
            raise conflict(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )
        if principal == "*":
            who: Any = "*"
        elif principal and principal.isdigit():
            who = {"AWS": f"arn:aws:iam::{principal}:root"}
        else:
            who = {"AWS": principal}
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": who,
            "Action": action,
            "Resource": layer_arn(svc.region, svc.account_id, name, number),
        }
        if org:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": org}}
        statements.append(statement)
        if len(_policy_doc(statements)) > limits.MAX_POLICY_BYTES:
            raise LambdaError(
                "PolicyLengthExceededException",
                f"The final policy size ({len(_policy_doc(statements))}) is bigger than the limit ({limits.MAX_POLICY_BYTES}).",
            )
        new_rev = new_revision()
        svc.conn.execute(
            "UPDATE layer_versions SET policy = ?, policy_revision = ? WHERE layer = ? AND version = ?",
            (json.dumps(statements), new_rev, name, number),
        )
    return {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": new_rev}


def get_layer_version_policy(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    number = _version_number(v)
    row = _row(svc, name, number)
    statements = json.loads(row[9])
    if not statements:
        raise not_found("No policy is associated with the given resource.")
    return {"Policy": _policy_doc(statements), "RevisionId": row[10]}


def remove_layer_version_permission(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    name = _layer_name(svc, v)
    number = _version_number(v)
    sid = v.string("StatementId", required=True, min_len=1, max_len=100, pattern=LAYER_STATEMENT_ID_RE)
    revision = v.string("RevisionId")
    v.check()
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        row = _row(svc, name, number)
        statements = json.loads(row[9])
        check_revision(revision, row[10], "GetLayerPolicy")
        remaining = [s for s in statements if s["Sid"] != sid]
        if len(remaining) == len(statements):
            raise not_found(f"Statement {sid} is not found in resource policy.")
        svc.conn.execute(
            "UPDATE layer_versions SET policy = ?, policy_revision = ? WHERE layer = ? AND version = ?",
            (json.dumps(remaining), new_revision(), name, number),
        )
    return {}
