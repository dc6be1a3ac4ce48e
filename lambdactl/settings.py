"""Where lambdactl keeps its state and what the user configured.

Resolves LAMBDACTL_HOME (flag, environment, platformdirs default) and reads `config.toml`.
Kept import-light: it runs on every CLI start, so platformdirs and tomllib load only when needed.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
CONFIG_FILE = "config.toml"
SERVER_FILE = "server.json"
# The home holds code, logs and access keys: its owner's alone, whatever the umask.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("lambdactl", appauthor=False))


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--home beats LAMBDACTL_HOME beats the platform's user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("LAMBDACTL_HOME")
    if env:
        return Path(env).expanduser()
    return default_home()


class Number:
    """A numeric config key: its type and the closed range it must lie in (finite always, so
    NaN and infinities are refused too); `positive` excludes zero. Checked when config.toml is
    loaded, so a mistake is reported with the file and the key, not when a server starts."""

    __slots__ = ("kind", "minimum", "maximum", "positive")

    def __init__(self, kind: type, minimum: float, maximum: float, *, positive: bool = False) -> None:
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.positive = positive


DAY_S = 86_400
MIB_PER_PIB = 1024**3
TIMEOUT_S = Number(float, 0, DAY_S, positive=True)
CAP_MB = Number(float, 0, MIB_PER_PIB, positive=True)
COUNT = Number(int, 1, 1_000_000_000)

# The keys config.toml may hold, with their types; "*" stands for any key of a table whose keys
# are the user's own (runtime ids, access key ids). A key not listed is a mistake to report.
CONFIG_SCHEMA: dict[str, Any] = {
    "region": str,
    "account_id": str,
    "output": ("json", "text", "table", "yaml", "yaml-stream", "off"),
    "runtimes": {"allow_deprecated": [str], "*": str},
    "concurrency": {"account_limit": COUNT},
    "server": {"host": str, "port": Number(int, 0, 65535), "idle_timeout_s": TIMEOUT_S,
               "credentials": {"*": str}, "header_timeout_s": TIMEOUT_S, "keepalive_timeout_s": TIMEOUT_S,
               "body_timeout_s": TIMEOUT_S, "max_connections": COUNT, "allowed_hosts": [str],
               "log_max_mb": CAP_MB},
    "logs": {"max_mb_per_function": CAP_MB, "max_mb_total": CAP_MB},
    "metrics": {"invocations_max_age_hours": Number(float, 0, 24 * 366 * 10, positive=True)},
    # Free space (MiB) an upload of code or a layer must leave on the home's file system; 0 keeps none.
    "storage": {"min_free_mb": Number(float, 0, MIB_PER_PIB)},
}


def load_config(home: Path) -> dict[str, Any]:
    """config.toml, checked against CONFIG_SCHEMA: a bad file is reported when it is loaded,
    before any command runs (or writes), naming the file and the key."""
    from .errors import LambdaError

    path = home / CONFIG_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except NotADirectoryError:
        raise LambdaError("ServiceException", f"The home {home} is not a directory. Move that file "
                          "away, or choose another home with --home or LAMBDACTL_HOME.", 500) from None
    except OSError as exc:
        raise LambdaError("ServiceException", f"Cannot read the configuration file {path}: "
                          f"{exc.strerror or exc}", 500) from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        config: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise LambdaError("ServiceException", f"Invalid configuration file {path}: {exc}", 500) from exc
    problem = _config_problem(config, CONFIG_SCHEMA, "")
    if problem:
        raise LambdaError("ServiceException", f"Invalid configuration file {path}: {problem}", 500)
    return config


def _config_problem(value: Any, schema: Any, key: str) -> str | None:
    """The first way `value` departs from `schema`, as a sentence naming the dotted key."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{key} must be a table, not {_toml_type(value)}"
        for name, item in value.items():
            dotted = f"{key}.{name}" if key else name
            sub = schema.get(name, schema.get("*"))
            if sub is None:
                known = ", ".join(k for k in schema if k != "*")
                return f"unknown key {dotted!r} (known keys{f' of [{key}]' if key else ''}: {known})"
            problem = _config_problem(item, sub, dotted)
            if problem:
                return problem
        return None
    if isinstance(schema, list):
        if not isinstance(value, list):
            return f"{key} must be an array, not {_toml_type(value)}"
        for item in value:
            problem = _config_problem(item, schema[0], key)
            if problem:
                return problem
        return None
    if isinstance(schema, tuple):
        if value not in schema:
            return f"{key} must be one of {', '.join(schema)}, not {value!r}"
        return None
    number = schema if isinstance(schema, Number) else None
    kind = number.kind if number else schema
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
          else isinstance(value, kind) and not (kind is int and isinstance(value, bool)))
    if not ok:
        wanted = {str: "a string", int: "an integer", float: "a number"}[kind]
        return f"{key} must be {wanted}, not {_toml_type(value)} {value!r}"
    if number is not None:
        import math

        low = f"greater than {number.minimum:,}" if number.positive else f"at least {number.minimum:,}"
        if (isinstance(value, float) and not math.isfinite(value)) or value < number.minimum or (
                value > number.maximum or (number.positive and value == number.minimum)):
            word = "an integer" if kind is int else "a finite number"
            return f"{key} must be {word} {low} and at most {number.maximum:,}, not {value!r}"
    return None


