"""What stands in for IAM locally: the home's secret and everything derived from it.

One random secret per home (`signing.key`, mode 0600, made once) does two jobs, both checked by
the server without any state of its own:

- It signs the code download links GetFunction (`Code.Location`) and GetLayerVersion
  (`Content.Location`) hand out, presigned and expiring as S3's links are, so a link is the
  authorisation to fetch that one zip for ten minutes, `--require-auth` or not.
- It derives each function's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  AWS_SESSION_TOKEN in its environment, as Lambda hands a function its role's): the session token
  names the function and carries a MAC, the key id and secret follow from it, so the server
  recognises them from the token alone, they differ per function and no function can derive
  another's.

Deleting `signing.key` revokes every link and function credential at once (a running server keeps
its copy until it restarts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from .. import limits
from ..errors import LambdaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..settings import Settings
    from . import Service

SECRET_FILE = "signing.key"
SECRET_BYTES = 32
TOKEN_PREFIX = "lambdactl1"
# Code links are signed for S3, as Lambda's are; the server only ever answers GET on them.
LINK_SERVICE = "s3"
DEFAULT_SERVER_HOST = "127.0.0.1"
DEFAULT_SERVER_PORT = 9001

_secrets: dict[str, bytes] = {}


def home_secret(settings: Settings) -> bytes:
    """The home's secret, made on first use (once per process: it never changes under a server)."""
    path = settings.home / SECRET_FILE
    secret = _secrets.get(str(path))
    if secret is None:
        secret = _secrets[str(path)] = _load_or_create(path)
    return secret


def _load_or_create(path: Path) -> bytes:
    try:
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            text = _create(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise LambdaError("ServiceException", f"Cannot read or create the signing key {path}: {exc}", 500) from None
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise LambdaError("ServiceException", f"{path} is not a lambdactl signing key; delete it to make a new one.", 500)
    return secret


def _create(path: Path) -> str:
    """Write a new secret under a temporary name (0600 from the start) and link it into place, so
    no reader sees half a key and, of two processes racing, both end up with the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = os.urandom(SECRET_BYTES).hex() + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text(encoding="ascii")
    finally:
        tmp.unlink(missing_ok=True)
    return text


def _mac(secret: bytes, purpose: str, subject: str) -> bytes:
    return hmac.new(secret, f"{purpose}\0{subject}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------------------------------
# Function credentials


def _token(secret: bytes, subject: str) -> str:
    return f"{TOKEN_PREFIX}.{_b64(subject.encode())}.{_b64(_mac(secret, 'session-token', subject))}"


def derived_credentials(secret: bytes, subject: str) -> tuple[str, str, str]:
    """(access key id, secret access key, session token) of `subject` (an unqualified function ARN)."""
    token = _token(secret, subject)
    key_id = "ASIA" + base64.b32encode(_mac(secret, "access-key-id", subject)).decode("ascii")[:16]
    secret_key = _b64(_mac(secret, "secret-access-key", subject))[:40]
    return key_id, secret_key, token


def function_credentials(svc: Service, function_arn: str) -> tuple[str, str, str]:
    return derived_credentials(home_secret(svc.settings), function_arn)


def token_subject(secret: bytes, token: str) -> str | None:
    """The function a session token was made for, or None when this home did not make it."""
    prefix, _, rest = token.partition(".")
    encoded = rest.partition(".")[0]
    if prefix != TOKEN_PREFIX or not encoded:
        return None
    try:
        subject = _unb64(encoded).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    # The whole token as made, character for character (base64 would let some be spelt two ways).
    return subject if hmac.compare_digest(token.encode(), _token(secret, subject).encode()) else None


class Keychain:
    """The keys a server accepts (a `sigv4.Keys` lookup): config.toml's `[server.credentials]`
    without a session token, and any function's own with its token."""

    def __init__(self, secret: bytes, configured: Mapping[str, str]) -> None:
        self.secret = secret
        self.configured = dict(configured)

    def __call__(self, access_key: str, session_token: str | None) -> str | None:
        if session_token is None:
            return self.configured.get(access_key)
        subject = token_subject(self.secret, session_token)
        if subject is None:
            return None
        key_id, secret_key, _ = derived_credentials(self.secret, subject)
        return secret_key if hmac.compare_digest(key_id, access_key) else None


# ---------------------------------------------------------------------------------------------
# Presigned code links


def link_keys(secret: bytes) -> tuple[str, str]:
    """The key id and secret code links are signed with (no session token)."""
    return "AKIA" + base64.b32encode(_mac(secret, "link-key-id", "")).decode("ascii")[:16], _b64(_mac(secret, "link-secret", ""))


def endpoint(svc: Service) -> str:
    """The server this service answers for; else a running one's (server.json); else the address
    `lambdactl serve` would take from config.toml (`server.host`, `server.port`)."""
    if svc.endpoint_url:
        return svc.endpoint_url
    from ..settings import read_server_file

    info = read_server_file(svc.settings.home)
    if info is not None and isinstance(info.get("url"), str):
        return str(info["url"])
    host = str(svc.settings.get("server.host", DEFAULT_SERVER_HOST)).strip("[]")
    port = int(svc.settings.get("server.port", DEFAULT_SERVER_PORT))
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def presigned_url(svc: Service, path: str, expires_s: int = limits.CODE_URL_EXPIRES_S) -> str:
    """A link to GET `path` from the server, signed with the home's secret, dated by the service's
    clock and valid `expires_s` seconds."""
    from .. import sigv4

    base = endpoint(svc)
    key_id, secret = link_keys(home_secret(svc.settings))
    host = base.split("//", 1)[1]
    query = sigv4.presign("GET", host, path, key_id, secret, svc.region, LINK_SERVICE, expires_s, svc.clock())
    return f"{base}{path}?{query}"


def link_lookup(secret: bytes) -> Mapping[str, str]:
    """The one key a code link may be signed with (a `sigv4.Keys` mapping)."""
    key_id, link_secret = link_keys(secret)
    return {key_id: link_secret}
