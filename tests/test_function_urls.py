"""Function URLs served by a real `lambdactl serve`, called with plain HTTP (http.client): the
payload 2.0 event, Lambda's response rules, CORS, AuthType NONE's policy and AWS_IAM's SigV4."""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest

from lambdactl.errors import LambdaError
from lambdactl.service import function_urls

from .conftest import ACCESS_KEY, SECRET_KEY, boto_lambda
from .helpers import ROLE, make_zip, run_cli

HANDLER = r'''
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path == "/plain":
        return {"a": 1, "n": None}
    if path == "/string":
        return "hello"
    if path == "/list":
        return [1, 2]
    if path == "/error":
        raise ValueError("boom")
    if path == "/bad-status":
        return {"statusCode": "abc"}
    if path == "/binary":
        return {"statusCode": 200, "headers": {"content-type": "image/png"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if path == "/shaped":
        return {"statusCode": 418, "headers": {"x-one": "1", "content-type": "text/plain"},
                "multiValueHeaders": {"x-multi": ["a", "b"]}, "cookies": ["s=1; Path=/", "t=2"], "body": "teapot"}
    return {"statusCode": 200, "body": json.dumps(event)}
'''

CORS = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["x-one"], "MaxAge": 300, "AllowCredentials": True}


def call(port: int, method: str, target: str, *, host: str | None = None, headers: list[tuple[str, str]] | None = None,
         body: bytes = b"") -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to 127.0.0.1:port with exactly these headers (duplicates kept)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{port}")
    for k, v in headers or []:
        conn.putheader(k, v)
    if body or method in ("POST", "PUT"):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body or None)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.msg, data


def make_url(lam, auth: str = "NONE", *, public: bool = True, name: str = "web") -> dict:
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": HANDLER})})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    config = lam.create_function_url_config(FunctionName=name, AuthType=auth, Cors=CORS)
    if public:
        lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                           FunctionUrlAuthType="NONE")
        lam.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                           InvokedViaFunctionUrl=True)
    parts = urlsplit(config["FunctionUrl"])
    url_id = parts.hostname.split(".")[0]  # type: ignore[union-attr]
    return {"url": config["FunctionUrl"], "id": url_id, "port": parts.port, "host": parts.netloc, "name": name}


@pytest.fixture
def web(lam) -> dict:
    return make_url(lam)


def echo(web: dict, method: str = "GET", path: str = "/echo", **kw) -> dict:
    status, _, data = call(web["port"], method, path, host=web["host"], **kw)
    assert status == 200, data
    return json.loads(data)


def test_function_url_names_the_running_server(lam, server, web, home) -> None:
    assert web["port"] == int(server["url"].rsplit(":", 1)[1])  # the server listens on --port 0
    assert web["host"] == f"{web['id']}.lambda-url.us-east-1.localhost:{web['port']}"
    assert len(web["id"]) == 32 and web["id"].isalnum() and web["id"].islower()
    through_cli = run_cli("get-function-url-config", "--function-name", "web", home=home)
    assert through_cli.code == 0 and through_cli.json["FunctionUrl"] == web["url"]


