"""Function URLs on `lambdactl serve`: which requests are for a URL, and their HTTP framing.

A request reaches a URL in one of two ways:
- by Host header, `<url-id>.lambda-url.<region>.<anything>[:port]` (what `FunctionUrl` prints;
  `*.localhost` resolves to the loopback in curl and browsers);
- by path, `/lambdactl/url/<url-id>/<path>` on the server's own address, for clients that cannot
  resolve wildcard names. The function sees `/<path>` either way.

Everything else (config, CORS, AuthType, the event, Lambda's response rules) is the service's
`lambdactl:InvokeFunctionUrl` operation (`service/function_urls.py`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ..errors import LambdaError
from ..httpwire import Request, response
from ..service.function_urls import HOST_RE

if TYPE_CHECKING:
    from .core import LambdaServer

__all__ = ["HOST_RE", "PATH_PREFIX", "handle", "match", "too_large"]

PATH_PREFIX = "/lambdactl/url/"
URL_ID_RE = re.compile(r"[a-z0-9]{32}")
# A URL reached by path shares the control plane's origin: its pages get an opaque one instead, so
# what they send the control plane carries `Origin: null` (refused) and cannot read its answers.
# A policy the function sends as well can only narrow this one (browsers enforce every policy).
PATH_SANDBOX = ("Content-Security-Policy", "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads")


def match(req: Request) -> tuple[str, str] | None:
    """(url id, the request target as the function sees it) when `req` is for a function URL."""
    m = HOST_RE.match(req.headers.get("host", ""))
    if m is not None:
        return m.group(1), req.target
    if req.target.startswith(PATH_PREFIX):
        rest = req.target[len(PATH_PREFIX):]
        url_id = rest[:32]
        tail = rest[32:]
        if URL_ID_RE.fullmatch(url_id) and (not tail or tail[0] in "/?"):
            return url_id, tail if tail.startswith("/") else "/" + tail
    return None


def handle(server: LambdaServer, req: Request, url_id: str, target: str, request_id: str) -> bytes:
    """Answer one request to the function URL `url_id`."""
    out = server.service().call("lambdactl:InvokeFunctionUrl", {
        "UrlId": url_id, "Method": req.method, "Target": target, "SignedTarget": req.target, "Version": req.version,
        "Headers": req.headers, "Body": req.body, "Peer": list(req.peer) if req.peer else None, "Port": server.port,
        "RequestId": request_id,
    })
    headers = out["Headers"] + [("x-amzn-RequestId", request_id)]
    if target != req.target:  # reached by path (`match` strips the prefix), not by host name
        headers.append(PATH_SANDBOX)
    return response(out["StatusCode"], out["Body"], headers, close=not req.keep_alive)


def too_large(exc: LambdaError, request_id: str) -> bytes:
    """The answer to a request body over the invoke payload cap (the connection then closes)."""
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", exc.code)]
    return response(exc.status, json.dumps({"Message": exc.message}, separators=(",", ":")).encode(), headers, close=True)
