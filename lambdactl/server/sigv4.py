"""AWS Signature Version 4: signing a request (the CLI's client) and verifying one (the server).

One canonicalisation serves both sides, so a request this module signs is exactly one it accepts,
and a request botocore signs for service `lambda` canonicalises the same way here: the path as
sent is URI-encoded once more (botocore's rule for every service but S3), the query pairs are
decoded, re-encoded and sorted, header values are trimmed with inner runs of spaces collapsed.
Both header (`Authorization: AWS4-HMAC-SHA256 ...`) and query-string (presigned) signatures are
verified. Knows nothing of Lambda operations; only `hashlib`, `hmac` and `urllib.parse`.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW_S = 15 * 60
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MISSING_TOKEN = ("MissingAuthenticationTokenException", "Missing Authentication Token")
UNKNOWN_KEY_MESSAGE = "The security token included in the request is invalid."
BAD_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


class SignatureError(Exception):
    """A request that fails authentication: AWS's error code and message (HTTP 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Signed(NamedTuple):
    """The parts of a request's signature: who signed, for which scope, over which headers."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: str
    presigned: bool
    expires_s: int | None = None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


# ---------------------------------------------------------------------------------------------
# Canonical form, shared by the signer and the verifier


def _normalize_path(path: str) -> str:
    """Remove `.` and `..` segments as botocore does before encoding (RFC 3986 5.2.4)."""
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    normalized = "/".join(out)
    if not normalized.startswith("/"):
        normalized = "/" + normalized
    if path.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return normalized


def canonical_query(query_string: str, *, drop: str | None = None) -> str:
    """Each pair decoded then encoded with AWS's unreserved set, sorted by key then value."""
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&") if query_string else ():
        key, _, value = part.partition("=")
        key, value = unquote(key), unquote(value)
        if key == drop:
            continue
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header_value(value: str) -> str:
    return " ".join(value.split())


def canonical_request(method: str, target: str, headers: Mapping[str, str], signed_headers: list[str],
                      payload_hash: str, *, drop_query: str | None = None) -> str:
    """The canonical request of `method target`; `headers` has lower-case names."""
    path, _, query = target.partition("?")
    lines = [method.upper(), quote(_normalize_path(path), safe="/~"), canonical_query(query, drop=drop_query)]
    lines += [f"{name}:{_header_value(headers.get(name, ''))}" for name in signed_headers]
    lines += ["", ";".join(signed_headers), payload_hash]
    return "\n".join(lines)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signature(secret: str, amz_date: str, scope: str, creq: str) -> str:
    """The hex signature of a canonical request under `scope` (date/region/service/aws4_request)."""
    date, region, service, _ = scope.split("/")
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def credentials(table: object) -> dict[str, str]:
    """The access keys a server accepts: config.toml's `[server.credentials]`, `AKID = "secret"`."""
    if table is None:
        return {}
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in table.items()):
        raise ValueError('[server.credentials] must map access key ids to secret keys: AKID = "secret"')
    return dict(table)


# ---------------------------------------------------------------------------------------------
# Signing (the CLI's client of `lambdactl serve --require-auth`)


