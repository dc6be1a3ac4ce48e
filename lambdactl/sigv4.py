"""AWS Signature Version 4: signing a request (the CLI's client) and verifying one (the server).

One canonicalisation serves both sides, so a request this module signs is exactly one it accepts,
and a request botocore signs for service `lambda` canonicalises the same way here: the path as
sent is URI-encoded once more (botocore's rule for every service but S3), the query pairs are
decoded, re-encoded and sorted, header values are trimmed with inner runs of spaces collapsed.
Both header (`Authorization: AWS4-HMAC-SHA256 ...`) and query-string (presigned) signatures are
verified, with the errors the Lambda API words (`verify`) or, for presigned downloads, S3's
(`verify_presigned`). Temporary credentials carry a session token (`X-Amz-Security-Token`), handed
to the caller's key lookup with the key id. Knows nothing of Lambda operations; only `hashlib`,
`hmac` and `urllib.parse`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import namedtuple
from collections.abc import Mapping
from urllib.parse import quote, unquote

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a CLI command that presigns a code link a few milliseconds
    from collections.abc import Callable
    from typing import Union

    # The keys a verifier accepts: access key id -> secret (long-term keys, no session token),
    # or a lookup of (access key id, session token or None) -> secret or None.
    Keys = Union[Mapping[str, str], Callable[[str, "str | None"], "str | None"]]

ALGORITHM = "AWS4-HMAC-SHA256"
# AWS refuses a header signature dated more than 5 minutes from its clock (Lambda's words:
# "Signature expired: ... (... - 5 min.)"); a presigned link lives at most a week.
MAX_CLOCK_SKEW_S = 5 * 60
MAX_PRESIGNED_EXPIRES_S = 604_800
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
UNSIGNED_PAYLOAD_MESSAGE = ("x-amz-content-sha256 UNSIGNED-PAYLOAD is not accepted: "
                            "sign the SHA-256 of the request body.")
MISSING_TOKEN = ("MissingAuthenticationTokenException", "Missing Authentication Token")
UNKNOWN_KEY_MESSAGE = "The security token included in the request is invalid."
BAD_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


S3_BAD_SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you provided. "
                            "Check your key and signing method.")
EXPIRES_TOO_LONG_MESSAGE = ("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
                            f"must be less than {MAX_PRESIGNED_EXPIRES_S} seconds")


class SignatureError(Exception):
    """A request that fails authentication: AWS's error code, message and HTTP status, and the
    extra members S3's XML errors carry (`details`)."""

    def __init__(self, code: str, message: str, status: int = 403, details: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details

    def s3_document(self, request_id: str) -> bytes:
        """This refusal as S3's XML error document (a presigned download's refusal is S3's)."""
        from xml.sax.saxutils import escape

        members = (("Code", self.code), ("Message", self.message), *self.details, ("RequestId", request_id))
        inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in members)
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()


