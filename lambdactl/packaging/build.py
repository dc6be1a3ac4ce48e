"""Build deployment and layer zips that are byte-identical for the same input on any machine.

What it guarantees: files at the zip root (or under a layer prefix), entries sorted by name,
explicit directory entries, one fixed timestamp (1980-01-01 or SOURCE_DATE_EPOCH), modes
normalised to 0644 / 0755, no uid/gid or extra fields, and dead weight (VCS folders, bytecode
caches, virtualenvs) left out. Entries are compressed on every core: each file is cut into
fixed 1 MiB chunks deflated independently (each primed with the previous 32 KiB, as pigz does)
and concatenated into one raw deflate stream, so output never depends on the core count.
Memory stays bounded by a window of chunks in flight.

It knows nothing of the registry or the CLI; `pip` is run as a subprocess for `--requirements`.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from lambdactl._record import dataclass, field
from lambdactl.models import NODE_RUNTIMES, PROVIDED_RUNTIMES, PYTHON_RUNTIMES
from lambdactl.packaging.layout import LAYER_TOP_DIRS

CHUNK_BYTES = 1 << 20  # fixed so output is the same whatever the number of cores
DICT_BYTES = 32 * 1024
BATCH_BYTES = 512 * 1024  # small files are grouped so the pool's per-task cost stays small
MAX_IN_FLIGHT_BYTES = 64 << 20
ZIP32_LIMIT = 0xFFFFFFFF
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".git", ".hg", ".svn"})
EXCLUDED_FILE_NAMES = frozenset({".DS_Store"})
EXCLUDED_FILE_SUFFIXES = (".pyc",)
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# Highest glibc of each runtime's OS image: Amazon Linux 2 (2.26) and 2023 (2.34).
AL2_PYTHONS = frozenset({"python3.8", "python3.9", "python3.10", "python3.11"})
AL2_GLIBC_MINOR = 26
AL2023_GLIBC_MINOR = 34

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")

ProgressFn = Callable[[int, int], None]


class PackagingError(Exception):
    """The tree cannot be packaged as asked (escaping symlink, unreadable file, pip failure)."""


@dataclass(frozen=True)
class _Item:
    arcname: str
    path: str | None  # None for directories
    size: int
    mode: int  # permission bits only: 0o644 or 0o755

    @property
    def is_dir(self) -> bool:
        return self.path is None


@dataclass
class PackageSummary:
    """What was written: counts and sizes for the summary, and the biggest entries."""

    path: Path
    files: int
    directories: int
    zipped_bytes: int
    unzipped_bytes: int
    largest: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "Path": str(self.path), "Files": self.files, "Directories": self.directories,
            "ZippedBytes": self.zipped_bytes, "UnzippedBytes": self.unzipped_bytes,
            "Largest": [{"Name": n, "Bytes": b} for n, b in self.largest],
        }


# ---------------------------------------------------------------- collecting the tree


def _is_excluded(rel: str, name: str, patterns: Sequence[str]) -> bool:
    """A user glob matches the path relative to the source, or the bare name if it has no `/`."""
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatchcase(rel, pat) or ("/" not in pat and fnmatch.fnmatchcase(name, pat)):
            return True
    return False


def _normal_mode(name: str, st_mode: int) -> int:
    if stat.S_ISDIR(st_mode) or name == "bootstrap" or st_mode & 0o111:
        return 0o755
    return 0o644


def _prefix_dirs(prefix: str) -> list[str]:
    parts = [p for p in prefix.split("/") if p]
    return ["/".join(parts[:i + 1]) + "/" for i in range(len(parts))]


def collect(src: Path, *, excludes: Sequence[str] = (), prefix: str = "",
            skip: Iterable[Path] = ()) -> list[_Item]:
    """Every file and directory to package from `src`, with arcnames under `prefix`, unsorted.

    Symlinks are followed when they stay inside `src` (their content is stored, so the zip
    has no links); a link leaving the tree or dangling is an error, since following it would
    package files the user never meant to ship.
    """
    root = os.path.realpath(src)
    if not os.path.isdir(root):
        raise PackagingError(f"{src}: not a directory")
    skip_real = {os.path.realpath(p) for p in skip}
    base = prefix.strip("/")
    items: list[_Item] = [_Item(d, None, 0, 0o755) for d in _prefix_dirs(base)]

    def arc(rel: str) -> str:
        return f"{base}/{rel}" if base else rel

    def walk(real_dir: str, rel_dir: str, seen: frozenset[str]) -> None:
        try:
            listing = list(os.scandir(real_dir))
        except OSError as exc:
            raise PackagingError(f"{rel_dir or src}: cannot list directory: {exc.strerror}") from exc
        for de in listing:
            name = de.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if _is_excluded(rel, name, excludes):
                continue
            path = de.path
            if de.is_symlink():
                target = os.path.realpath(path)
                if not os.path.exists(target):
                    raise PackagingError(f"{rel}: dangling symbolic link")
                if target != root and not target.startswith(root + os.sep):
                    raise PackagingError(
                        f"{rel}: symbolic link points outside the source tree; "
                        f"copy the file in or --exclude it")
                path = target
            try:
                st = os.stat(path)
            except OSError as exc:
                raise PackagingError(f"{rel}: {exc.strerror}") from exc
            if stat.S_ISDIR(st.st_mode):
                if name in EXCLUDED_DIR_NAMES or os.path.exists(os.path.join(path, "pyvenv.cfg")):
                    continue
                real = os.path.realpath(path)
                if real in seen:
                    raise PackagingError(f"{rel}: symbolic link loop")
                items.append(_Item(arc(rel) + "/", None, 0, 0o755))
                walk(real, rel, seen | {real})
            elif stat.S_ISREG(st.st_mode):
                if name in EXCLUDED_FILE_NAMES or name.endswith(EXCLUDED_FILE_SUFFIXES):
                    continue
                if skip_real and os.path.realpath(path) in skip_real:
                    continue
                if st.st_size >= ZIP32_LIMIT:
                    raise PackagingError(f"{rel}: {st.st_size} bytes is larger than any Lambda package")
                items.append(_Item(arc(rel), path, st.st_size, _normal_mode(name, st.st_mode)))
            else:
                raise PackagingError(f"{rel}: not a regular file or directory (socket, fifo or device)")

    walk(root, "", frozenset({root}))
    return items


def _merge(groups: Iterable[list[_Item]]) -> list[_Item]:
    """One sorted list from several trees; the same directory may come from two, a file may not."""
    by_name: dict[str, _Item] = {}
    for items in groups:
        for it in items:
            old = by_name.get(it.arcname)
            if old is not None and not (old.is_dir and it.is_dir):
                raise PackagingError(f"{it.arcname}: present in both the source and the dependencies")
            by_name[it.arcname] = it
    for name in by_name:
        encoded_ok = True
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            encoded_ok = False
        if not encoded_ok:
            raise PackagingError(f"{name.encode('utf-8', 'surrogateescape')!r}: file name is not valid UTF-8")
    return [by_name[k] for k in sorted(by_name, key=lambda n: n.encode("utf-8"))]


# ---------------------------------------------------------------- compressing in parallel


@dataclass(frozen=True)
class _Job:
    path: str
    offset: int
    length: int
    last: bool  # last chunk of its file
    single: bool  # the file fits one chunk


@dataclass(frozen=True)
class _Task:
    jobs: tuple[_Job, ...]
    nbytes: int


# (data written to the zip, raw length, crc of the chunk, stored?, raw bytes for multi-chunk)
_Result = tuple[bytes, int, int, bool, bytes | None]


def _plan(items: Sequence[_Item]) -> list[_Task]:
    tasks: list[_Task] = []
    batch: list[_Job] = []
    batch_bytes = 0
    for it in items:
        if it.is_dir or it.size == 0:
            continue
        assert it.path is not None
        n = max(1, -(-it.size // CHUNK_BYTES))
        for i in range(n):
            off = i * CHUNK_BYTES
            job = _Job(it.path, off, min(CHUNK_BYTES, it.size - off), i == n - 1, n == 1)
            batch.append(job)
            batch_bytes += job.length
            if batch_bytes >= BATCH_BYTES:
                tasks.append(_Task(tuple(batch), batch_bytes))
                batch, batch_bytes = [], 0
    if batch:
        tasks.append(_Task(tuple(batch), batch_bytes))
    return tasks


def _compress_task(task: _Task, level: int) -> list[_Result]:
    """Deflate each chunk independently; runs in a pool thread (zlib and reads drop the GIL)."""
    out: list[_Result] = []
    for job in task.jobs:
        with open(job.path, "rb") as f:
            zdict = b""
            if job.offset and level:
                f.seek(job.offset - DICT_BYTES)
                zdict = f.read(DICT_BYTES)
            elif job.offset:
                f.seek(job.offset)
            raw = f.read(job.length)
            if len(raw) != job.length or (job.last and f.read(1)):
                raise PackagingError(f"{job.path}: file changed while it was being packaged")
        crc = zlib.crc32(raw)
        if level == 0:
            out.append((raw, len(raw), crc, True, None if job.single else raw))
            continue
        comp = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict) \
            if zdict else zlib.compressobj(level, zlib.DEFLATED, -15)
        data = comp.compress(raw) + comp.flush(zlib.Z_FINISH if job.last else zlib.Z_SYNC_FLUSH)
        if job.single and len(data) >= len(raw):
            out.append((raw, len(raw), crc, True, None))  # deflate did not help: store it
        else:
            out.append((data, len(raw), crc, False, None if job.single else raw))
    return out


def _ordered_results(pool: ThreadPoolExecutor, tasks: Sequence[_Task], level: int) -> Iterator[_Result]:
    """Results in submission order, with at most MAX_IN_FLIGHT_BYTES of input being worked on."""
    queue: deque[tuple[Future[list[_Result]], int]] = deque()
    pending = iter(tasks)
    in_flight = 0

    def top_up() -> None:
        nonlocal in_flight
        while in_flight < MAX_IN_FLIGHT_BYTES:
            task = next(pending, None)
            if task is None:
                return
            queue.append((pool.submit(_compress_task, task, level), task.nbytes))
            in_flight += task.nbytes

    top_up()
    while queue:
        fut, nbytes = queue.popleft()
        results = fut.result()
        in_flight -= nbytes
        top_up()
        yield from results


# ---------------------------------------------------------------- writing the archive


def _dos_datetime() -> tuple[int, int]:
    """1980-01-01 00:00 (the zip epoch), or SOURCE_DATE_EPOCH as reproducible-builds.org asks."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return 0, (1 << 5) | 1
    try:
        t = time.gmtime(int(epoch))
    except (ValueError, OverflowError) as exc:
        raise PackagingError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from exc
    year = min(max(t.tm_year, 1980), 2107)
    if t.tm_year < 1980:
        return 0, (1 << 5) | 1
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), \
        ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def write_zip(items: Sequence[_Item], out: Path, *, compresslevel: int = 6,
              progress: ProgressFn | None = None) -> PackageSummary:
    """Write `items` (already sorted) as a zip at `out`, atomically (temp file then rename)."""
    if not 0 <= compresslevel <= 9:
        raise PackagingError(f"compression level {compresslevel} is not between 0 and 9")
    dos_time, dos_date = _dos_datetime()
    total = sum(it.size for it in items)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    central: list[bytes] = []
    done = 0
    reported = 0
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as f, \
                ThreadPoolExecutor(_workers(), thread_name_prefix="lambdactl-zip") as pool:
            results = _ordered_results(pool, _plan(items), compresslevel)
            offset = 0
            for it in items:
                name = it.arcname.encode("utf-8")
                flags = 0x800 if not name.isascii() else 0
                if it.is_dir or it.size == 0:
                    method, crc, csize, chunks = 0, 0, 0, []
                    n_chunks = 0
                else:
                    n_chunks = max(1, -(-it.size // CHUNK_BYTES))
                    first = next(results)
                    chunks = [first]
                    method = 0 if first[3] else 8
                    crc, csize = first[2], len(first[0])
                if n_chunks <= 1:
                    f.write(_LOCAL.pack(b"PK\x03\x04", 20 if method else 10, flags, method,
                                        dos_time, dos_date, crc, csize, it.size, len(name), 0))
                    f.write(name)
                    if chunks:
                        f.write(chunks[0][0])
                else:
                    # Big file: header first with placeholders, patched once the chunks are in.
                    f.write(_LOCAL.pack(b"PK\x03\x04", 20, flags, method, dos_time, dos_date,
                                        0, 0, it.size, len(name), 0))
                    f.write(name)
                    crc = 0
                    csize = 0
                    for i in range(n_chunks):
                        chunk = first if i == 0 else next(results)
                        f.write(chunk[0])
                        csize += len(chunk[0])
                        assert chunk[4] is not None
                        crc = zlib.crc32(chunk[4], crc)
                    end = f.tell()
                    f.seek(offset + 14)
                    f.write(struct.pack("<3L", crc, csize, it.size))
                    f.seek(end)
                if it.is_dir:
                    attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
                else:
                    attr = (stat.S_IFREG | it.mode) << 16
                extra = b""
                cd_offset = offset
                if offset >= ZIP32_LIMIT:
                    extra = struct.pack("<HHQ", 1, 8, offset)
                    cd_offset = ZIP32_LIMIT
                central.append(_CENTRAL.pack(
                    b"PK\x01\x02", (3 << 8) | 20, 45 if extra else (20 if method else 10), flags,
                    method, dos_time, dos_date, crc, csize, it.size, len(name), len(extra), 0, 0, 0,
                    attr, cd_offset) + name + extra)
                offset += _LOCAL.size + len(name) + csize
                done += it.size
                if progress is not None and (done - reported >= (1 << 20) or done == total):
                    progress(done, total)
                    reported = done
            cd_start = offset
            cd = b"".join(central)
            f.write(cd)
            cd_end = cd_start + len(cd)
            n = len(central)
            if n >= 0xFFFF or cd_start >= ZIP32_LIMIT or len(cd) >= ZIP32_LIMIT:
                f.write(_ZIP64_EOCD.pack(b"PK\x06\x06", 44, (3 << 8) | 45, 45, 0, 0, n, n,
                                         len(cd), cd_start))
                f.write(_ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, cd_end, 1))
                f.write(_EOCD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, ZIP32_LIMIT, ZIP32_LIMIT, 0))
            else:
                f.write(_EOCD.pack(b"PK\x05\x06", 0, 0, n, n, len(cd), cd_start, 0))
            zipped = f.tell()
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, out)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    files = [it for it in items if not it.is_dir]
    largest = sorted(files, key=lambda it: (-it.size, it.arcname))[:10]
    return PackageSummary(out, len(files), len(items) - len(files), zipped, total,
                          [(it.arcname, it.size) for it in largest])