def sign(method: str, host: str, target: str, headers: dict[str, str], body: bytes, access_key: str,
         secret: str, region: str, service: str = "lambda", now: float | None = None) -> None:
    """Add `X-Amz-Date` and `Authorization` to `headers` for a request sent with `Host: host`."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    headers["X-Amz-Date"] = amz_date
    lower = {k.lower(): v for k, v in headers.items()}
    lower["host"] = host
    signed = sorted(lower)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    creq = canonical_request(method, target, lower, signed, hashlib.sha256(body).hexdigest())
    sig = signature(secret, amz_date, scope, creq)
    headers["Authorization"] = f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"


# ---------------------------------------------------------------------------------------------
# Verifying


def _incomplete(message: str) -> SignatureError:
    return SignatureError("IncompleteSignatureException", message)


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise _incomplete(f"Credential should be scoped to a valid region, service and date: '{value}'.")
    return parts[0], parts[1], parts[2], parts[3]


def parse_signature(target: str, headers: Mapping[str, str]) -> Signed | None:
    """The signature carried by a request (Authorization header, else query string), or None."""
    auth = headers.get("authorization")
    if auth is not None:
        algorithm, _, rest = auth.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise _incomplete(f"Unsupported authorization type: {algorithm or auth!r}; only {ALGORITHM} is accepted.")
        fields: dict[str, str] = {}
        for item in rest.split(","):
            k, sep, v = item.strip().partition("=")
            if sep:
                fields[k] = v
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
        if missing:
            raise _incomplete(f"Authorization header requires '{missing[0]}' parameter. Authorization={auth}")
        amz_date = headers.get("x-amz-date") or ""
        if not amz_date:
            raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        key, date, region, service = _credential(fields["Credential"])
        return Signed(key, date, region, service, fields["SignedHeaders"].split(";"), fields["Signature"], amz_date, False)
    _, _, query = target.partition("?")
    params = {}
    for part in query.split("&") if query else ():
        k, _, v = part.partition("=")
        params[unquote(k)] = unquote(v)
    if params.get("X-Amz-Algorithm") != ALGORITHM or "X-Amz-Signature" not in params:
        return None
    try:
        key, date, region, service = _credential(params["X-Amz-Credential"])
        expires = int(params.get("X-Amz-Expires", "0"))
        return Signed(key, date, region, service, params["X-Amz-SignedHeaders"].split(";"),
                      params["X-Amz-Signature"], params["X-Amz-Date"], True, expires)
    except (KeyError, ValueError):
        raise _incomplete("A presigned request needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires and X-Amz-SignedHeaders.") from None


def _epoch(amz_date: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.") from None


def _stamp(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def verify(method: str, target: str, headers: Mapping[str, str], body: bytes | None, credentials: Mapping[str, str],
           *, service: str = "lambda", now: float | None = None) -> Signed:
    """Check a request's SigV4 signature against `credentials` (access key -> secret).

    Returns the signature's parts (who signed) or raises `SignatureError` with the code AWS sends:
    MissingAuthenticationTokenException (unsigned), IncompleteSignatureException (malformed),
    UnrecognizedClientException (unknown key), InvalidSignatureException (wrong signature, wrong
    service, or a date outside the allowed clock skew). Any region is accepted: the local server
    answers for whatever region a client is configured with. `body` None checks what the head
    allows (all of it when x-amz-content-sha256 is sent), before a body is read.
    """
    signed = parse_signature(target, headers)
    if signed is None:
        raise SignatureError(*MISSING_TOKEN)
    secret = credentials.get(signed.access_key)
    if secret is None:
        raise SignatureError("UnrecognizedClientException", UNKNOWN_KEY_MESSAGE)
    if signed.service != service:
        raise SignatureError("InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'. ")
    now = time.time() if now is None else now
    when = _epoch(signed.amz_date)
    if signed.presigned:
        if now > when + (signed.expires_s or 0) + MAX_CLOCK_SKEW_S:
            raise SignatureError("InvalidSignatureException", f"Signature expired: {signed.amz_date} is now earlier than {_stamp(now - MAX_CLOCK_SKEW_S)}.")
    elif when < now - MAX_CLOCK_SKEW_S:
        raise SignatureError("InvalidSignatureException", f"Signature expired: {signed.amz_date} is now earlier than "
                             f"{_stamp(now - MAX_CLOCK_SKEW_S)} ({_stamp(now)} - 15 min.)")
    if when > now + MAX_CLOCK_SKEW_S:
        raise SignatureError("InvalidSignatureException", f"Signature not yet current: {signed.amz_date} is still later than "
                             f"{_stamp(now + MAX_CLOCK_SKEW_S)} ({_stamp(now)} + 15 min.)")
    if "host" not in signed.signed_headers:
        raise SignatureError("InvalidSignatureException", "'Host' must be a signed header.")
    declared = headers.get("x-amz-content-sha256")
    if body is None and not declared:
        return signed  # head only: the signature covers the body's hash, checked once it is read
    candidates = [declared] if declared else [hashlib.sha256(body or b"").hexdigest()]
    if signed.presigned and not declared:
        candidates.append(UNSIGNED_PAYLOAD)
    if declared and body is not None and declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(body).hexdigest():
        raise SignatureError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
    drop = "X-Amz-Signature" if signed.presigned else None
    for payload_hash in candidates:
        assert payload_hash is not None
        creq = canonical_request(method, target, headers, signed.signed_headers, payload_hash, drop_query=drop)
        if hmac.compare_digest(signature(secret, signed.amz_date, signed.scope, creq), signed.signature):
            return signed
    raise SignatureError("InvalidSignatureException", BAD_SIGNATURE_MESSAGE)