def test_get_event_is_payload_format_2(web) -> None:
    event = echo(web, "GET", "/echo/a%20b", headers=[("User-Agent", "tester/1"), ("X-Dup", "one"), ("X-Dup", "two")])
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == ("2.0", "$default", "/echo/a%20b", "")
    assert "queryStringParameters" not in event and "cookies" not in event and "body" not in event
    assert "pathParameters" not in event and event["isBase64Encoded"] is False
    headers = event["headers"]
    assert headers["x-dup"] == "one,two" and headers["user-agent"] == "tester/1" and headers["host"] == web["host"]
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == str(web["port"]) and headers["x-amzn-trace-id"].startswith("Root=1-")
    ctx = event["requestContext"]
    assert ctx["accountId"] == "anonymous" and "authorizer" not in ctx
    assert (ctx["apiId"], ctx["domainPrefix"]) == (web["id"], web["id"])
    assert ctx["domainName"] == f"{web['id']}.lambda-url.us-east-1.localhost"
    assert ctx["http"] == {"method": "GET", "path": "/echo/a%20b", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tester/1"}
    assert (ctx["routeKey"], ctx["stage"]) == ("$default", "$default")
    assert len(ctx["requestId"]) == 36 and isinstance(ctx["timeEpoch"], int)
    assert ctx["time"].endswith(" +0000") and ctx["time"][2] == "/"


def test_post_with_query_cookies_and_text_body(web) -> None:
    event = echo(web, "POST", "/echo?a=1&a=2&b=x%20y&empty=", body=b'{"k": "v"}',
                 headers=[("Content-Type", "application/json"), ("Cookie", "c1=v1; c2=v2")])
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in event["headers"]
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"


def test_binary_bodies_travel_as_base64(web) -> None:
    raw = bytes(range(256))
    event = echo(web, "POST", "/echo", body=raw, headers=[("Content-Type", "application/octet-stream")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    # Text that is not UTF-8 cannot be passed as a string either.
    event = echo(web, "PUT", "/echo", body=b"\xff\xfe", headers=[("Content-Type", "text/plain")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"
    status, headers, data = call(web["port"], "GET", "/binary", host=web["host"])
    assert status == 200 and headers["content-type"] == "image/png" and data == raw


def test_path_form_reaches_the_same_function(web) -> None:
    status, _, data = call(web["port"], "GET", f"/lambdactl/url/{web['id']}/echo/x?q=1")
    event = json.loads(data)
    assert status == 200 and event["rawPath"] == "/echo/x" and event["queryStringParameters"] == {"q": "1"}
    assert event["requestContext"]["domainName"] == f"{web['id']}.lambda-url.us-east-1.localhost"
    status, _, data = call(web["port"], "GET", f"/lambdactl/url/{web['id']}?q=2")
    assert status == 200 and json.loads(data)["rawPath"] == "/"


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body"),
    [
        ("/plain", 200, "application/json", {"a": 1, "n": None}),
        ("/list", 200, "application/json", [1, 2]),
        ("/error", 502, "application/json", {"Message": "Internal Server Error"}),
        ("/bad-status", 502, "application/json", {"Message": "Internal Server Error"}),
    ],
)
def test_results_without_status_code_and_errors(web, path: str, status: int, content_type: str, body: object) -> None:
    got_status, headers, data = call(web["port"], "GET", path, host=web["host"])
    assert (got_status, headers["content-type"], json.loads(data)) == (status, content_type, body)


def test_string_result_is_the_body(web) -> None:
    status, headers, data = call(web["port"], "GET", "/string", host=web["host"])
    assert (status, headers["content-type"], data) == (200, "application/json", b"hello")


def test_shaped_result_sets_status_headers_and_cookies(web) -> None:
    status, headers, data = call(web["port"], "GET", "/shaped", host=web["host"])
    assert (status, data) == (418, b"teapot")
    assert headers["x-one"] == "1" and headers["content-type"] == "text/plain"
    assert headers.get_all("x-multi") == ["a", "b"]
    assert headers.get_all("set-cookie") == ["s=1; Path=/", "t=2"]
    assert headers["x-amzn-requestid"]


def test_cors_preflight_and_response_headers(web) -> None:
    status, headers, data = call(web["port"], "OPTIONS", "/anything", host=web["host"], headers=[
        ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")])
    assert (status, data) == (200, b"")
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-allow-headers"] == "x-custom"
    assert headers["access-control-max-age"] == "300"
    assert headers["access-control-allow-credentials"] == "true"
    # An origin the config does not list gets no CORS headers, so the browser refuses.
    status, headers, _ = call(web["port"], "OPTIONS", "/anything", host=web["host"], headers=[
        ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")])
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = call(web["port"], "GET", "/shaped", host=web["host"], headers=[("Origin", "https://app.example")])
    assert status == 418 and headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "x-one"
    status, headers, _ = call(web["port"], "GET", "/shaped", host=web["host"])
    assert "access-control-allow-origin" not in headers


def test_none_needs_both_public_permissions(lam) -> None:
    web = make_url(lam, public=False)
    forbidden = (403, {"Message": "Forbidden"})

    def attempt() -> tuple[int, object]:
        status, _, data = call(web["port"], "GET", "/plain", host=web["host"])
        return status, json.loads(data)

    assert attempt() == forbidden
    # Granted for AWS_IAM URLs only: does not open a NONE URL.
    lam.add_permission(FunctionName="web", StatementId="iam", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="AWS_IAM")
    assert attempt() == forbidden
    lam.add_permission(FunctionName="web", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    assert attempt() == forbidden  # since October 2025 AWS also wants lambda:InvokeFunction
    lam.add_permission(FunctionName="web", StatementId="invoke", Action="lambda:InvokeFunction", Principal="*")
    assert attempt() == (200, {"a": 1, "n": None})


def test_unknown_url_id_is_forbidden(server) -> None:
    port = int(server["url"].rsplit(":", 1)[1])
    status, headers, data = call(port, "GET", "/", host=f"{'a' * 32}.lambda-url.us-east-1.localhost:{port}")
    assert (status, json.loads(data), headers["x-amzn-errortype"]) == (403, {"Message": None}, "AccessDeniedException")


def test_throttled_url_answers_429(lam, web) -> None:
    lam.put_function_concurrency(FunctionName="web", ReservedConcurrentExecutions=0)
    status, headers, data = call(web["port"], "GET", "/plain", host=web["host"])
    assert (status, json.loads(data), headers["x-amzn-errortype"]) == (429, {"Message": "Rate Exceeded."}, "TooManyRequestsException")


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (LambdaError("TooManyRequestsException", "Rate Exceeded.", 429, Reason="ReservedFunctionConcurrentInvocationLimitExceeded"), 429, "Rate Exceeded."),
        (LambdaError("RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"), 413,
         "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
        (LambdaError("ResourceNotReadyException", "The function is currently in the following state: Inactive", 502), 502, "Internal Server Error"),
    ],
)
def test_invoke_errors_map_to_url_statuses(error: LambdaError, status: int, message: str) -> None:
    """Invoke's refusals as a URL caller sees them (Invoke itself is tested elsewhere)."""

    class Refusing:
        def call(self, op: str, request: dict) -> dict:
            assert op == "Invoke" and request["FunctionName"] == "f" and request["Qualifier"] is None
            raise error

    with pytest.raises(function_urls._Refusal) as info:
        function_urls._invoke(Refusing(), {"FunctionName": "f", "Qualifier": None}, {})
    assert (info.value.status, info.value.message) == (status, message)


def test_alias_url_invokes_the_alias(lam) -> None:
    web = make_url(lam, public=False)
    lam.publish_version(FunctionName="web")
    lam.create_alias(FunctionName="web", Name="live", FunctionVersion="1")
    alias = lam.create_function_url_config(FunctionName="web", Qualifier="live", AuthType="NONE")
    parts = urlsplit(alias["FunctionUrl"])
    assert parts.netloc != web["host"]
    status, _, _ = call(parts.port, "GET", "/plain", host=parts.netloc)  # type: ignore[arg-type]
    assert status == 403  # the unqualified function's policy does not open the alias
    for sid, action in (("url", "lambda:InvokeFunctionUrl"), ("invoke", "lambda:InvokeFunction")):
        lam.add_permission(FunctionName="web", Qualifier="live", StatementId=sid, Action=action, Principal="*")
    status, _, data = call(parts.port, "GET", "/echo", host=parts.netloc)  # type: ignore[arg-type]
    assert status == 200 and json.loads(data)["requestContext"]["apiId"] == parts.hostname.split(".")[0]  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# AWS_IAM


def signed_call(web: dict, method: str, path: str, body: bytes = b"", *, key: str = ACCESS_KEY, secret: str = SECRET_KEY,
                tamper: bytes | None = None, path_form: bool = False) -> tuple[int, http.client.HTTPMessage, bytes]:
    """A request signed by botocore's SigV4Auth for service lambda (as an SDK calling an IAM URL does)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = f"127.0.0.1:{web['port']}" if path_form else web["host"]
    target = f"/lambdactl/url/{web['id']}{path}" if path_form else path
    request = AWSRequest(method=method, url=f"http://{host}{target}", data=body, headers={"Content-Type": "text/plain"})
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
    headers = [(k, v) for k, v in request.prepare().headers.items() if k.lower() != "content-length"]
    return call(web["port"], method, target, host=host, headers=headers, body=tamper if tamper is not None else body)


@pytest.fixture
def iam_web(keyed_server) -> dict:
    return make_url(boto_lambda(keyed_server["url"]), "AWS_IAM", public=False)


def test_aws_iam_accepts_a_signed_request(iam_web) -> None:
    status, _, data = signed_call(iam_web, "POST", "/echo?x=1&a=b", b"payload")
    assert status == 200, data
    event = json.loads(data)
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == ACCESS_KEY and iam["accountId"] == "123456789012"
    assert event["requestContext"]["accountId"] == "123456789012"
    assert event["body"] == "payload" and event["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")
    status, _, data = signed_call(iam_web, "GET", "/echo/p?q=1", path_form=True)
    assert status == 200 and json.loads(data)["rawPath"] == "/echo/p"


@pytest.mark.parametrize(
    ("kwargs", "error_type", "message"),
    [
        ({"secret": "wrong"}, "InvalidSignatureException", "The request signature we calculated does not match"),
        ({"tamper": b"other"}, "InvalidSignatureException", "The request signature we calculated does not match"),
        ({"key": "AKIDUNKNOWN"}, "UnrecognizedClientException", "The security token included in the request is invalid."),
    ],
)
def test_aws_iam_refuses_bad_signatures(iam_web, kwargs: dict, error_type: str, message: str) -> None:
    status, headers, data = signed_call(iam_web, "POST", "/echo", b"payload", **kwargs)
    assert status == 403 and headers["x-amzn-errortype"] == error_type
    assert json.loads(data)["Message"].startswith(message)


def test_aws_iam_refuses_unsigned_requests(iam_web) -> None:
    status, _, data = call(iam_web["port"], "GET", "/echo", host=iam_web["host"])
    assert (status, json.loads(data)) == (403, {"Message": "Forbidden"})
