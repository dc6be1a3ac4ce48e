"""The declarative description of one execution environment, and the environment it sees.

`SandboxSpec` is everything a backend (bubblewrap or the fallback) needs to start a function's
runtime: paths, identity, limits with their unit in the name. `build_environment` turns it into
the exact variables Lambda sets (reference section 12). Both are pure: no process, no registry,
no knowledge of how the spec was assembled from a function's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lambdactl._record import dataclass, field, replace
from lambdactl.limits import (
    DEFAULT_EPHEMERAL_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    SANDBOX_MAX_FILES,
    SANDBOX_MAX_PROCESSES,
)
from lambdactl.models import NODE_RUNTIMES, PROVIDED_RUNTIMES, RESERVED_ENV_KEYS

# Where things appear inside the sandbox (Lambda's layout).
TASK_DIR = "/var/task"
OPT_DIR = "/opt"
RUNTIME_DIR = "/var/runtime"

LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"

# Credentials of a spec that names none: a function must never see the caller's own keys (they
# would let local code act on a real AWS account). Shaped like real ones so SDKs accept them.
DUMMY_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DUMMY_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DUMMY_SESSION_TOKEN = "lambdactl-local-session-token"


@dataclass(frozen=True)
class SandboxSpec:
    """One execution environment of one function version, declared before anything runs."""

    task_root: Path
    runtime: str
    handler: str
    function_name: str
    function_arn: str  # unqualified base ARN; the invoked ARN is passed per invoke
    function_version: str = "$LATEST"
    opt_root: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: float = DEFAULT_TIMEOUT_S
    tmp_mb: int = DEFAULT_EPHEMERAL_MB
    region: str = "us-east-1"
    account_id: str = "000000000000"
    log_group: str = ""
    log_stream: str = ""
    initialization_type: str = "on-demand"
    # An interpreter to use instead of searching (still version-checked): see
    # environment.runtime_for. None = discover.
    interpreter: Path | None = None
    max_files: int = SANDBOX_MAX_FILES
    max_processes: int = SANDBOX_MAX_PROCESSES
    # Where the backend may keep what it derives from the host and reuses across environments
    # (the sandbox's /etc). None: derive nothing, bind each host entry (slower to start).
    cache_dir: Path | None = None
    # The function's own (access key id, secret access key, session token), as Lambda hands a
    # function its role's; None: the dummies above.
    credentials: tuple[str, str, str] | None = None
    # The local API this environment serves under (AWS_ENDPOINT_URL), so the function's own SDK
    # calls reach it unchanged; None outside `lambdactl serve`.
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if not self.log_group:
            object.__setattr__(self, "log_group", f"/aws/lambda/{self.function_name}")
        if self.initialization_type not in ("on-demand", "provisioned-concurrency"):
            raise ValueError(f"unknown initialization_type {self.initialization_type!r}")

    def replace(self, **changes: object) -> SandboxSpec:
        return replace(self, **changes)


@dataclass(frozen=True)
class Layout:
    """Where the sandbox's well-known directories are, as seen by the function.

    Under bubblewrap these are Lambda's own paths; the fallback backend has no mount namespace
    and passes the host paths instead.
    """

    task_dir: str = TASK_DIR
    opt_dir: str = OPT_DIR
    runtime_dir: str = RUNTIME_DIR
    tmp_dir: str | None = None  # set -> exported as TMPDIR (fallback only: /tmp is shared there)


LAMBDA_LAYOUT = Layout()


def node_major(runtime: str) -> str | None:
    return NODE_RUNTIMES.get(runtime)


def build_environment(
    spec: SandboxSpec, runtime_api: str, layout: Layout = LAMBDA_LAYOUT
) -> dict[str, str]:
    """The complete environment of the runtime process: Lambda's variables plus the function's.

    Starts from nothing, so no variable of the host (HOME, credentials, proxies) can leak in.
    The function's own variables may override the unreserved defaults (LANG, PATH, ...) but never
    a reserved one (create-function already refuses those; this is the belt to that brace).
    """
    task, opt, rt = layout.task_dir, layout.opt_dir, layout.runtime_dir
    env: dict[str, str] = {
        "LANG": "en_US.UTF-8",
        "PATH": LAMBDA_PATH if opt == OPT_DIR else f"{LAMBDA_PATH}:{opt}/bin",
        "LD_LIBRARY_PATH": (
            f"/var/lang/lib:/lib64:/usr/lib64:{rt}:{rt}/lib:{task}:{task}/lib:{opt}/lib"
        ),
    }
    major = node_major(spec.runtime)
    if major is not None:
        env["NODE_PATH"] = (
            f"{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{rt}/node_modules"
        )
    if layout.tmp_dir is not None:
        env["TMPDIR"] = layout.tmp_dir
    if spec.endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = spec.endpoint_url  # not reserved: a function may point it elsewhere
    env.update({k: v for k, v in spec.env.items() if k not in RESERVED_ENV_KEYS})
    key_id, secret_key, token = spec.credentials or (DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, DUMMY_SESSION_TOKEN)
    env.update({
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.function_version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": spec.log_stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_SESSION_TOKEN": token,
        "LAMBDA_TASK_ROOT": task,
        "LAMBDA_RUNTIME_DIR": rt,
        "TZ": ":UTC",
    })
    if spec.runtime not in PROVIDED_RUNTIMES:
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    return env
