"""Wire protocols: how a `Service.call` travels over HTTP, in both directions.

One module per wire format, each built from the generated API model (`api_model.py`) and the
service's operation table (`service.OPERATIONS`), each offering the same four translations:

- server side: `Router.match` (method and path to an operation), `decode_request` (HTTP to the
  call's request dict), `encode_response` / `encode_error` (the call's result or error to HTTP);
- client side: `encode_request` (a call to HTTP) and `decode_response` (HTTP back to the result
  dict or a `LambdaError`).

`rest_json` is Lambda's (and API Gateway-style services'). JSON 1.0/1.1 (`X-Amz-Target`), query
and rest-xml services get a module of their own beside it. Nothing here knows sockets, argv or
business rules; the server (`lambdactl.server`) and the CLI's remote path (`cli/_remote.py`) both
use it, so the two ends cannot drift apart.
"""

from __future__ import annotations


def implemented_operations() -> list[str]:
    """The API model's operations the service implements, in the model's order."""
    from ..api_model import NAMES
    from ..service import OPERATIONS

    return [name for name in NAMES if name in OPERATIONS]
