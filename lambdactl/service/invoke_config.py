"""Asynchronous invocation configuration: retries, maximum event age and destinations.

One configuration per function qualifier ($LATEST, a version or an alias), stored in
`event_invoke_configs`. Put replaces a configuration, update merges into it. The async worker
reads it through `event_invoke_config`; this module does not deliver events itself.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import LambdaError, invalid, not_found
from ..registry.db import write_transaction
from ._configs import list_options, page, require_target
from ._validate import Validator
from .functions import LATEST, arn, function_exists, resolve_function_name

if TYPE_CHECKING:
    from . import Service

DESTINATION_ARN_RE = re.compile(
    r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"
    r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
MAX_DESTINATION_ARN_CHARS = 350
DESTINATIONS = ("OnSuccess", "OnFailure")
NO_FUNCTION = "The function doesn't exist."
# Services Lambda delivers invocation records to; S3 takes failure records only.
DESTINATION_SERVICES = {"OnSuccess": ("sqs", "sns", "lambda", "events"), "OnFailure": ("sqs", "sns", "lambda", "events", "s3")}


def _read_request(svc: Service, req: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Validate a put/update request; return (function name, qualifier, the members given)."""
    v = Validator(req)
    retries = v.integer("MaximumRetryAttempts", minimum=0, maximum=limits.ASYNC_MAX_RETRIES)
    age = v.integer(
        "MaximumEventAgeInSeconds", minimum=limits.ASYNC_MIN_EVENT_AGE_S, maximum=limits.ASYNC_MAX_EVENT_AGE_S
    )
    destinations = v.structure("DestinationConfig")
    given: dict[str, Any] = {}
    if destinations is not None:
        given["DestinationConfig"] = {}
        for kind in DESTINATIONS:
            target = v.structure(f"DestinationConfig.{kind}", source=destinations)
            if target is None:
                continue
            dest = v.string(
                f"DestinationConfig.{kind}.Destination",
                max_len=MAX_DESTINATION_ARN_CHARS,
                pattern=DESTINATION_ARN_RE,
                source=target,
            )
            given["DestinationConfig"][kind] = {"Destination": dest} if dest else {}
    name, qualifier = _name_and_qualifier(svc, req, v)
    if retries is not None:
        given["MaximumRetryAttempts"] = retries
    if age is not None:
        given["MaximumEventAgeInSeconds"] = age
    if not given:
        raise invalid("You must specify at least one of error handling or destination setting.")
    if "DestinationConfig" in given:
        _check_destinations(svc, name, given["DestinationConfig"])
    return name, qualifier, given


def _name_and_qualifier(svc: Service, req: dict[str, Any], v: Validator) -> tuple[str, str]:
    v.string("FunctionName", required=True)
    v.check()
    name, qualifier = resolve_function_name(svc, req.get("FunctionName"), req.get("Qualifier"))
    return name, qualifier or LATEST


def _check_destinations(svc: Service, name: str, destinations: dict[str, dict[str, str]]) -> None:
    refused = False
    for kind, target in destinations.items():
        dest = target.get("Destination")
        if not dest:
            continue
        parts = dest.split(":")
        service = parts[2] if dest.startswith("arn:") else "kafka"
        if service not in DESTINATION_SERVICES[kind]:
            refused = True
        elif service == "lambda":
            target_name = parts[6] if len(parts) > 6 and parts[5] == "function" else ""
            if target_name == name:
                raise invalid("You can't specify the function as a destination for itself.")
            if (parts[3], parts[4]) != (svc.region, svc.account_id) or not function_exists(svc.conn, target_name):
                raise invalid(f"The destination ARN {dest} is invalid.")
    if refused:
        shown = {
            kind: f"{kind}(destination={destinations[kind]['Destination']})"
            if destinations.get(kind, {}).get("Destination")
            else "null"
            for kind in DESTINATIONS
        }
        raise invalid(
            f"The provided destination config DestinationConfig(onSuccess={shown['OnSuccess']}, "
            f"onFailure={shown['OnFailure']}) is invalid."
        )


