"""Invoke: qualifier -> admission -> execution environment -> result, the one pipeline every
caller (the CLI, the server, later event sources) goes through.

Owns Lambda's admission rules (payload size and shape, function state, invocation type), turning
a function version into a `SandboxSpec`, recording the log and metrics, and the API's result
shape. How environments are kept (one per call, or a warm pool) is the `EnvironmentProvider` the
service was given (`Service(environments=...)`); how a sandbox runs is `lambdactl.runtime`'s.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable
from pathlib import Path

from .. import limits
from ..errors import LambdaError, invalid
from ..models import new_uuid
from ._validate import Validator
from .functions import LATEST, arn, code_sha_hex, resolve_function_name, resolve_version
from .logs import log_group_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..runtime.environment import ExecutionEnvironment, InvokeOutcome
    from ..runtime.spec import SandboxSpec
    from . import Service
    from .ports import EnvironmentProvider

INVOCATION_TYPES = ("Event", "RequestResponse", "DryRun")
LOG_TYPES = ("None", "Tail")


class OneShotProvider:
    """A fresh environment for every invocation, shut down after it (the CLI's direct path)."""

    def __init__(self, mode: Any = None) -> None:
        self.mode = mode

    def acquire(self, key: tuple[Any, ...], make_spec: Callable[[], SandboxSpec], runtime: Any) -> ExecutionEnvironment:
        from ..runtime.environment import ExecutionEnvironment

        return ExecutionEnvironment(make_spec(), runtime, mode=self.mode)

    def release(self, key: tuple[Any, ...], env: ExecutionEnvironment, outcome: InvokeOutcome) -> None:
        env.shutdown()


def _payload(v: Validator, raw: Any) -> bytes:
    if raw is None:
        return b"{}"
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, (bytes, bytearray)):
        raw = json.dumps(raw).encode()
    data = bytes(raw)
    if len(data) > limits.MAX_SYNC_PAYLOAD_BYTES:
        raise LambdaError(
            "RequestTooLargeException",
            f"Request must be smaller than {limits.MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
            413,
        )
    if not data.strip():
        return b"{}"
    from .._jsontext import loads

    try:
        loads(data)
    except ValueError as exc:
        raise LambdaError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc}",
        ) from None
    return data


def _client_context(value: str | None) -> str | None:
    if value is None:
        return None
    import base64

    if len(value.encode()) > limits.MAX_CLIENT_CONTEXT_B64_BYTES:
        raise invalid(f"Client context must be at most {limits.MAX_CLIENT_CONTEXT_B64_BYTES} bytes of base64.")
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
        doc = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):
        raise invalid("Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(doc, dict):
        raise invalid("Client context must be a valid Base64-encoded JSON object.")
    # Re-serialised, not passed on: it becomes a Runtime API header, where the CR/LF that JSON
    # allows as whitespace (or raw non-ASCII) would end the header early.
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True)


def sandbox_mode(svc: Service) -> Any:
    """The sandbox backend, probed once per machine and user, not once per CLI process."""
    from ..runtime.sandbox import detect_mode_cached

    return detect_mode_cached(svc.settings.cache_dir / "sandbox.json")


def find_local_runtime(svc: Service, runtime: str) -> Any:
    """The interpreter for a runtime id, with interpreters' answers cached under the home."""
    from ..runtime.discovery import find_runtime

    return find_runtime(runtime, runtime_overrides(svc), svc.settings.cache_dir / "runtimes.json")


def runtime_overrides(svc: Service) -> dict[str, str]:
    table = svc.settings.get("runtimes", {}) or {}
    return {k: str(v) for k, v in table.items() if isinstance(v, str)}


def code_root(svc: Service, stored: dict[str, Any]) -> Path:
    """The function's code, extracted once per digest into the read-only cache."""
    if "_CodeDir" in stored:
        return Path(stored["_CodeDir"])
    from ..registry import blobs
    from ..runtime.codecache import ensure_extracted

    sha = code_sha_hex(stored)
    return ensure_extracted(svc.settings.cache_dir / "code", sha, blobs.path_of(svc.settings.code_dir, sha))


def opt_root(svc: Service, stored: dict[str, Any]) -> Path | None:
    """The function's layers merged in order under one tree (later layers win), or None."""
    layers = stored.get("Layers") or []
    if not layers:
        return None
    from ..registry import blobs
    from ..runtime.codecache import ensure_extracted, merge_layers
    from .layers import layer_content

    dirs = []
    for layer in layers:
        sha, _ = layer_content(svc, layer["Arn"])
        dirs.append(ensure_extracted(svc.settings.cache_dir / "layers", sha, blobs.path_of(svc.settings.layers_dir, sha)))
    return merge_layers(svc.settings.cache_dir / "opt", dirs)


