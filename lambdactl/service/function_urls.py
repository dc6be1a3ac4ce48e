"""Function URLs: Lambda's URL front end, as a service operation the server calls.

`invoke_function_url` (the internal operation `lambdactl:InvokeFunctionUrl`) takes one HTTP
request already matched to a URL id and answers it as Lambda's URL front end does: the URL's
config, CORS from it (preflight answered here, headers added to responses), AuthType (NONE needs
a public resource policy, AWS_IAM a valid SigV4 signature), the payload format 2.0 event, Invoke,
and Lambda's rules for turning the function's result into a response. Which requests are for a
URL (Host header or `/lambdactl/url/<id>/`) and the HTTP framing are the server's. Never changes
stored configs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .. import sigv4
from ..errors import LambdaError
from ..httpwire import valid_header

if TYPE_CHECKING:
    from . import Service

# The host names of function URLs: `<url-id>.lambda-url.<region>.<anything>[:port]`.
HOST_RE = re.compile(r"([a-z0-9]{32})\.lambda-url\.[a-z0-9-]+\.")
# Request bodies of these content types reach the function as text; anything else (or bytes that
# are not UTF-8) as base64 with isBase64Encoded, as on AWS.
TEXT_TYPE_MARKERS = ("text/", "json", "xml", "javascript")
DROPPED_HEADERS = ("connection", "cookie")
# A function's own framing headers are dropped: the server frames the body it sends itself.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
Headers = list[tuple[str, str]]


class _Refusal(Exception):
    """Answer the client with this status and `{"Message": ...}` without invoking anything."""

    def __init__(self, status: int, message: str | None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def invoke_function_url(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    """Answer one request to a function URL: {"StatusCode", "Headers", "Body"}.

    `req`: UrlId, Method, Target (as the function sees it), SignedTarget (as the client sent it,
    for SigV4), Version, Headers (by lower-case name), Body, Peer (address, port), Port (the
    server's), RequestId.
    """
    from .urls import url_config_by_id

    config = url_config_by_id(svc, req["UrlId"])
    if config is None:  # AWS answers an unknown URL id like a forbidden one
        return _message(403, None, "AccessDeniedException")
    headers: dict[str, str] = req["Headers"]
    cors = config.get("Cors") or {}
    origin = headers.get("origin")
    if req["Method"] == "OPTIONS" and cors and origin and "access-control-request-method" in headers:
        return {"StatusCode": 200, "Headers": _cors_headers(cors, origin, preflight=True), "Body": b""}
    try:
        caller = _authorize(svc, req, config)
        event = build_event(req, _domain(svc, req), caller, svc.account_id)
        status, out, body = _invoke(svc, config, event)
    except _Refusal as refusal:
        return _message(refusal.status, refusal.message, refusal.error_type)
    if cors and origin:
        out += _cors_headers(cors, origin, preflight=False)
    return {"StatusCode": status, "Headers": out, "Body": b"" if req["Method"] == "HEAD" else body}


def _message(status: int, message: str | None, error_type: str | None = None) -> dict[str, Any]:
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return {"StatusCode": status, "Headers": headers, "Body": json.dumps({"Message": message}, separators=(",", ":")).encode()}


# ---------------------------------------------------------------------------------------------
# Authorization


def _authorize(svc: Service, req: dict[str, Any], config: dict[str, Any]) -> sigv4.Signed | None:
    """The signer for AWS_IAM (config.toml's keys, or a function's own credentials); None for NONE, which
    needs the resource policy to let anyone (`*`) call both InvokeFunctionUrl and InvokeFunction,
    as AWS demands of URLs created since October 2025."""
    if config["AuthType"] == "AWS_IAM":
        try:
            return sigv4.verify(req["Method"], req["SignedTarget"], req["Headers"], req["Body"], svc.signing_keys())
        except sigv4.SignatureError as exc:
            if exc.code == sigv4.MISSING_TOKEN[0]:
                raise _Refusal(403, "Forbidden", "AccessDeniedException") from None
            raise _Refusal(403, exc.message, exc.code) from None
    from ..service.policy import is_invoke_allowed

    name, qualifier = config["FunctionName"], config["Qualifier"]
    for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
        if not is_invoke_allowed(svc, name, qualifier, "*", action=action, url_auth_type="NONE", via_url=True):
            raise _Refusal(403, "Forbidden", "AccessDeniedException")
    return None


# ---------------------------------------------------------------------------------------------
# Request -> event


def _domain(svc: Service, req: dict[str, Any]) -> str:
    """The URL's host name: the Host header when it names the URL, else the printed FunctionUrl's."""
    host: str = req["Headers"].get("host", "")
    if HOST_RE.match(host):
        return host.rsplit(":", 1)[0] if not host.endswith("]") else host
    from ..service.urls import function_url

    return urlsplit(function_url(svc, req["UrlId"])).hostname or ""


def _clf_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return any(marker in ct for marker in TEXT_TYPE_MARKERS)


def build_event(req: dict[str, Any], domain: str, caller: sigv4.Signed | None, account_id: str, *,
                now: float | None = None) -> dict[str, Any]:
    """The payload format 2.0 event Lambda sends for a function URL request.

    Keys absent on AWS stay absent here: `cookies`, `queryStringParameters` and `body` when there
    are none, `authorizer` for AuthType NONE, `pathParameters` and `stageVariables` always.
    """
    now = time.time() if now is None else now
    url_id, request_id, port, received = req["UrlId"], req["RequestId"], req["Port"], req["Headers"]
    raw_path, _, raw_query = req["Target"].partition("?")
    source_ip = req["Peer"][0] if req.get("Peer") else "127.0.0.1"
    if source_ip.startswith("::ffff:"):
        source_ip = source_ip[7:]
    headers = {k: v for k, v in received.items() if k not in DROPPED_HEADERS}
    headers.update({
        "x-amzn-trace-id": f"Root=1-{int(now):08x}-{secrets.token_hex(12)}",
        "x-forwarded-for": source_ip,
        "x-forwarded-port": str(port),
        "x-forwarded-proto": "http",
    })
    event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": raw_query}
    cookie = received.get("cookie")
    if cookie:
        event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
    event["headers"] = headers
    if raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    context: dict[str, Any] = {"accountId": "anonymous", "apiId": url_id}
    if caller is not None:
        account = account_id  # a local access key stands for the account the server serves
        context["accountId"] = account
        context["authorizer"] = {"iam": {
            "accessKey": caller.access_key, "accountId": account, "callerId": caller.access_key,
            "cognitoIdentity": None, "principalOrgId": None,
            "userArn": f"arn:aws:iam::{account}:root", "userId": caller.access_key,
        }}
    context.update({
        "domainName": domain,
        "domainPrefix": url_id,
        "http": {"method": req["Method"], "path": raw_path, "protocol": req["Version"], "sourceIp": source_ip,
                 "userAgent": received.get("user-agent", "")},
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _clf_time(now),
        "timeEpoch": int(now * 1000),
    })
    event["requestContext"] = context
    body = req["Body"]
    encoded = False
    if body:
        text: str | None = None
        if _is_text(received.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        encoded = text is None
        event["body"] = base64.b64encode(body).decode("ascii") if text is None else text
    event["isBase64Encoded"] = encoded
    return event


# ---------------------------------------------------------------------------------------------
# Invoke and result -> response


def _invoke(svc: Any, config: dict[str, Any], event: dict[str, Any]) -> tuple[int, Headers, bytes]:
    try:
        result = svc.call("Invoke", {"FunctionName": config["FunctionName"], "Qualifier": config["Qualifier"],
                                     "Payload": json.dumps(event, separators=(",", ":")).encode()})
    except LambdaError as exc:
        if exc.code == "TooManyRequestsException":
            raise _Refusal(429, "Rate Exceeded.", exc.code) from None
        if exc.status == 413:
            raise _Refusal(413, exc.message, exc.code) from None
        raise _Refusal(502, "Internal Server Error") from None
    if result.get("FunctionError"):
        raise _Refusal(502, "Internal Server Error")
    try:
        return to_http(bytes(result.get("Payload") or b""))
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise _Refusal(502, "Internal Server Error") from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _safe(value: Any) -> str:
    text = _text(value)
    if not valid_header("x", text):
        raise ValueError("header value with a line break or control character")
    return text


def _add_header(headers: Headers, name: Any, value: Any) -> None:
    """Append one of the function's headers: a non-token name or a value with CR, LF, NUL or
    another control makes the response malformed (502); framing headers are dropped."""
    name, value = _text(name), _text(value)
    if not valid_header(name, value):
        raise ValueError(f"malformed response header {name!r}")
    if name.lower() not in FRAMING_HEADERS:
        headers.append((name, value))


def to_http(payload: bytes) -> tuple[int, Headers, bytes]:
    """Lambda's inference rules: a JSON object with `statusCode` describes the response
    (statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded); a JSON string is
    the body itself; any other JSON value is returned as the body, 200, application/json.
    Raises ValueError/TypeError for a response Lambda would reject (502)."""
    try:
        doc = json.loads(payload) if payload else None
    except (ValueError, RecursionError):  # a function may answer anything, nested any depth
        return 200, [("Content-Type", "application/json")], payload
    if isinstance(doc, str):
        return 200, [("Content-Type", "application/json")], doc.encode("utf-8")
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return 200, [("Content-Type", "application/json")], payload
    status = doc["statusCode"]
    if isinstance(status, bool) or not isinstance(status, (int, str)):
        raise TypeError("statusCode must be an integer")
    status = int(status)
    if not 200 <= status <= 599:  # an interim (1xx) answer, 101 too, is no answer to a URL request
        raise ValueError("statusCode out of range")
    headers: Headers = []
    for name, value in (doc.get("headers") or {}).items():
        _add_header(headers, name, value)
    for name, values in (doc.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            _add_header(headers, name, value)
    for cookie in doc.get("cookies") or []:
        headers.append(("Set-Cookie", _safe(cookie)))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    raw = doc.get("body")
    if raw is None:
        body = b""
    elif not isinstance(raw, str):
        body = json.dumps(raw, separators=(",", ":")).encode()
    elif doc.get("isBase64Encoded"):
        body = base64.b64decode(raw, validate=True)
    else:
        body = raw.encode("utf-8")
    return status, headers, body


# ---------------------------------------------------------------------------------------------
# CORS


def _origin_allowed(cors: dict[str, Any], origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when the config refuses it."""
    allowed = cors.get("AllowOrigins") or []
    if origin.lower() in (o.lower() for o in allowed):
        return origin
    if "*" in allowed:
        return origin if cors.get("AllowCredentials") else "*"
    return None


def _cors_headers(cors: dict[str, Any], origin: str, *, preflight: bool) -> Headers:
    """CORS headers from the URL config for a request from `origin`. A preflight is answered by
    Lambda itself (methods, headers, max age); a normal response gets them next to any CORS
    headers the function set itself, as AWS does."""
    allow = _origin_allowed(cors, origin)
    if allow is None:
        return []
    lists = (("AllowMethods", "Access-Control-Allow-Methods"), ("AllowHeaders", "Access-Control-Allow-Headers")) \
        if preflight else (("ExposeHeaders", "Access-Control-Expose-Headers"),)
    headers = [("Access-Control-Allow-Origin", allow)]
    for member, header in lists:
        if cors.get(member):
            headers.append((header, ",".join(cors[member])))
    if preflight and cors.get("MaxAge") is not None:
        headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if allow != "*":
        headers.append(("Vary", "Origin"))
    return headers