def build_zip(src: Path, out: Path, *, excludes: Sequence[str] = (), compresslevel: int = 6,
              layer_prefix: str | None = None, progress: ProgressFn | None = None,
              extra_trees: Sequence[tuple[Path, str]] = ()) -> PackageSummary:
    """Zip the contents of `src` (not the folder itself) reproducibly into `out`.

    `layer_prefix` puts the tree under a folder (`python`, `nodejs/node_modules`, ...);
    `extra_trees` adds more (directory, prefix) pairs, such as pip's staging directory. A
    path present in two trees is an error rather than a silent choice.
    """
    groups = [collect(Path(src), excludes=excludes, prefix=layer_prefix or "", skip=[out])]
    for tree, prefix in extra_trees:
        groups.append(collect(Path(tree), excludes=excludes, prefix=prefix, skip=[out]))
    return write_zip(_merge(groups), Path(out), compresslevel=compresslevel, progress=progress)


# ---------------------------------------------------------------- dependencies and layers


def pip_platforms(runtime: str, architecture: str) -> list[str]:
    """The manylinux tags a wheel may carry to run on this runtime's OS image and CPU."""
    if runtime not in PYTHON_RUNTIMES:
        raise PackagingError(f"--requirements needs a Python runtime, not {runtime!r}")
    if architecture not in ARCHITECTURES:
        raise PackagingError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {architecture!r}")
    arch = ARCHITECTURES[architecture]
    top = AL2_GLIBC_MINOR if runtime in AL2_PYTHONS else AL2023_GLIBC_MINOR
    return [f"manylinux2014_{arch}"] + [f"manylinux_2_{m}_{arch}" for m in range(17, top + 1)]