def build_spec(svc: Service, stored: dict[str, Any], version: str, *, initialization_type: str = "on-demand") -> SandboxSpec:
    from ..runtime.logs import log_stream_name
    from ..runtime.spec import SandboxSpec
    from .access import function_credentials

    name = stored["FunctionName"]
    return SandboxSpec(
        task_root=code_root(svc, stored),
        opt_root=opt_root(svc, stored),
        runtime=stored["Runtime"],
        handler=stored["Handler"],
        function_name=name,
        function_arn=arn(svc, name),
        function_version=version,
        env=dict((stored.get("Environment") or {}).get("Variables") or {}),
        memory_mb=int(stored["MemorySize"]),
        timeout_s=float(stored["Timeout"]),
        tmp_mb=int(stored.get("EphemeralStorage", {}).get("Size", limits.DEFAULT_EPHEMERAL_MB)),
        region=svc.region,
        account_id=svc.account_id,
        log_group=log_group_of(stored),
        log_stream=log_stream_name(version),
        initialization_type=initialization_type,
        cache_dir=svc.settings.cache_dir / "sandbox",
        credentials=function_credentials(svc, arn(svc, name)),
        endpoint_url=svc.endpoint_url,
    )


def environment_key(name: str, version: str, stored: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two environments interchangeable: the exact code and configuration (for a
    --code-dir function, the folder's current contents)."""
    if "_CodeDir" in stored:
        from .codedir import signature

        return (name, version, stored["CodeSha256"], stored["RevisionId"], signature(stored["_CodeDir"]))
    return (name, version, stored["CodeSha256"], stored["RevisionId"])


def invoke(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    invocation_type = v.string("InvocationType", enum=INVOCATION_TYPES) or "RequestResponse"
    log_type = v.string("LogType", enum=LOG_TYPES) or "None"
    client_context = v.string("ClientContext")
    v.check()
    name, qualifier = resolve_function_name(svc, req["FunctionName"], req.get("Qualifier"))
    payload = _payload(v, req.get("Payload"))
    context_text = _client_context(client_context)
    version, stored = resolve_version(svc, name, qualifier, pick=True)
    state = stored.get("State", "Active")
    if state == "Pending":
        raise LambdaError("ResourceConflictException", "The operation cannot be performed at this time. The function is currently in the following state: Pending")
    if state == "Inactive":
        raise LambdaError("ResourceNotReadyException", "The function is currently in the following state: Inactive", 502)
    if invocation_type == "DryRun":
        return {"StatusCode": 204, "ExecutedVersion": version}
    if invocation_type == "Event":
        raise invalid(
            "lambdactl does not run asynchronous (Event) invocations yet; "
            "use the RequestResponse invocation type."
        )
    runtime = find_local_runtime(svc, stored["Runtime"])
    invoked_arn = arn(svc, name, qualifier if qualifier not in (None,) else None)
    outcome, framed = run(svc, name, version, stored, payload, client_context=context_text, invoked_arn=invoked_arn, runtime=runtime)
    result: dict[str, Any] = {"StatusCode": 200}
    if outcome.function_error:
        result["FunctionError"] = outcome.function_error
    if log_type == "Tail":
        import base64

        result["LogResult"] = base64.b64encode(framed[-limits.LOG_TAIL_BYTES:]).decode("ascii")
    result["ExecutedVersion"] = version
    result["Payload"] = outcome.payload
    return result


def run(
    svc: Service,
    name: str,
    version: str,
    stored: dict[str, Any],
    payload: bytes,
    *,
    client_context: str | None,
    invoked_arn: str,
    runtime: Any,
    provider: EnvironmentProvider | None = None,
) -> tuple[InvokeOutcome, bytes]:
    """Run one invocation on an environment from `provider`, record its log and metrics, and
    return how it ended with its framed log (START .. REPORT)."""
    from ..runtime import logs as platform_logs
    provider = provider or svc.environments or OneShotProvider(sandbox_mode(svc))
    leases = svc.leases
    if leases is not None:
        acquire_lease, release_lease = (lambda s, f: leases.acquire(s, f)), (lambda s, lid: leases.release(s, name, lid))
    else:
        from .concurrency import acquire_lease, release_lease
    key = environment_key(name, version, stored)
    request_id = new_uuid()
    # One unit of the function's (or the account's) concurrency for as long as this runs; a
    # throttle raises TooManyRequestsException before any environment is touched.
    lease_id = acquire_lease(svc, name)
    try:
        started = time.time()
        # A warm environment already has its spec: building one (cache stats, layer look-ups)
        # is work only a cold start needs.
        env = provider.acquire(key, lambda: build_spec(svc, stored, version), runtime)
        try:
            outcome = env.invoke(payload, request_id=request_id, client_context=client_context, invoked_function_arn=invoked_arn)
        except BaseException:
            # Interrupted mid-invocation (Ctrl-C, a stopping server): nothing may outlive it.
            env.terminate()
            raise
        provider.release(key, env, outcome)
    finally:
        release_lease(svc, lease_id)
    report = outcome.report_line(env.spec.memory_mb)
    framed = platform_logs.framed(request_id, version, outcome.log, report)
    from .logs import record

    record(
        svc,
        log_group=env.spec.log_group,
        log_stream=env.spec.log_stream,
        request_id=request_id,
        timestamp=started,
        message=framed,
        metrics={
            "function": name,
            "version": version,
            "duration_ms": outcome.duration_ms,
            "billed_ms": platform_logs.billed_ms(outcome.duration_ms),
            "init_ms": outcome.init_duration_ms,
            "max_memory_mb": outcome.max_memory_mb,
            "memory_mb": env.spec.memory_mb,
            "status": outcome.status,
            "error_type": outcome.error_type,
        },
    )
    return outcome, framed


__all__ = ["OneShotProvider", "build_spec", "invoke", "run", "LATEST"]
