"""Finding a local interpreter for a Lambda runtime id, never a substitute.

Owns: where interpreters are looked for (config overrides, PATH, pyenv, uv, nvm), asking each
candidate for its real version, and the error that names every place searched. Must not know
about sandboxes, the registry or the CLI; the service passes config.toml's mapping in.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from lambdactl._record import dataclass, field
from lambdactl.errors import LambdaError
from lambdactl.models import NODE_RUNTIMES, PROVIDED_RUNTIMES, PYTHON_RUNTIMES, SUPPORTED_RUNTIMES

PROBE_TIMEOUT_S = 10

# Asked of each candidate: its version and where it really lives (a venv's python or a shim
# resolves to the base installation, whose prefix the sandbox must see).
_PY_PROBE = (
    "import os,sys;print('%d.%d'%sys.version_info[:2]);print(sys.version.split()[0]);"
    "print(os.path.realpath(sys.executable));print(sys.base_prefix)"
)
_NODE_PROBE = "process.stdout.write(process.versions.node+'\\n'+process.execPath+'\\n')"


@dataclass(frozen=True)
class RuntimeInfo:
    """What runs a runtime id here: its kind, the interpreter binary and its full version."""

    runtime: str
    kind: str  # 'python' | 'node' | 'provided'
    executable: Path | None
    version: str
    searched: list[str] = field(default_factory=list)
    # The installation directory the sandbox must show read-only (None: under /usr or none).
    prefix: Path | None = None


_cache: dict[tuple[str, tuple[tuple[str, str], ...]], RuntimeInfo] = {}
_cache_lock = threading.Lock()


def _path_dirs() -> list[str]:
    return [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]


def _home() -> str:
    return os.path.expanduser("~")


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key putting the newest patch release first (3.12.10 after 3.12.9)."""
    m = re.search(r"(\d+(?:\.\d+)+)", path)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def _installed(root: str, prefix: str, tail: str) -> list[str]:
    """`root/<prefix>*/<tail>` that exist (glob's answer, without loading glob on every run)."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    hits = (os.path.join(root, n, tail) for n in names if n.startswith(prefix))
    return [p for p in hits if os.path.exists(p)]


def _python_candidates(minor: str, overrides: Mapping[str, str], runtime: str
                       ) -> list[tuple[str, list[str]]]:
    """(place description, candidate paths) in search order."""
    places: list[tuple[str, list[str]]] = []
    if runtime in overrides:  # a pinned interpreter is used or refused, never replaced
        return [(f"config override {overrides[runtime]}", [overrides[runtime]])]
    name = f"python{minor}"
    # pyenv shims pick a version from the cwd's .python-version: search pyenv's own dirs instead.
    path_hits = [os.path.join(d, name) for d in _path_dirs() if "shims" not in Path(d).parts]
    places.append((f"PATH ({name})", path_hits))
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.join(_home(), ".pyenv")
    pyenv = sorted(_installed(os.path.join(pyenv_root, "versions"), minor, f"bin/{name}"),
                   key=_version_key, reverse=True)
    places.append((f"pyenv {pyenv_root}/versions/{minor}*/bin", pyenv))
    uv_root = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.join(_home(), ".local", "share"), "uv", "python")
    uv = sorted(_installed(uv_root, f"cpython-{minor}", f"bin/{name}"),
                key=_version_key, reverse=True)
    places.append((f"uv {uv_root}/cpython-{minor}*/bin", uv))
    return places


def _node_candidates(major: str, overrides: Mapping[str, str], runtime: str
                     ) -> list[tuple[str, list[str]]]:
    places: list[tuple[str, list[str]]] = []
    if runtime in overrides:  # a pinned interpreter is used or refused, never replaced
        return [(f"config override {overrides[runtime]}", [overrides[runtime]])]
    hits = [os.path.join(d, n) for n in (f"node{major}", "node") for d in _path_dirs()]
    places.append((f"PATH (node{major}, node)", hits))
    nvm_dir = os.environ.get("NVM_DIR") or os.path.join(_home(), ".nvm")
    nvm = sorted(_installed(os.path.join(nvm_dir, "versions", "node"), f"v{major}.", "bin/node"),
                 key=_version_key, reverse=True)
    places.append((f"nvm {nvm_dir}/versions/node/v{major}.*/bin", nvm))
    return places


class ProbeCache:
    """Interpreters' answers on disk, keyed by the binary's real path, inode, size and mtime.

    Asking an interpreter its version costs ~20 ms (Python) to ~40 ms (node) per candidate; a
    one-shot CLI invoke should not pay that every time. A replaced binary has a new key.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[str] | None] = {}
        self.dirty = False
        if path is not None:
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self.entries = loaded
            except (OSError, ValueError):
                pass

    @staticmethod
    def key(argv: list[str]) -> str | None:
        try:
            real = os.path.realpath(argv[0])
            st = os.stat(real)
        except OSError:
            return None
        return json.dumps([real, st.st_ino, st.st_size, st.st_mtime_ns, argv[1:]])

    def probe(self, argv: list[str]) -> list[str] | None:
        k = self.key(argv)
        if k is not None and k in self.entries:
            return self.entries[k]
        out = _probe(argv)
        if k is not None:
            self.entries[k], self.dirty = out, True
        return out

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        from lambdactl.settings import write_private

        write_private(self.path, json.dumps(self.entries).encode())  # whole file or nothing, even with concurrent CLIs
        self.dirty = False