def pip_command(requirements: Path, target: Path, *, runtime: str, architecture: str,
                pip_args: Sequence[str] = ()) -> list[str]:
    """The pip invocation that fetches Lambda-compatible wheels (never builds from source)."""
    platforms = pip_platforms(runtime, architecture)
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
           "--no-compile", "--target", str(target), "--only-binary=:all:", "--implementation", "cp",
           "--python-version", PYTHON_RUNTIMES[runtime], "-r", str(requirements)]
    for tag in platforms:
        cmd += ["--platform", tag]
    return cmd + list(pip_args)


def install_requirements(requirements: Path, target: Path, *, runtime: str, architecture: str,
                         pip_args: Sequence[str] = ()) -> None:
    """Run pip for the target runtime; its own index settings (PIP_INDEX_URL, ...) apply."""
    if not Path(requirements).is_file():
        raise PackagingError(f"{requirements}: no such requirements file")
    cmd = pip_command(Path(requirements), Path(target), runtime=runtime,
                      architecture=architecture, pip_args=pip_args)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise PackagingError(f"pip could not install {requirements} for {runtime} "
                             f"({architecture}):\n{tail}")


def package(src: Path, out: Path, *, excludes: Sequence[str] = (), compresslevel: int = 6,
            requirements: Path | None = None, runtime: str | None = None,
            architecture: str = "x86_64", progress: ProgressFn | None = None,
            on_phase: Callable[[str], None] | None = None,
            pip_args: Sequence[str] = ()) -> PackageSummary:
    """A function's deployment zip: the source at the root, plus pip dependencies if asked."""
    return _package(src, out, excludes=excludes, compresslevel=compresslevel,
                    requirements=requirements, runtime=runtime, architecture=architecture,
                    progress=progress, on_phase=on_phase, pip_args=pip_args,
                    src_prefix="", deps_prefix="")