class Signed(namedtuple("Signed", "access_key date region service signed_headers signature amz_date presigned "
                                   "expires_s session_token", defaults=(None, None))):
    """The parts of a request's signature: who signed (access key, session token), for which
    scope, over which headers (a list), dated `amz_date`; `expires_s` for presigned ones."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: str
    presigned: bool
    expires_s: int | None
    session_token: str | None

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
         secret: str, region: str, service: str = "lambda", now: float | None = None, session_token: str | None = None) -> None:
    """Add `X-Amz-Date` and `Authorization` (and `X-Amz-Security-Token` for temporary credentials)
    to `headers` for a request sent with `Host: host`."""
    amz_date = _stamp(time.time() if now is None else now)
    headers["X-Amz-Date"] = amz_date
    if session_token is not None:
        headers["X-Amz-Security-Token"] = session_token
    lower = {k.lower(): v for k, v in headers.items()}
    lower["host"] = host
    signed = sorted(lower)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    creq = canonical_request(method, target, lower, signed, hashlib.sha256(body).hexdigest())
    sig = signature(secret, amz_date, scope, creq)
    headers["Authorization"] = f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"


def presign(method: str, host: str, path: str, access_key: str, secret: str, region: str, service: str,
            expires_s: int, now: float) -> str:
    """The query string (X-Amz-Algorithm ... X-Amz-Signature) presigning `method path` for
    `Host: host`, valid `expires_s` seconds from `now`, as S3's presigned URLs are."""
    amz_date = _stamp(now)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    params = (("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{access_key}/{scope}"), ("X-Amz-Date", amz_date),
              ("X-Amz-Expires", str(expires_s)), ("X-Amz-SignedHeaders", "host"))
    query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in params)
    creq = canonical_request(method, f"{path}?{query}", {"host": host}, ["host"], UNSIGNED_PAYLOAD)
    return f"{query}&X-Amz-Signature={signature(secret, amz_date, scope, creq)}"


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
        return Signed(key, date, region, service, fields["SignedHeaders"].split(";"), fields["Signature"], amz_date, False,
                      session_token=headers.get("x-amz-security-token"))
    params = _query_params(target)
    if params.get("X-Amz-Algorithm") != ALGORITHM or "X-Amz-Signature" not in params:
        return None
    try:
        key, date, region, service = _credential(params["X-Amz-Credential"])
        expires = int(params.get("X-Amz-Expires", "0"))
        return Signed(key, date, region, service, params["X-Amz-SignedHeaders"].split(";"),
                      params["X-Amz-Signature"], params["X-Amz-Date"], True, expires, params.get("X-Amz-Security-Token"))
    except (KeyError, ValueError):
        raise _incomplete("A presigned request needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires and X-Amz-SignedHeaders.") from None


def _query_params(target: str) -> dict[str, str]:
    params = {}
    for part in target.partition("?")[2].split("&"):
        if part:
            k, _, v = part.partition("=")
            params[unquote(k)] = unquote(v)
    return params


def _secret_of(keys: Keys, signed: Signed) -> str | None:
    if callable(keys):
        return keys(signed.access_key, signed.session_token)
    # Long-term keys take no session token: one sent with them is a forged or stale one.
    return keys.get(signed.access_key) if signed.session_token is None else None


def _signature_matches(method: str, target: str, headers: Mapping[str, str], signed: Signed, secret: str,
                       payload_hashes: list[str]) -> bool:
    drop = "X-Amz-Signature" if signed.presigned else None
    for payload_hash in payload_hashes:
        creq = canonical_request(method, target, headers, signed.signed_headers, payload_hash, drop_query=drop)
        if hmac.compare_digest(signature(secret, signed.amz_date, signed.scope, creq), signed.signature):
            return True
    return False


def _epoch(amz_date: str) -> float:
    import calendar

    try:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.") from None