def _toml_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
             dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def read_server_file(home: Path) -> dict[str, Any] | None:
    """The running `lambdactl serve` named in the home's server.json, if its process is alive."""
    import json

    try:
        info: dict[str, Any] = json.loads((home / SERVER_FILE).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def write_config(home: Path, config: dict[str, Any]) -> None:
    import tomli_w

    ensure_home(home)
    write_private(home / CONFIG_FILE, tomli_w.dumps(config).encode("utf-8"))


def make_private_dir(path: Path) -> None:
    """`mkdir -p`, the last directory created 0700 whatever the umask (parents as usual)."""
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        return
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            return
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask


def ensure_home(home: Path) -> None:
    """Create the home 0700, or tighten one that others can enter: one stat when it is fine."""
    try:
        st = os.stat(home)
    except FileNotFoundError:
        make_private_dir(home)
        return
    if st.st_mode & 0o077:
        _tighten(home)


def _tighten(home: Path) -> None:
    """A home made before it was private: close it, and its state files and blob folders."""
    try:
        os.chmod(home, PRIVATE_DIR_MODE)
    except OSError:
        return  # not ours to change (another owner, a read-only mount): use it as it is
    with os.scandir(home) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    os.chmod(entry.path, PRIVATE_FILE_MODE)
                elif entry.name in ("code", "layers") and entry.is_dir(follow_symlinks=False):
                    os.chmod(entry.path, PRIVATE_DIR_MODE)
                    for blob in os.scandir(entry.path):
                        if blob.is_file(follow_symlinks=False):
                            os.chmod(blob.path, PRIVATE_FILE_MODE)
            except OSError:
                pass  # another owner's file in our home: leave it


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """os.open creating `path` 0600 whatever the umask."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def temp_name(path: Path) -> Path:
    """A fresh name to write `path` under before renaming it into place: `.NAME.RANDOM.PID.tmp`,
    the pattern swept when its writer died (registry/blobs.py); unique per thread too."""
    return path.parent / f".{path.name}.{os.urandom(4).hex()}.{os.getpid()}.tmp"


def write_private(path: Path, data: bytes) -> None:
    """Write a 0600 file to a temporary name and rename it into place."""
    tmp = temp_name(path)
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_EXCL), "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class Settings:
    """Everything the service needs to know about its surroundings, injected rather than global.

    A plain class: the dataclasses module costs ~7 ms, and this is built on every CLI start.
    """

    def __init__(
        self,
        home: Path,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.home = Path(home)
        self.region = region
        self.account_id = account_id
        self.config = config or {}

    @classmethod
    def load(cls, home: str | os.PathLike[str] | None = None, region: str | None = None) -> Settings:
        h = resolve_home(home)
        config = load_config(h)
        return cls(
            home=h,
            region=region or config.get("region") or DEFAULT_REGION,
            account_id=str(config.get("account_id") or DEFAULT_ACCOUNT_ID),
            config=config,
        )

    def get(self, key: str, default: Any = None) -> Any:
        """A dotted config key, e.g. `concurrency.account_limit`."""
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def registry_path(self) -> Path:
        return self.home / "registry.db"

    @property
    def code_dir(self) -> Path:
        return self.home / "code"

    @property
    def layers_dir(self) -> Path:
        return self.home / "layers"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"