def layer_prefixes(src: Path, runtime: str | None) -> tuple[str, str]:
    """Where a layer's source and its pip dependencies go, by runtime (see Lambda's search paths).

    Python: source under `python/`, dependencies under `python/lib/pythonX.Y/site-packages`.
    Node.js: a folder holding `node_modules` goes under `nodejs/`, else under
    `nodejs/node_modules`. Other runtimes: the tree must already be laid out (`bin/`, `lib/`...).
    """
    if runtime in PYTHON_RUNTIMES:
        return "python", f"python/lib/python{PYTHON_RUNTIMES[runtime]}/site-packages"
    if runtime in NODE_RUNTIMES:
        return ("nodejs" if (Path(src) / "node_modules").is_dir() else "nodejs/node_modules"), ""
    if runtime is None or runtime in PROVIDED_RUNTIMES:
        tops = {p.name for p in Path(src).iterdir()} if Path(src).is_dir() else set()
        strays = sorted(tops - LAYER_TOP_DIRS - EXCLUDED_DIR_NAMES - EXCLUDED_FILE_NAMES)
        if strays:
            raise PackagingError(
                f"{', '.join(strays)}: not a layer folder (python/, nodejs/, bin/, lib/, ...); "
                f"pass --runtime or --prefix to place the tree")
        return "", ""
    raise PackagingError(f"no layer layout known for runtime {runtime!r}; pass --prefix")


