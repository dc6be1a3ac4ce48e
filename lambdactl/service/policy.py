"""Resource-based policies of functions: add-permission, remove-permission, get-policy, and the
question event sources will ask: may this principal, from this source, invoke this qualifier?

One document per (function, qualifier); '' is the unqualified function. Editing a policy renews
the RevisionId of the version or alias it belongs to, as on AWS.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import LambdaError, check_revision, conflict, invalid, not_found
from ..models import ACCOUNT_ID_RE, ORG_ID_RE, STATEMENT_ID_RE
from ._validate import Validator
from .functions import LATEST, arn, load_version, new_revision, resolve_function_name, save_version

if TYPE_CHECKING:
    from . import Service

ACTION_RE = re.compile(r"(lambda:[*]|lambda:[a-zA-Z]+|[*])")
PRINCIPAL_RE = re.compile(r"[^\s]+")
SOURCE_ARN_RE = re.compile(r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)")
IAM_ARN_RE = re.compile(r"arn:aws[a-zA-Z-]*:iam::\d{12}:(root|user/.+|role/.+)")
SERVICE_RE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")
NO_POLICY = "The resource you requested does not exist."


def _principal(value: str) -> Any:
    if value == "*":
        return "*"
    if ACCOUNT_ID_RE.fullmatch(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if IAM_ARN_RE.fullmatch(value):
        return {"AWS": value}
    if SERVICE_RE.fullmatch(value):
        return {"Service": value}
    raise invalid("The provided principal was invalid. Please check the principal and try again.")


def _target(svc: Service, name: str, qualifier: str | None) -> tuple[str, str]:
    """(policy key, RevisionId of what the policy belongs to); validates the qualifier exists."""
    if qualifier == LATEST:
        raise invalid("We currently do not support adding policies for $LATEST.")
    if qualifier is None:
        return "", load_version(svc, name, LATEST)["RevisionId"]
    if qualifier.isdigit():
        return qualifier, load_version(svc, name, qualifier)["RevisionId"]
    row = svc.conn.execute(
        "SELECT revision_id FROM aliases WHERE function = ? AND name = ?", (name, qualifier)
    ).fetchone()
    if row is None:
        load_version(svc, name, LATEST)
        raise not_found(f"Cannot find alias arn: {arn(svc, name, qualifier)}")
    return qualifier, row[0]


def _renew_revision(svc: Service, name: str, key: str) -> str:
    revision = new_revision()
    if key == "" or key.isdigit():
        version = key or LATEST
        stored = load_version(svc, name, version)
        stored["RevisionId"] = revision
        from .functions import code_sha_hex

        save_version(svc, name, version, stored, code_sha_hex(stored))
    else:
        svc.conn.execute("UPDATE aliases SET revision_id = ? WHERE function = ? AND name = ?", (revision, name, key))
    return revision


def _statements(svc: Service, name: str, key: str) -> list[dict[str, Any]]:
    row = svc.conn.execute("SELECT statements FROM policies WHERE function = ? AND qualifier = ?", (name, key)).fetchone()
    return json.loads(row[0]) if row else []


def _document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements}, separators=(",", ":"))


def add_permission(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    sid = v.string("StatementId", required=True, min_len=1, max_len=limits.MAX_STATEMENT_ID_CHARS, pattern=STATEMENT_ID_RE)
    action = v.string("Action", required=True, pattern=ACTION_RE)
    principal = v.string("Principal", required=True, pattern=PRINCIPAL_RE)
    source_arn = v.string("SourceArn", pattern=SOURCE_ARN_RE)
    source_account = v.string("SourceAccount", max_len=12, pattern=ACCOUNT_ID_RE)
    token = v.string("EventSourceToken", min_len=0, max_len=256, pattern=re.compile(r"[a-zA-Z0-9._\-]+"))
    org = v.string("PrincipalOrgID", min_len=12, max_len=34, pattern=ORG_ID_RE)
    url_auth = v.string("FunctionUrlAuthType", enum=("NONE", "AWS_IAM"))
    via_url = v.boolean("InvokedViaFunctionUrl")
    revision = v.string("RevisionId")
    v.check()
    name, qualifier = resolve_function_name(svc, req["FunctionName"], req.get("Qualifier"))
    assert principal is not None and sid is not None
    who = _principal(principal)
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        key, current = _target(svc, name, qualifier)
        check_revision(revision, current, "GetPolicy")
        statements = _statements(svc, name, key)
        if any(s["Sid"] == sid for s in statements):
            raise conflict(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )
        string_equals: dict[str, str] = {}
        if source_account:
            string_equals["AWS:SourceAccount"] = source_account
        if token:
            string_equals["lambda:EventSourceToken"] = token
        if org:
            string_equals["aws:PrincipalOrgID"] = org
        if url_auth:
            string_equals["lambda:FunctionUrlAuthType"] = url_auth
        if via_url:
            string_equals["lambda:InvokedViaFunctionUrl"] = "true"
        condition: dict[str, Any] = {}
        if string_equals:
            condition["StringEquals"] = string_equals
        if source_arn:
            condition["ArnLike"] = {"AWS:SourceArn": source_arn}
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": who,
            "Action": action,
            "Resource": arn(svc, name, key or None),
        }
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
        size = len(_document(statements))
        if size > limits.MAX_POLICY_BYTES:
            raise LambdaError(
                "PolicyLengthExceededException",
                f"The final policy size ({size}) is bigger than the limit ({limits.MAX_POLICY_BYTES}).",
            )
        new_rev = _renew_revision(svc, name, key)
        svc.conn.execute(
            "INSERT OR REPLACE INTO policies (function, qualifier, statements, revision_id) VALUES (?, ?, ?, ?)",
            (name, key, json.dumps(statements), new_rev),
        )
    return {"Statement": json.dumps(statement, separators=(",", ":"))}


def get_policy(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    v.check()
    name, qualifier = resolve_function_name(svc, req["FunctionName"], req.get("Qualifier"))
    if qualifier == LATEST:
        qualifier = None
    key, current = _target(svc, name, qualifier)
    statements = _statements(svc, name, key)
    if not statements:
        raise not_found(NO_POLICY)
    return {"Policy": _document(statements), "RevisionId": current}


def remove_permission(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    sid = v.string("StatementId", required=True, min_len=1, max_len=limits.MAX_STATEMENT_ID_CHARS, pattern=STATEMENT_ID_RE)
    revision = v.string("RevisionId")
    v.check()
    name, qualifier = resolve_function_name(svc, req["FunctionName"], req.get("Qualifier"))
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        key, current = _target(svc, name, qualifier)
        check_revision(revision, current, "GetPolicy")
        statements = _statements(svc, name, key)
        if not statements:
            raise not_found(NO_POLICY)
        remaining = [s for s in statements if s["Sid"] != sid]
        if len(remaining) == len(statements):
            raise not_found(f"Statement {sid} is not found in resource policy.")
        new_rev = _renew_revision(svc, name, key)
        if remaining:
            svc.conn.execute(
                "UPDATE policies SET statements = ?, revision_id = ? WHERE function = ? AND qualifier = ?",
                (json.dumps(remaining), new_rev, name, key),
            )
        else:
            svc.conn.execute("DELETE FROM policies WHERE function = ? AND qualifier = ?", (name, key))
    return {}


def _principal_matches(statement_principal: Any, principal: str) -> bool:
    if statement_principal == "*":
        return True
    if isinstance(statement_principal, dict):
        for kind, value in statement_principal.items():
            values = value if isinstance(value, list) else [value]
            for allowed in values:
                if allowed == "*" or allowed == principal:
                    return True
                if kind == "AWS" and ACCOUNT_ID_RE.fullmatch(principal) and allowed == f"arn:aws:iam::{principal}:root":
                    return True
    return False


def _action_matches(pattern: str, action: str) -> bool:
    return pattern == "*" or fnmatch.fnmatchcase(action.lower(), pattern.lower())


def is_invoke_allowed(
    svc: Service,
    function_name: str,
    qualifier: str | None,
    principal: str,
    *,
    source_arn: str | None = None,
    source_account: str | None = None,
    action: str = "lambda:InvokeFunction",
    url_auth_type: str | None = None,
    via_url: bool = False,
) -> bool:
    """May `principal` (a service such as sqs.amazonaws.com, an account, or an IAM ARN), calling
    from `source_arn`/`source_account`, perform `action` on this qualifier? The policy of the
    qualifier applies; for $LATEST and unqualified calls, the function's own policy.

    `url_auth_type` and `via_url` describe a call through a function URL, so statements
    conditioned on `lambda:FunctionUrlAuthType` / `lambda:InvokedViaFunctionUrl` apply only to
    the calls they name."""
    key = "" if qualifier in (None, LATEST) else qualifier
    for statement in _statements(svc, function_name, key):
        if statement.get("Effect") != "Allow":
            continue
        if not _principal_matches(statement.get("Principal"), principal):
            continue
        actions = statement.get("Action")
        if not any(isinstance(a, str) and _action_matches(a, action)
                   for a in (actions if isinstance(actions, list) else [actions])):
            continue
        condition = statement.get("Condition", {})
        arn_like = condition.get("ArnLike", {}).get("AWS:SourceArn")
        if arn_like is not None and (source_arn is None or not fnmatch.fnmatchcase(source_arn, arn_like)):
            continue
        equals = condition.get("StringEquals", {})
        account = equals.get("AWS:SourceAccount")
        if account is not None and source_account != account:
            continue
        auth_type = equals.get("lambda:FunctionUrlAuthType")
        if auth_type is not None and auth_type != url_auth_type:
            continue
        if equals.get("lambda:InvokedViaFunctionUrl") == "true" and not via_url:
            continue
        return True
    return False
