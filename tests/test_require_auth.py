"""`lambdactl serve --require-auth`: boto3 with good, unknown and wrong keys, unsigned and stale
requests, and the CLI signing its own requests; plus the SigV4 verifier against botocore's signer."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from pathlib import Path

import pytest

from lambdactl import sigv4

from .conftest import ACCESS_KEY, SECRET_KEY, boto_lambda
from .helpers import ROLE, create_args, make_zip, run_cli

botocore = pytest.importorskip("botocore")
from botocore.auth import SigV4Auth, SigV4QueryAuth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

KEYS = {ACCESS_KEY: SECRET_KEY}


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_good_key_works_through_boto3(auth_server) -> None:
    lam = boto_lambda(auth_server["url"], ACCESS_KEY, SECRET_KEY)
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip()})
    lam.get_waiter("function_active_v2").wait(FunctionName="f")
    # A function ARN in the path is percent-encoded twice in the canonical request.
    out = lam.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:f", Qualifier="$LATEST", Payload=b'{"a": 1}')
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read()) == {"a": 1}
    assert [f["FunctionName"] for f in lam.list_functions(MaxItems=5)["Functions"]] == ["f"]
    lam.untag_resource(Resource="arn:aws:lambda:us-east-1:123456789012:function:f", TagKeys=["a b", "c"])


def test_unknown_key_is_unrecognized(auth_server) -> None:
    lam = boto_lambda(auth_server["url"], "AKIDSTRANGER", SECRET_KEY)
    with pytest.raises(ClientError) as exc:
        lam.list_functions()
    assert code_of(exc) == ("UnrecognizedClientException", "The security token included in the request is invalid.", 403)


def test_wrong_secret_is_an_invalid_signature(auth_server) -> None:
    lam = boto_lambda(auth_server["url"], ACCESS_KEY, "not-the-secret")
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName="f")
    assert code_of(exc) == ("InvalidSignatureException", sigv4.BAD_SIGNATURE_MESSAGE, 403)
    assert isinstance(exc.value, lam.exceptions.ClientError)


def _raw(url: str, target: str, headers: dict[str, str]) -> tuple[int, str | None, dict]:
    host, port = url.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", target, headers=headers)
    resp = conn.getresponse()
    body = json.loads(resp.read() or b"{}")
    conn.close()
    return resp.status, resp.getheader("x-amzn-ErrorType"), body


def test_unsigned_and_stale_requests_are_refused(auth_server) -> None:
    url = auth_server["url"]
    status, code, body = _raw(url, "/2015-03-31/functions", {})
    assert (status, code, body["message"]) == (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    host = url.split("//", 1)[1]
    # AWS allows 5 minutes of clock skew either way, and says so.
    for skew_s, word in ((-10 * 60, "Signature expired"), (10 * 60, "Signature not yet current")):
        headers: dict[str, str] = {}
        sigv4.sign("GET", host, "/2015-03-31/functions", headers, b"", ACCESS_KEY, SECRET_KEY, "us-east-1", now=time.time() + skew_s)
        status, code, body = _raw(url, "/2015-03-31/functions", headers)
        assert (status, code) == (403, "InvalidSignatureException") and body["message"].startswith(word)
        assert body["message"].endswith(" 5 min.)")
    headers = {}
    sigv4.sign("GET", host, "/2015-03-31/functions", headers, b"", ACCESS_KEY, SECRET_KEY, "us-east-1", now=time.time() - 4 * 60)
    assert _raw(url, "/2015-03-31/functions", headers)[0] == 200  # within the 5-minute skew
    # The health endpoint stays open so liveness checks work without keys.
    assert _raw(url, "/lambdactl/health", {})[0] == 200


def test_health_tells_only_signed_callers_what_runs(auth_server, home: Path) -> None:
    url = auth_server["url"]
    assert _raw(url, "/lambdactl/health", {}) == (200, None, {"status": "ok"})
    headers: dict[str, str] = {}
    sigv4.sign("GET", url.split("//", 1)[1], "/lambdactl/health", headers, b"", ACCESS_KEY, SECRET_KEY, "us-east-1")
    status, _, body = _raw(url, "/lambdactl/health", headers)
    assert status == 200 and body["pid"] == auth_server["pid"] and "pool" in body
    shown = run_cli("serve", "status", "--home", str(home), home=home)  # the CLI signs its own
    assert shown.code == 0 and json.loads(shown.stdout)["pool"] == body["pool"], shown.stdout + shown.stderr


def test_without_require_auth_any_key_or_none_is_accepted(keyed_server) -> None:
    assert boto_lambda(keyed_server["url"], "AKIDANY", "anything").list_functions()["Functions"] == []
    assert _raw(keyed_server["url"], "/2015-03-31/functions", {})[0] == 200


def test_cli_signs_for_a_server_that_requires_auth(auth_server, home: Path, zip_path: Path) -> None:
    # server.json says auth is required: signed from the first request.
    created = run_cli(*create_args("f", zip_path), home=home)
    assert created.code == 0, created.stderr
    # --endpoint-url has no server.json: the CLI signs after the server's challenge.
    listed = run_cli("list-functions", "--endpoint-url", auth_server["url"], home=home)
    assert listed.code == 0, listed.stderr
    assert [f["FunctionName"] for f in listed.json["Functions"]] == ["f"]


def test_cli_without_a_key_reports_the_refusal(auth_server, home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    other.mkdir()
    result = run_cli("list-functions", "--endpoint-url", auth_server["url"], home=other)
    assert result.code == 254
    assert "(MissingAuthenticationTokenException) when calling the ListFunctions operation: Missing Authentication Token" in result.stderr


def test_require_auth_without_keys_is_a_config_error(home: Path) -> None:
    result = run_cli("serve", "--port", "0", "--require-auth", home=home)
    assert result.code == 253 and "[server.credentials]" in result.stderr


# ---------------------------------------------------------------------------------------------
# The verifier against botocore's signer, without a server


def _botocore_signed(method: str, url: str, body: bytes, *, query_auth: bool = False, service: str = "lambda") -> tuple[str, dict[str, str]]:
    from urllib.parse import urlsplit

    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    signer = SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), service, "eu-west-1", expires=60) if query_auth \
        else SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, "eu-west-1")
    signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = parts.netloc
    return parts.path + ("?" + parts.query if parts.query else ""), headers


URLS = [
    "http://127.0.0.1:9001/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations?Qualifier=%24LATEST",
    "http://127.0.0.1:9001/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af?tagKeys=b%20c&tagKeys=a&tagKeys=%2B",
    "http://abc.lambda-url.us-east-1.localhost:9001/a/./b/../c~d?z=1&y=2&y=1",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("query_auth", [False, True])
def test_verifier_accepts_botocore_signatures(url: str, query_auth: bool) -> None:
    body = b"" if query_auth else b'{"a": 1}'
    target, headers = _botocore_signed("POST", url, body, query_auth=query_auth)
    signed = sigv4.verify("POST", target, headers, body, KEYS)
    assert (signed.access_key, signed.region, signed.presigned) == (ACCESS_KEY, "eu-west-1", query_auth)


def test_verifier_refuses_tampering_and_other_services() -> None:
    target, headers = _botocore_signed("POST", URLS[0], b'{"a": 1}')
    for changed in (
        ("PUT", target, headers, b'{"a": 1}'),
        ("POST", target + "&x=1", headers, b'{"a": 1}'),
        ("POST", target, {**headers, "content-type": "text/plain"}, b'{"a": 1}'),
        ("POST", target, headers, b'{"a": 2}'),
        ("POST", target, {**headers, "host": "127.0.0.1:9002"}, b'{"a": 1}'),
    ):
        with pytest.raises(sigv4.SignatureError) as exc:
            sigv4.verify(*changed, KEYS)
        assert exc.value.code == "InvalidSignatureException"
    target, headers = _botocore_signed("POST", URLS[0], b"", service="s3")
    with pytest.raises(sigv4.SignatureError) as exc:
        sigv4.verify("POST", target, headers, b"", KEYS)
    assert exc.value.message.startswith("Credential should be scoped to correct service: 'lambda'")


def test_declared_payload_hash_must_match_the_body() -> None:
    headers = {"x-amz-content-sha256": hashlib.sha256(b"one").hexdigest()}
    sigv4.sign("POST", "h:1", "/p", headers, b"one", ACCESS_KEY, SECRET_KEY, "us-east-1")
    lower = {k.lower(): v for k, v in headers.items()} | {"host": "h:1"}
    assert sigv4.verify("POST", "/p", lower, b"one", KEYS).access_key == ACCESS_KEY
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify("POST", "/p", lower, b"two", KEYS)


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Basic dXNlcjpwYXNz", "IncompleteSignatureException"),
        ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, Signature=00", "IncompleteSignatureException"),
        ("AWS4-HMAC-SHA256 Credential=AKID/us-east-1/lambda, SignedHeaders=host, Signature=00", "IncompleteSignatureException"),
    ],
)
def test_malformed_authorization_headers(authorization: str, code: str) -> None:
    with pytest.raises(sigv4.SignatureError) as exc:
        sigv4.verify("GET", "/", {"authorization": authorization, "x-amz-date": "20260101T000000Z", "host": "h"}, b"", KEYS)
    assert exc.value.code == code


def test_credentials_table_must_map_keys_to_secrets() -> None:
    assert sigv4.credentials(None) == {}
    assert sigv4.credentials({"A": "s"}) == {"A": "s"}
    for bad in ({"A": 1}, {"A": ""}, ["A"]):
        with pytest.raises(ValueError):
            sigv4.credentials(bad)


def test_scope_date_must_be_the_request_date(auth_server) -> None:
    url = auth_server["url"]
    host = url.split("//", 1)[1]
    headers: dict[str, str] = {}
    sigv4.sign("GET", host, "/2015-03-31/functions", headers, b"", ACCESS_KEY, SECRET_KEY, "us-east-1")
    day = headers["X-Amz-Date"][:8]
    # Signed correctly, but over a scope dated another day than X-Amz-Date.
    amz_date = headers["X-Amz-Date"]
    scope = "20200101/us-east-1/lambda/aws4_request"
    creq = sigv4.canonical_request("GET", "/2015-03-31/functions", {"host": host, "x-amz-date": amz_date}, ["host", "x-amz-date"],
                                   hashlib.sha256(b"").hexdigest())
    forged = {"X-Amz-Date": amz_date, "Authorization": f"{sigv4.ALGORITHM} Credential={ACCESS_KEY}/{scope}, "
              f"SignedHeaders=host;x-amz-date, Signature={sigv4.signature(SECRET_KEY, amz_date, scope, creq)}"}
    status, code, body = _raw(url, "/2015-03-31/functions", forged)
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"] == ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                               f"'20200101' != '{day}', from '{amz_date}'.")


def test_presigned_api_requests_live_at_most_a_week(auth_server) -> None:
    from urllib.parse import urlsplit

    url = auth_server["url"] + "/2015-03-31/functions"
    for expires, expected in ((604_800, 200), (604_801, 400)):
        request = AWSRequest(method="GET", url=url)
        SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", "us-east-1", expires=expires).add_auth(request)
        parts = urlsplit(request.prepare().url)
        status, code, body = _raw(auth_server["url"], f"{parts.path}?{parts.query}", {})
        assert status == expected, body
    assert (code, body["message"]) == ("AuthorizationQueryParametersError", sigv4.EXPIRES_TOO_LONG_MESSAGE)
