"""Function URL configurations: create, get, update, delete and list.

A function (unqualified) and each of its aliases may have one URL. The URL's id is 32 random
lowercase letters and digits, drawn once at create and stored, so it stays the same until the
configuration is deleted. Where the URL points is decided in one place, `function_url`, which the
local HTTP server that answers function URLs can change without touching the stored configs.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import sqlite3
import string
import time
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import LambdaError, conflict, not_found
from ..registry.db import write_transaction
from ._configs import list_options, page, require_target
from ._validate import Validator
from .functions import arn, function_exists, resolve_function_name

if TYPE_CHECKING:
    from . import Service

URL_FUNCTION_NAME_RE = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\d+$)[0-9a-zA-Z-_]+))?"
)
URL_QUALIFIER_RE = re.compile(r"((?!^\d+$)^[0-9a-zA-Z-_]+$)")
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("RESPONSE_STREAM", "BUFFERED")
DEFAULT_INVOKE_MODE = "BUFFERED"
NO_FUNCTION = "Function does not exist"
URL_ID_CHARS = string.ascii_lowercase + string.digits
URL_ID_LENGTH = 32
DEFAULT_SERVER_PORT = 9001
MAX_CORS_AGE_S = 86_400
# Cors list members: (member, most items, longest item), from the API model.
CORS_LISTS = (("AllowHeaders", 100, 1024), ("AllowMethods", 6, 6), ("AllowOrigins", 100, 253), ("ExposeHeaders", 100, 1024))
CORS_ORDER = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders", "MaxAge")


def function_url(svc: Service, url_id: str) -> str:
    """The address of a function URL: `http://<id>.lambda-url.<region>.<domain>:<port>/`.

    The local server (its endpoint, else `server.host` and `server.port` of config.toml) answers every URL on its port
    and picks the function by the first label of the Host header. The domain is `localhost`
    while the server listens on an address rather than a name: `*.localhost` resolves to the
    loopback in browsers and curl (RFC 6761), and an IP address cannot take subdomains.
    """
    if svc.endpoint_url is not None:  # under `serve`: where it really listens (--port 0 included)
        from urllib.parse import urlsplit

        where = urlsplit(svc.endpoint_url)
        host, port = where.hostname or "localhost", where.port or DEFAULT_SERVER_PORT
    else:
        port = int(svc.settings.get("server.port", DEFAULT_SERVER_PORT))
        host = str(svc.settings.get("server.host", "localhost")).strip("[]")
    return f"http://{url_id}.lambda-url.{svc.region}.{_domain(host)}:{port}/"


def _domain(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host or "localhost"
    return "localhost"


def _iso(epoch: float) -> str:
    """URL configurations carry ISO-8601 times with microseconds, as AWS returns them."""
    micros = int(round((epoch - int(epoch)) * 1_000_000))
    if micros == 1_000_000:
        epoch, micros = int(epoch) + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch))) + f".{micros:06d}Z"


# ---------------------------------------------------------------------------------------------
# Requests


def _target(svc: Service, req: dict[str, Any], v: Validator) -> tuple[str, str | None]:
    """Validate FunctionName and Qualifier (an alias, never a version or $LATEST)."""
    v.string(
        "FunctionName", required=True, min_len=1, max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE,
        pattern=URL_FUNCTION_NAME_RE,
    )
    v.string("Qualifier", min_len=1, max_len=limits.MAX_ALIAS_NAME_CHARS, pattern=URL_QUALIFIER_RE)
    v.check()
    return resolve_function_name(
        svc, req.get("FunctionName"), req.get("Qualifier"), max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE
    )


def _settings(v: Validator, *, creating: bool) -> dict[str, Any]:
    """AuthType, Cors and InvokeMode as given (Cors members in the model's order)."""
    out: dict[str, Any] = {}
    auth = v.string("AuthType", required=creating, enum=AUTH_TYPES)
    if auth is not None:
        out["AuthType"] = auth
    cors = v.structure("Cors")
    if cors is not None:
        given: dict[str, Any] = {}
        credentials = v.boolean("Cors.AllowCredentials", source=cors)
        if credentials is not None:
            given["AllowCredentials"] = credentials
        for member, most, longest in CORS_LISTS:
            values = v.string_list(f"Cors.{member}", max_items=most, item_max_len=longest, source=cors)
            if values is not None:
                given[member] = values
        age = v.integer("Cors.MaxAge", minimum=0, maximum=MAX_CORS_AGE_S, source=cors)
        if age is not None:
            given["MaxAge"] = age
        out["Cors"] = {k: given[k] for k in CORS_ORDER if k in given}
    mode = v.string("InvokeMode", enum=INVOKE_MODES)
    if mode is not None:
        out["InvokeMode"] = mode
    return out


def _check_exists(svc: Service, name: str, qualifier: str | None) -> None:
    """Create and update need the function, and the alias when one is named."""
    if not function_exists(svc.conn, name):
        raise not_found(NO_FUNCTION)
    if qualifier is not None:
        require_target(svc, name, qualifier, NO_FUNCTION)


def _resource_missing() -> LambdaError:
    return not_found("The resource you requested does not exist.")


# ---------------------------------------------------------------------------------------------
# Rows and shapes

_COLUMNS = "qualifier, url_id, config, creation_time, last_modified_time"


def _row(svc: Service, name: str, qualifier: str | None) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = svc.conn.execute(
        f"SELECT {_COLUMNS} FROM url_configs WHERE function = ? AND qualifier = ?", (name, qualifier or "")
    ).fetchone()
    return row


def _render(svc: Service, name: str, row: tuple[Any, ...], *, shape: str) -> dict[str, Any]:
    """One stored row in the member order of CreateFunctionUrlConfig / Get... / List... items.

    Create and update echo InvokeMode only when it was set; get and list show the default.
    """
    qualifier, url_id, raw, created, modified = row
    config = json.loads(raw)
    mode = config.get("InvokeMode")
    if shape in ("get", "list"):
        mode = mode or DEFAULT_INVOKE_MODE
    out: dict[str, Any] = {"FunctionUrl": function_url(svc, url_id), "FunctionArn": arn(svc, name, qualifier or None)}
    if shape == "list":
        out.update(CreationTime=created, LastModifiedTime=modified, Cors=config.get("Cors"), AuthType=config["AuthType"])
    else:
        out.update(AuthType=config["AuthType"], Cors=config.get("Cors"), CreationTime=created)
        if shape != "create":
            out["LastModifiedTime"] = modified
    out["InvokeMode"] = mode
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# Operations


def _change(svc: Service, req: dict[str, Any], *, creating: bool) -> tuple[str, str | None, dict[str, Any], str]:
    """Validate a create or update request: (name, alias or None, settings given, time now)."""
    v = Validator(req)
    settings = _settings(v, creating=creating)
    name, qualifier = _target(svc, req, v)
    return name, qualifier, settings, _iso(svc.clock())


def create_function_url_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier, settings, now = _change(svc, req, creating=True)
    with write_transaction(svc.conn):
        _check_exists(svc, name, qualifier)
        if _row(svc, name, qualifier) is not None:
            raise conflict(
                f"Failed to create function url config for [functionArn = {arn(svc, name, qualifier)}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function"
            )
        row = (qualifier or "", _insert(svc, name, qualifier, settings, now), json.dumps(settings), now, now)
    return _render(svc, name, row, shape="create")


def _insert(svc: Service, name: str, qualifier: str | None, settings: dict[str, Any], now: str) -> str:
    """Store a new configuration under a fresh URL id; returns the id."""
    while True:
        url_id = "".join(secrets.choice(URL_ID_CHARS) for _ in range(URL_ID_LENGTH))
        try:
            svc.conn.execute(
                "INSERT INTO url_configs (function, qualifier, url_id, config, creation_time, last_modified_time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, qualifier or "", url_id, json.dumps(settings), now, now),
            )
        except sqlite3.IntegrityError:  # an id already taken (1 in 36**32): draw again
            continue
        return url_id


def get_function_url_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(svc, req, Validator(req))
    row = _row(svc, name, qualifier)
    if row is None:
        raise _resource_missing()
    return _render(svc, name, row, shape="get")


def update_function_url_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier, settings, now = _change(svc, req, creating=False)
    with write_transaction(svc.conn):
        _check_exists(svc, name, qualifier)
        row = _row(svc, name, qualifier)
        if row is None:
            raise _resource_missing()
        # Members given replace the stored ones; Cors is replaced whole, as on AWS.
        config = {**json.loads(row[2]), **settings}
        svc.conn.execute(
            "UPDATE url_configs SET config = ?, last_modified_time = ? WHERE function = ? AND qualifier = ?",
            (json.dumps(config), now, name, qualifier or ""),
        )
        updated = (row[0], row[1], json.dumps(config), row[3], now)
    return _render(svc, name, updated, shape="update")


def delete_function_url_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _target(svc, req, Validator(req))
    with write_transaction(svc.conn):
        gone = svc.conn.execute(
            "DELETE FROM url_configs WHERE function = ? AND qualifier = ?", (name, qualifier or "")
        ).rowcount
    if not gone:
        raise _resource_missing()
    return {}


def list_function_url_configs(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    marker, max_items = list_options(v)
    v.string("FunctionName", required=True, min_len=1, max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE,
             pattern=URL_FUNCTION_NAME_RE)
    v.check()
    name, _ = resolve_function_name(svc, req.get("FunctionName"), max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE)
    if not function_exists(svc.conn, name):
        raise not_found(NO_FUNCTION)
    rows = svc.conn.execute(f"SELECT {_COLUMNS} FROM url_configs WHERE function = ?", (name,)).fetchall()
    # The unqualified URL sorts first, as $LATEST does among qualifiers.
    items = [(r[0] or "$LATEST", _render(svc, name, r, shape="list")) for r in rows]
    configs, next_marker = page(items, marker, max_items)
    out: dict[str, Any] = {"FunctionUrlConfigs": configs}
    if next_marker:
        out["NextMarker"] = next_marker
    return out


def url_config_by_id(svc: Service, url_id: str) -> dict[str, Any] | None:
    """What the server needs to answer a request to a function URL: the function, the alias
    (None for the unqualified URL) and the configuration as get-function-url-config shows it."""
    row = svc.conn.execute(
        f"SELECT function, {_COLUMNS} FROM url_configs WHERE url_id = ?", (url_id,)
    ).fetchone()
    if row is None:
        return None
    return {"FunctionName": row[0], "Qualifier": row[1] or None, **_render(svc, row[0], row[1:], shape="get")}
