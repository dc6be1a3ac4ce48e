"""Tags on functions (and, later, on event source mappings): tag-resource, untag-resource, list-tags.

Tags are function-level: a qualified ARN (version or alias) is refused as Lambda refuses it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import invalid, not_found
from ._validate import Validator
from .functions import arn as function_arn_of

if TYPE_CHECKING:
    from . import Service

RESOURCE_RE = re.compile(
    r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|"
    r"code-signing-config:csc-[a-z0-9]{17}|"
    r"event-source-mapping:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def check_tags(tags: dict[str, str]) -> None:
    for key, value in tags.items():
        if not 1 <= len(key) <= limits.MAX_TAG_KEY_CHARS:
            raise invalid(f"Tag key length must be between 1 and {limits.MAX_TAG_KEY_CHARS}: {key}")
        if len(value) > limits.MAX_TAG_VALUE_CHARS:
            raise invalid(f"Tag value length must be at most {limits.MAX_TAG_VALUE_CHARS}: {key}")
        if key.lower().startswith("aws:"):
            raise invalid("Tag keys prefixed with 'aws:' are reserved for AWS use.")
    if len(tags) > limits.MAX_TAGS:
        raise invalid(f"Number of tags exceeds resource tag limit of {limits.MAX_TAGS}.")


def _function_of(svc: Service, v: Validator) -> str:
    resource = v.string("Resource", required=True, min_len=1, max_len=256, pattern=RESOURCE_RE)
    v.check()
    assert resource is not None
    parts = resource.split(":")
    if parts[5] != "function":
        raise not_found("The resource you requested does not exist.")
    if len(parts) > 7:
        raise invalid("Tags on function aliases and versions are not supported. Please specify a function ARN.")
    if parts[3] != svc.region or parts[4] != svc.account_id:
        raise not_found(f"Function not found: {resource}")
    name = parts[6]
    row = svc.conn.execute("SELECT 1 FROM functions WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise not_found(f"Function not found: {function_arn_of(svc, name)}")
    return name


def _modify(svc: Service, req: dict[str, Any], change: Any) -> dict[str, Any]:
    from ..registry.db import write_transaction

    v = Validator(req)
    with write_transaction(svc.conn):
        name = _function_of(svc, v)
        (raw,) = svc.conn.execute("SELECT tags FROM functions WHERE name = ?", (name,)).fetchone()
        tags = change(json.loads(raw))
        check_tags(tags)
        svc.conn.execute("UPDATE functions SET tags = ? WHERE name = ?", (json.dumps(tags), name))
    return {}


def tag_resource(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    new = v.string_map("Tags", required=True)
    v.check()
    assert new is not None
    return _modify(svc, req, lambda tags: {**tags, **new})


def untag_resource(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    keys = v.string_list("TagKeys", required=True, item_max_len=limits.MAX_TAG_KEY_CHARS)
    v.check()
    assert keys is not None
    drop = set(keys)
    return _modify(svc, req, lambda tags: {k: val for k, val in tags.items() if k not in drop})


def list_tags(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name = _function_of(svc, Validator(req))
    (raw,) = svc.conn.execute("SELECT tags FROM functions WHERE name = ?", (name,)).fetchone()
    return {"Tags": json.loads(raw)}
