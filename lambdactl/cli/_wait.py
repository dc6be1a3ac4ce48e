"""`lambdactl wait NAME`: botocore's waiter loop, as the AWS CLI runs it.

The waiter definitions (operation, delay, attempts, acceptors) come from botocore's waiter model
through `api_model`; the acceptors, the messages and the exit statuses are botocore's and the AWS
CLI's: nothing printed on success, `Waiter NAME failed: REASON` and 255 otherwise.
"""

from __future__ import annotations

import time

from ..errors import LambdaError
from ._errors import ExitStatus, other_error
from ._spec import CommandSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _acceptor_explanation(acceptor: dict[str, Any]) -> str:
    matcher, argument, expected = acceptor["matcher"], acceptor.get("argument"), acceptor["expected"]
    if matcher == "path":
        return f'For expression "{argument}" we matched expected path: "{expected}"'
    if matcher == "pathAll":
        return f'For expression "{argument}" all members matched expected path: "{expected}"'
    if matcher == "pathAny":
        return f'For expression "{argument}" we matched expected path: "{expected}" at least once'
    if matcher == "status":
        return f"Matched expected HTTP status code: {expected}"
    return f"Matched expected service error code: {expected}"


def _acceptor_matches(acceptor: dict[str, Any], response: Any, error: LambdaError | None) -> bool:
    matcher, expected = acceptor["matcher"], acceptor["expected"]
    if matcher == "error":
        if expected is True:
            return error is not None
        if expected is False:
            return error is None
        return error is not None and error.code == expected
    if matcher == "status":
        return bool((error.status if error is not None else 200) == expected)
    if error is not None:
        return False
    import jmespath

    found = jmespath.search(acceptor["argument"], response)
    if matcher == "path":
        return bool(found == expected)
    if not isinstance(found, list) or not found:
        return False
    if matcher == "pathAll":
        return all(v == expected for v in found)
    return matcher == "pathAny" and any(v == expected for v in found)


def wait(svc: Any, cmd: CommandSpec, request: dict[str, Any]) -> int:
    """Poll `cmd.operation` until an acceptor says success or failure, or attempts run out;
    returns the exit status. Errors no acceptor expects end the wait at once."""
    from ..api_model import waiter

    assert cmd.waiter is not None
    spec = waiter(cmd.waiter)
    last: dict[str, Any] | None = None
    state = "waiting"
    attempts = 0
    while True:
        response: Any = None
        error: LambdaError | None = None
        try:
            response = svc.call(cmd.operation, request)
        except LambdaError as exc:
            error = exc
        attempts += 1
        matched = next((a for a in spec["acceptors"] if _acceptor_matches(a, response, error)), None)
        if matched is None and error is not None:
            return other_error(f"Waiter {cmd.waiter} failed: An error occurred ({error.code}): {error.message}")
        if matched is not None:
            last, state = matched, matched["state"]
        if state == "success":
            return ExitStatus.OK
        if state == "failure":
            assert last is not None
            return other_error(f"Waiter {cmd.waiter} failed: Waiter encountered a terminal failure state: "
                               f"{_acceptor_explanation(last)}")
        if attempts >= spec["maxAttempts"]:
            reason = "Max attempts exceeded" if last is None else (
                f"Max attempts exceeded. Previously accepted state: {_acceptor_explanation(last)}")
            return other_error(f"Waiter {cmd.waiter} failed: {reason}")
        time.sleep(spec["delay"])