def _probe(argv: list[str]) -> list[str] | None:
    import subprocess

    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.split("\n") if out.returncode == 0 else None


def _outside_usr(prefix: str) -> Path | None:
    p = Path(prefix)
    return None if p == Path("/usr") or Path("/usr") in p.parents else p


Found = tuple[Path, str, "Path | None"]  # executable, full version, prefix to show


def _search(runtime: str, kind: str, what: str, places: list[tuple[str, list[str]]],
            probe: Callable[[str], list[str]], accept: Callable[[list[str]], Found | None],
            cache: ProbeCache) -> RuntimeInfo:
    """Probe each candidate in order; the first the interpreter itself confirms wins."""
    searched: list[str] = []
    seen: set[str] = set()
    for place, cands in places:
        searched.append(place)
        for c in cands:
            real = os.path.realpath(c)
            if real in seen or not os.access(c, os.X_OK):
                continue
            seen.add(real)
            out = cache.probe(probe(c))
            found = accept(out) if out else None
            if found is not None:
                return RuntimeInfo(runtime, kind, found[0], found[1], searched, found[2])
    raise _missing(runtime, what, searched)


def _find_python(runtime: str, minor: str, overrides: Mapping[str, str], cache: ProbeCache
                 ) -> RuntimeInfo:
    def accept(out: list[str]) -> Found | None:
        return (Path(out[2]), out[1], _outside_usr(out[3])) if out[0] == minor else None

    return _search(runtime, "python", f"python{minor}",
                   _python_candidates(minor, overrides, runtime),
                   lambda c: [c, "-I", "-S", "-c", _PY_PROBE], accept, cache)


def _find_node(runtime: str, major: str, overrides: Mapping[str, str], cache: ProbeCache
               ) -> RuntimeInfo:
    def accept(out: list[str]) -> Found | None:
        if out[0].split(".")[0] != major:
            return None
        exe = Path(out[1])
        return exe, out[0], _outside_usr(str(exe.parent.parent))

    return _search(runtime, "node", f"node {major}.x", _node_candidates(major, overrides, runtime),
                   lambda c: [c, "-e", _NODE_PROBE], accept, cache)


def _missing(runtime: str, what: str, searched: list[str]) -> LambdaError:
    if len(searched) == 1 and searched[0].startswith("config override "):
        pinned = searched[0].removeprefix("config override ")
        message = (f"Runtime {runtime} is not available: the interpreter configured for it, "
                   f"{pinned}, is missing or is not {what}. Fix or remove the mapping in "
                   f"config.toml ([runtimes] \"{runtime}\").")
    else:
        message = (f"Runtime {runtime} is not available on this machine: no {what} found. "
                   "Searched: " + "; ".join(searched) + ". Install it, or map it in config.toml "
                   f"([runtimes] \"{runtime}\" = \"/path/to/it\").")
    return LambdaError(
        "InvalidRuntimeException",
        message,
        502,
        runtime=runtime,
        searched=searched,
    )


def find_runtime(runtime: str, overrides: Mapping[str, str] | None = None,
                 cache_file: Path | None = None) -> RuntimeInfo:
    """The interpreter that runs `runtime` here, verified by asking it its version.

    Raises InvalidRuntimeException naming the runtime and every place searched when none fits;
    a runtime lambdactl cannot execute at all (java, ruby, ...) is the same error.
    `cache_file` (e.g. LAMBDACTL_HOME/cache/runtimes.json) keeps interpreters' answers across
    processes; results are also kept in memory for this process.
    """
    ov = dict(overrides or {})
    key = (runtime, tuple(sorted(ov.items())))
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and (hit.executable is None or hit.executable.exists()):
        return hit
    if runtime in PROVIDED_RUNTIMES:
        info = RuntimeInfo(runtime, "provided", None, runtime.partition(".")[2] or "al1", [])
    elif runtime in PYTHON_RUNTIMES or runtime in NODE_RUNTIMES:
        cache = ProbeCache(cache_file)
        try:
            if runtime in PYTHON_RUNTIMES:
                info = _find_python(runtime, PYTHON_RUNTIMES[runtime], ov, cache)
            else:
                info = _find_node(runtime, NODE_RUNTIMES[runtime], ov, cache)
        finally:
            cache.save()
    else:
        raise LambdaError("InvalidRuntimeException",
                          f"Runtime {runtime} cannot be run by lambdactl: only python3.x, "
                          "nodejsNN.x and provided.* runtimes execute locally.", 502,
                          runtime=runtime)
    with _cache_lock:
        _cache[key] = info
    return info


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def local_runtimes() -> list[str]:
    """The supported runtime ids a local interpreter could serve, in a stable order."""
    order = list(PYTHON_RUNTIMES) + list(NODE_RUNTIMES) + sorted(PROVIDED_RUNTIMES)
    return [r for r in order if r in SUPPORTED_RUNTIMES]


def discover_all(overrides: Mapping[str, str] | None = None, cache_file: Path | None = None
                 ) -> dict[str, RuntimeInfo | LambdaError]:
    """Every supported runtime id mapped to what serves it, or the error saying why none does."""
    out: dict[str, RuntimeInfo | LambdaError] = {}
    for r in local_runtimes():
        try:
            out[r] = find_runtime(r, overrides, cache_file)
        except LambdaError as e:
            out[r] = e
    return out