def _missing(svc: Service, name: str, qualifier: str) -> LambdaError:
    return not_found(f"The function {arn(svc, name, qualifier)} doesn't have an EventInvokeConfig")


def _render(svc: Service, name: str, qualifier: str, config: dict[str, Any], last_modified: float) -> dict[str, Any]:
    out: dict[str, Any] = {"LastModified": round(last_modified, 3), "FunctionArn": arn(svc, name, qualifier)}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in config:
            out[key] = config[key]
    stored = config.get("DestinationConfig", {})
    out["DestinationConfig"] = {kind: stored.get(kind, {}) for kind in DESTINATIONS}
    return out


def _load(svc: Service, name: str, qualifier: str) -> tuple[dict[str, Any], float] | None:
    row = svc.conn.execute(
        "SELECT config, last_modified FROM event_invoke_configs WHERE function = ? AND qualifier = ?",
        (name, qualifier),
    ).fetchone()
    return (json.loads(row[0]), float(row[1])) if row else None


def _save(svc: Service, name: str, qualifier: str, config: dict[str, Any]) -> dict[str, Any]:
    now = svc.clock()
    svc.conn.execute(
        "INSERT OR REPLACE INTO event_invoke_configs (function, qualifier, config, last_modified) "
        "VALUES (?, ?, ?, ?)",
        (name, qualifier, json.dumps(config), now),
    )
    return _render(svc, name, qualifier, config, now)


def put_function_event_invoke_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier, given = _read_request(svc, req)
    with write_transaction(svc.conn):
        require_target(svc, name, qualifier, NO_FUNCTION)
        return _save(svc, name, qualifier, given)


def update_function_event_invoke_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier, given = _read_request(svc, req)
    with write_transaction(svc.conn):
        require_target(svc, name, qualifier, NO_FUNCTION)
        found = _load(svc, name, qualifier)
        if found is None:
            raise _missing(svc, name, qualifier)
        config = found[0]
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in given:
                config[key] = given[key]
        # A destination named in the request replaces that destination; the other one stays.
        config["DestinationConfig"] = {**config.get("DestinationConfig", {}), **given.get("DestinationConfig", {})}
        return _save(svc, name, qualifier, config)


def get_function_event_invoke_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _name_and_qualifier(svc, req, Validator(req))
    found = _load(svc, name, qualifier)
    if found is None:
        raise _missing(svc, name, qualifier)
    return _render(svc, name, qualifier, *found)


def delete_function_event_invoke_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _name_and_qualifier(svc, req, Validator(req))
    with write_transaction(svc.conn):
        gone = svc.conn.execute(
            "DELETE FROM event_invoke_configs WHERE function = ? AND qualifier = ?", (name, qualifier)
        ).rowcount
        if not gone:
            raise _missing(svc, name, qualifier)
    return {}


def list_function_event_invoke_configs(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    marker, max_items = list_options(v)
    v.string("FunctionName", required=True)
    v.check()
    name, _ = resolve_function_name(svc, req.get("FunctionName"))
    if not function_exists(svc.conn, name):
        raise not_found(NO_FUNCTION)
    rows = svc.conn.execute(
        "SELECT qualifier, config, last_modified FROM event_invoke_configs WHERE function = ?", (name,)
    ).fetchall()
    items = [(q, _render(svc, name, q, json.loads(c), float(t))) for q, c, t in rows]
    configs, next_marker = page(items, marker, max_items)
    out: dict[str, Any] = {"FunctionEventInvokeConfigs": configs}
    if next_marker:
        out["NextMarker"] = next_marker
    return out


def event_invoke_config(svc: Service, name: str, qualifier: str | None) -> dict[str, Any] | None:
    """The configuration the async worker applies to an event invoked with `qualifier`, or None.

    API-shaped, as get-function-event-invoke-config returns it; members that are absent take
    Lambda's defaults (`limits.ASYNC_MAX_RETRIES`, `limits.ASYNC_MAX_EVENT_AGE_S`, no destination).
    """
    q = qualifier or LATEST
    found = _load(svc, name, q)
    return _render(svc, name, q, *found) if found else None
