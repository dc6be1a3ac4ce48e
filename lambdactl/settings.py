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


def load_config(home: Path) -> dict[str, Any]:
    path = home / CONFIG_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from .errors import LambdaError

    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LambdaError("ServiceException", f"Invalid configuration file {path}: {exc}", 500) from exc


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