def _stamp(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def verify(method: str, target: str, headers: Mapping[str, str], body: bytes | None, credentials: Keys,
           *, service: str = "lambda", now: float | None = None) -> Signed:
    """Check a request's SigV4 signature against `credentials` (see `Keys`).

    Returns the signature's parts (who signed) or raises `SignatureError` with the code AWS sends:
    MissingAuthenticationTokenException (unsigned), IncompleteSignatureException (malformed),
    AuthorizationQueryParametersError (a presignature of more than a week), UnrecognizedClientException
    (unknown key or session token), InvalidSignatureException (wrong signature, wrong service, a
    scope date other than the request's, or a date outside the allowed clock skew). Any region is
    accepted: the local server answers for whatever region a client is configured with.
    `body` None checks what the head allows (all of it when x-amz-content-sha256 is sent), before a
    body is read.
    """
    signed = parse_signature(target, headers)
    if signed is None:
        raise SignatureError(*MISSING_TOKEN)
    if signed.presigned and (signed.expires_s or 0) > MAX_PRESIGNED_EXPIRES_S:
        raise SignatureError("AuthorizationQueryParametersError", EXPIRES_TOO_LONG_MESSAGE, 400)
    if signed.date != signed.amz_date[:8]:
        raise SignatureError("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                             f"version of date from HTTP: '{signed.date}' != '{signed.amz_date[:8]}', from '{signed.amz_date}'.")
    secret = _secret_of(credentials, signed)
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
                             f"{_stamp(now - MAX_CLOCK_SKEW_S)} ({_stamp(now)} - 5 min.)")
    if when > now + MAX_CLOCK_SKEW_S:
        raise SignatureError("InvalidSignatureException", f"Signature not yet current: {signed.amz_date} is still later than "
                             f"{_stamp(now + MAX_CLOCK_SKEW_S)} ({_stamp(now)} + 5 min.)")
    if "host" not in signed.signed_headers:
        raise SignatureError("InvalidSignatureException", "'Host' must be a signed header.")
    declared = headers.get("x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD and not signed.presigned:
        # Lambda signs its payloads: a header signature over UNSIGNED-PAYLOAD would vouch for any
        # body sent with it, so a captured request could be replayed with another one.
        raise SignatureError("InvalidSignatureException", UNSIGNED_PAYLOAD_MESSAGE)
    if body is None and not declared:
        return signed  # head only: the signature covers the body's hash, checked once it is read
    candidates = [declared] if declared else [hashlib.sha256(body or b"").hexdigest()]
    if signed.presigned and not declared:
        candidates.append(UNSIGNED_PAYLOAD)
    if declared and body is not None and declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(body).hexdigest():
        raise SignatureError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
    if _signature_matches(method, target, headers, signed, secret, [c for c in candidates if c is not None]):
        return signed
    raise SignatureError("InvalidSignatureException", BAD_SIGNATURE_MESSAGE)


def _query_error(message: str) -> SignatureError:
    return SignatureError("AuthorizationQueryParametersError", message, 400)


def _server_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def verify_presigned(method: str, target: str, headers: Mapping[str, str], credentials: Keys, *,
                     now: float | None = None) -> Signed:
    """Check a presigned download link as S3 checks one, in S3's order and words: the query's
    parameters, X-Amz-Expires (a week at most), the link's lifetime, the credential scope's date,
    the key, the signature. A request without a presignature is AccessDenied."""
    params = _query_params(target)
    if "X-Amz-Algorithm" not in params:
        raise SignatureError("AccessDenied", "Access Denied")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _query_error(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    names = ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires")
    if any(name not in params for name in names):
        raise _query_error("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                           "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    amz_date = params["X-Amz-Date"]
    try:
        when = _epoch(amz_date)
    except SignatureError:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from None
    try:
        expires_s = int(params["X-Amz-Expires"])
    except ValueError:
        raise _query_error("X-Amz-Expires should be a number") from None
    if expires_s < 0:
        raise _query_error("X-Amz-Expires must be non-negative")
    if expires_s > MAX_PRESIGNED_EXPIRES_S:
        raise _query_error(EXPIRES_TOO_LONG_MESSAGE)
    now = time.time() if now is None else now
    times = (("X-Amz-Expires", str(expires_s)), ("Expires", _server_time(when + expires_s)), ("ServerTime", _server_time(now)))
    if when > now + MAX_CLOCK_SKEW_S:
        raise SignatureError("AccessDenied", "Request is not yet valid", details=times)
    if now > when + expires_s:
        raise SignatureError("AccessDenied", "Request has expired", details=times)
    parts = params["X-Amz-Credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _query_error("Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "
                           '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    if parts[1] != amz_date[:8]:
        raise _query_error(f'Invalid credential date "{parts[1]}". This date is not the same as X-Amz-Date: "{amz_date[:8]}".')
    signed = Signed(parts[0], parts[1], parts[2], parts[3], params["X-Amz-SignedHeaders"].split(";"), params["X-Amz-Signature"],
                    amz_date, True, expires_s, params.get("X-Amz-Security-Token"))
    secret = _secret_of(credentials, signed)
    if secret is None:
        raise SignatureError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                             details=(("AWSAccessKeyId", signed.access_key),))
    if "host" not in signed.signed_headers or not _signature_matches(method, target, headers, signed, secret, [UNSIGNED_PAYLOAD]):
        raise SignatureError("SignatureDoesNotMatch", S3_BAD_SIGNATURE_MESSAGE, details=(("AWSAccessKeyId", signed.access_key),))
    return signed
