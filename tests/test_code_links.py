"""Code download links (GetFunction's Code.Location, GetLayerVersion's Content.Location) are
presigned and expire as S3's do; a real server checks them and answers refusals in S3's XML."""

from __future__ import annotations

import http.client
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lambdactl import limits, sigv4
from lambdactl.service import Service
from lambdactl.service.access import SECRET_FILE, home_secret, link_keys
from lambdactl.settings import Settings

from .conftest import ACCESS_KEY, SECRET_KEY, boto_lambda
from .helpers import ROLE, make_zip, run_cli


def fetch(url: str) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.getheader("Content-Type"), body


def s3_error(body: bytes) -> tuple[str, str]:
    text = body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'), text
    code, message = re.search(r"<Code>(.*?)</Code><Message>(.*?)</Message>", text).groups()  # type: ignore[union-attr]
    return code, message


def test_links_download_and_refuse_tampering(server, home: Path) -> None:
    lam = boto_lambda(server["url"])
    code = make_zip({"app.py": "def handler(e, c):\n    return 1\n"})
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code})
    url = lam.get_function(FunctionName="f")["Code"]["Location"]
    query = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))
    assert set(query) == {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}
    assert query["X-Amz-Expires"] == str(limits.CODE_URL_EXPIRES_S) == "600"
    assert url.startswith(server["url"] + "/lambdactl/code/")
    assert fetch(url) == (200, "application/zip", code)
    # A layer's link too.
    layer = lam.publish_layer_version(LayerName="l", Content={"ZipFile": make_zip({"python/m.py": "X = 1\n"})})
    assert fetch(layer["Content"]["Location"])[0] == 200
    # The secret is the home's, made once and private.
    assert (home / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    # Tampered: another signature, another blob, a longer life, or no signature at all.
    other = make_zip({"app.py": "# another\n"})
    lam.update_function_code(FunctionName="f", ZipFile=other, Publish=True)
    other_path = urlsplit(lam.get_function(FunctionName="f")["Code"]["Location"]).path
    for bad in (url[:-4] + ("0000" if not url.endswith("0000") else "1111"),
                url.replace(urlsplit(url).path, other_path),
                url.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")):
        status, kind, body = fetch(bad)
        assert (status, kind) == (403, "application/xml") and s3_error(body)[0] == "SignatureDoesNotMatch", body
    status, _, body = fetch(url.split("?", 1)[0])
    assert status == 403 and s3_error(body) == ("AccessDenied", "Access Denied")


def test_expired_and_over_a_week_links_are_refused(server, home: Path) -> None:
    lam = boto_lambda(server["url"])
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip()})
    # A link made eleven minutes ago (the library, with its clock set back, names the running server).
    past = Service(Settings.load(home), clock=lambda: time.time() - 660)
    url = past.call("GetFunction", {"FunctionName": "f"})["Code"]["Location"]
    past.close()
    assert url.startswith(server["url"])
    status, _, body = fetch(url)
    assert status == 403 and s3_error(body) == ("AccessDenied", "Request has expired")
    assert b"<X-Amz-Expires>600</X-Amz-Expires><Expires>" in body and b"<ServerTime>" in body
    # Properly signed with the home's key, but for more than a week: S3 refuses those outright.
    host = urlsplit(server["url"]).netloc
    path = urlsplit(url).path
    key_id, secret = link_keys(home_secret(Settings.load(home)))
    for expires, expected in ((604_800, 200), (604_801, 400)):
        query = sigv4.presign("GET", host, path, key_id, secret, "us-east-1", "s3", expires, time.time())
        status, _, body = fetch(f"{server['url']}{path}?{query}")
        assert status == expected, body
    assert s3_error(body) == ("AuthorizationQueryParametersError", sigv4.EXPIRES_TOO_LONG_MESSAGE)
    # The credential scope's date must be the link's.
    query = sigv4.presign("GET", host, path, key_id, secret, "us-east-1", "s3", 600, time.time())
    query = re.sub(r"(X-Amz-Credential=[^%]+%2F)\d{8}", r"\g<1>20200101", query)
    status, _, body = fetch(f"{server['url']}{path}?{query}")
    assert status == 400 and s3_error(body)[1].startswith('Invalid credential date "20200101".')


def test_links_work_under_require_auth(auth_server, home: Path, zip_path: Path) -> None:
    lam = boto_lambda(auth_server["url"], ACCESS_KEY, SECRET_KEY)
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": zip_path.read_bytes()})
    url = lam.get_function(FunctionName="f")["Code"]["Location"]
    assert fetch(url)[::2] == (200, zip_path.read_bytes())  # no Authorization: the link is the authorisation
    # The CLI (signing for the server named in server.json) prints the same kind of link.
    got = run_cli("get-function", "--function-name", "f", home=home)
    assert got.code == 0, got.stderr
    assert fetch(got.json["Code"]["Location"])[0] == 200


@pytest.mark.parametrize("kind", ["code", "layer"])
def test_links_name_the_configured_server_when_none_runs(home: Path, kind: str) -> None:
    from lambdactl.settings import write_config

    write_config(home, {"server": {"host": "::1", "port": 9123}})
    svc = Service(Settings.load(home))
    try:
        if kind == "code":
            svc.call("CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
                                        "Code": {"ZipFile": make_zip()}})
            url = svc.call("GetFunction", {"FunctionName": "f"})["Code"]["Location"]
        else:
            url = svc.call("PublishLayerVersion", {"LayerName": "l", "Content": {"ZipFile": make_zip()}})["Content"]["Location"]
    finally:
        svc.close()
    assert re.match(r"http://\[::1\]:9123/lambdactl/(code|layers)/[0-9a-f]{64}\.zip\?X-Amz-Algorithm=AWS4-HMAC-SHA256&", url)


def test_the_home_secret_is_made_once_and_a_bad_one_is_reported(home: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    fresh = tmp_path / "fresh"
    script = "import sys; from lambdactl.service.access import home_secret; from lambdactl.settings import Settings; " \
             "print(home_secret(Settings.load(sys.argv[1])).hex())"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(fresh)], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    seen = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(seen) == 1 and len(seen.pop()) == 64  # racing processes agree on one secret
    assert [p.name for p in fresh.iterdir()] == [SECRET_FILE]  # no temporary file left behind
    (home / SECRET_FILE).write_text("not a key\n")
    r = run_cli("serve", "--port", "0", home=home)
    assert r.code == 253 and "is not a lambdactl signing key; delete it" in r.stderr
    code = tmp_path / "code.zip"
    code.write_bytes(make_zip())
    assert run_cli("create-function", "--function-name", "f", "--runtime", "python3.12", "--handler", "app.handler",
                   "--role", ROLE, "--zip-file", f"fileb://{code}", home=home).code == 0
    r = run_cli("get-function", "--function-name", "f", home=home)
    assert r.code == 254 and "(ServiceException)" in r.stderr and "is not a lambdactl signing key" in r.stderr
