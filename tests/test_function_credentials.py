"""Each function gets credentials of its own (as Lambda hands a function its role's) and, under
`lambdactl serve`, AWS_ENDPOINT_URL: with them, code in a real sandbox calls the API of a server
that requires SigV4, and nothing else signs in their place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ACCESS_KEY, SECRET_KEY, boto_lambda
from .helpers import ROLE, make_zip, run_cli

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError  # noqa: E402

# Lists the functions through AWS_ENDPOINT_URL, signing with SigV4 by hand (no boto3 in the
# sandbox) with the environment's credentials, or with the session token the event names.
SIGNING_HANDLER = r'''
import datetime, hashlib, hmac, json, os, urllib.error, urllib.request

def handler(event, context):
    env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")}
    base = env["AWS_ENDPOINT_URL"]
    if not base or event.get("report_only"):
        return {"env": env}
    token = event.get("token") or env["AWS_SESSION_TOKEN"]
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    region, path = os.environ["AWS_REGION"], "/2015-03-31/functions"
    headers = {"host": base.split("//", 1)[1], "x-amz-date": amz, "x-amz-security-token": token}
    names = ";".join(sorted(headers))
    canonical = "\n".join(["GET", path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", names, hashlib.sha256(b"").hexdigest()])
    scope = f"{amz[:8]}/{region}/lambda/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (amz[:8], region, "lambda", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(base + path, headers={
        "X-Amz-Date": amz, "X-Amz-Security-Token": token,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={env['AWS_ACCESS_KEY_ID']}/{scope}, SignedHeaders={names}, Signature={signature}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            status, body = resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        status, body = exc.code, {"code": exc.headers.get("x-amzn-ErrorType")}
    return {"env": env, "status": status, "answer": body}
'''


def _create(lam, name: str) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Timeout=60,
                        Code={"ZipFile": make_zip({"app.py": SIGNING_HANDLER})})


def _invoke(lam, name: str, event: dict | None = None) -> dict:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    result = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, result
    return result


def test_functions_sign_with_their_own_credentials_under_require_auth(auth_server) -> None:
    lam = boto_lambda(auth_server["url"], ACCESS_KEY, SECRET_KEY)
    _create(lam, "a")
    _create(lam, "b")
    a, b = _invoke(lam, "a"), _invoke(lam, "b")
    for result in (a, b):
        assert result["env"]["AWS_ENDPOINT_URL"] == auth_server["url"]
        assert result["status"] == 200, result
        assert sorted(f["FunctionName"] for f in result["answer"]["Functions"]) == ["a", "b"]
    ea, eb = a["env"], b["env"]
    assert ea["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(ea["AWS_ACCESS_KEY_ID"]) == 20
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert ea[key] != eb[key]
    # A warm environment keeps the same credentials.
    assert _invoke(lam, "a")["env"] == ea
    # boto3 with a function's credentials is accepted too (the token travels as X-Amz-Security-Token).
    boto3 = pytest.importorskip("boto3")
    as_a = boto3.client("lambda", endpoint_url=auth_server["url"], region_name="us-east-1", aws_access_key_id=ea["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=ea["AWS_SECRET_ACCESS_KEY"], aws_session_token=ea["AWS_SESSION_TOKEN"])
    assert len(as_a.list_functions()["Functions"]) == 2
    # Forged tokens: another MAC, another function's token with this key, no token at all.
    prefix, subject, mac = ea["AWS_SESSION_TOKEN"].split(".")
    forged_mac = f"{prefix}.{subject}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    _, b_subject, _ = eb["AWS_SESSION_TOKEN"].split(".")
    for token in (forged_mac, f"{prefix}.{b_subject}.{mac}", eb["AWS_SESSION_TOKEN"], None):
        client = boto3.client("lambda", endpoint_url=auth_server["url"], region_name="us-east-1", aws_access_key_id=ea["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=ea["AWS_SECRET_ACCESS_KEY"], aws_session_token=token)
        with pytest.raises(ClientError) as exc:
            client.list_functions()
        assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException", token
    # The same refusal from inside the sandbox.
    assert _invoke(lam, "a", {"token": forged_mac})["status"] == 403


def test_credentials_without_a_server(home: Path, tmp_path: Path) -> None:
    """A one-shot invocation (no server) gets the same credentials and no AWS_ENDPOINT_URL."""
    code = tmp_path / "code.zip"
    code.write_bytes(make_zip({"app.py": SIGNING_HANDLER}))
    r = run_cli("create-function", "--function-name", "a", "--runtime", "python3.12", "--handler", "app.handler", "--role", ROLE,
                "--zip-file", f"fileb://{code}", home=home)
    assert r.code == 0, r.stderr
    out = tmp_path / "out.json"
    assert run_cli("invoke", "--function-name", "a", str(out), home=home).code == 0
    env = json.loads(out.read_bytes())["env"]
    assert env["AWS_ENDPOINT_URL"] is None and env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_ACCESS_KEY_ID"] != "AKIAIOSFODNN7EXAMPLE"
    # A function's own AWS_ENDPOINT_URL (not a reserved name) is kept.
    r = run_cli("update-function-configuration", "--function-name", "a", "--environment", "Variables={AWS_ENDPOINT_URL=http://elsewhere:1}", home=home)
    assert r.code == 0, r.stderr
    assert run_cli("invoke", "--function-name", "a", "--payload", '{"report_only": true}', "--cli-binary-format", "raw-in-base64-out", str(out), home=home).code == 0
    again = json.loads(out.read_bytes())["env"]
    assert again["AWS_ENDPOINT_URL"] == "http://elsewhere:1"
    assert {k: again[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN")} == {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN")}


def test_an_aws_iam_function_url_accepts_a_functions_credentials(keyed_server, home: Path) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from lambdactl.service import Service
    from lambdactl.service.access import function_credentials
    from lambdactl.settings import Settings

    from .test_function_urls import call, make_url

    web = make_url(boto_lambda(keyed_server["url"]), "AWS_IAM", public=False)
    svc = Service(Settings.load(home))
    key, secret, token = function_credentials(svc, "arn:aws:lambda:us-east-1:123456789012:function:caller")
    svc.close()
    # Any other spelling of the token is refused, even one base64 decodes to the same bytes.
    for session_token, expected in ((token, 200), (token[:-1] + ("B" if token[-1] == "A" else "A"), 403), (token + "=", 403)):
        request = AWSRequest(method="GET", url=f"http://{web['host']}/plain")
        SigV4Auth(Credentials(key, secret, session_token), "lambda", "us-east-1").add_auth(request)
        status, _, data = call(web["port"], "GET", "/plain", host=web["host"], headers=list(request.prepare().headers.items()))
        assert status == expected, data