def package_layer(src: Path, out: Path, *, runtime: str | None = None, prefix: str | None = None,
                  excludes: Sequence[str] = (), compresslevel: int = 6,
                  requirements: Path | None = None, architecture: str = "x86_64",
                  progress: ProgressFn | None = None, on_phase: Callable[[str], None] | None = None,
                  pip_args: Sequence[str] = ()) -> PackageSummary:
    """A layer zip laid out so Lambda finds its content under /opt (python/, nodejs/, bin/...)."""
    if prefix is not None:
        src_prefix = prefix.strip("/")
        deps_prefix = (f"python/lib/python{PYTHON_RUNTIMES[runtime]}/site-packages"
                       if runtime in PYTHON_RUNTIMES else src_prefix)
    else:
        src_prefix, deps_prefix = layer_prefixes(src, runtime)
    return _package(src, out, excludes=excludes, compresslevel=compresslevel,
                    requirements=requirements, runtime=runtime, architecture=architecture,
                    progress=progress, on_phase=on_phase, pip_args=pip_args,
                    src_prefix=src_prefix, deps_prefix=deps_prefix)


def _package(src: Path, out: Path, *, excludes: Sequence[str], compresslevel: int,
             requirements: Path | None, runtime: str | None, architecture: str,
             progress: ProgressFn | None, on_phase: Callable[[str], None] | None,
             pip_args: Sequence[str], src_prefix: str, deps_prefix: str) -> PackageSummary:
    if requirements is None:
        if on_phase:
            on_phase("compressing")
        return build_zip(src, out, excludes=excludes, compresslevel=compresslevel,
                         layer_prefix=src_prefix, progress=progress)
    if runtime is None:
        raise PackagingError("--requirements needs --runtime (pythonX.Y) to pick wheels")
    staging = tempfile.mkdtemp(prefix="lambdactl-deps-")
    try:
        if on_phase:
            on_phase(f"installing {Path(requirements).name} for {runtime} ({architecture})")
        install_requirements(Path(requirements), Path(staging), runtime=runtime,
                             architecture=architecture, pip_args=pip_args)
        if on_phase:
            on_phase("compressing")
        return build_zip(src, out, excludes=excludes, compresslevel=compresslevel,
                         layer_prefix=src_prefix, progress=progress,
                         extra_trees=[(Path(staging), deps_prefix)])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
