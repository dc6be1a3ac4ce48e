"""The lint rule registry: every check on a deployment zip, with a stable id.

Each rule is a small object (id, name, severity, one-line summary and fix, and the docstring
of its check saying why it matters), registered by the `@rule` decorator the way ruff keeps its
registry: the id never changes meaning, the docs in `docs/lint-rules.md` are generated from here
(`render_markdown`), and each rule has its own test. A check receives the `LintContext` built
by `lint.py` and yields `(where, message)` pairs; it reads entry content only through the
context's bounded reader. This module knows nothing of the CLI or of output formats.
"""

from __future__ import annotations

import ast
import posixpath
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from lambdactl._record import dataclass
from lambdactl.limits import MAX_LAYERS, MAX_UNZIPPED_BYTES, MAX_ZIPPED_UPLOAD_BYTES
from lambdactl.packaging import zipscan
from lambdactl.packaging.layout import LAYER_TOP_DIRS
from lambdactl.packaging.zipscan import ZipEntry

if TYPE_CHECKING:
    from lambdactl.packaging.lint import Archive, LintContext


def read_error_rule(exc: zipscan.CorruptZipError) -> str:
    """Data that inflate past their declared size are a bomb (LZ007); other damage is LZ002."""
    return "LZ007" if isinstance(exc, zipscan.InflatesLargerError) else "LZ002"

Hit = tuple[str, str]  # (where, message)
Check = Callable[["LintContext"], Iterator[Hit]]

# The limits rule texts quote (docstrings name them in braces): Lambda's "MB" are MiB.
QUOTED_LIMITS = {
    "zipped_bytes": MAX_ZIPPED_UPLOAD_BYTES, "zipped_mb": MAX_ZIPPED_UPLOAD_BYTES >> 20,
    "unzipped_bytes": MAX_UNZIPPED_BYTES, "unzipped_mb": MAX_UNZIPPED_BYTES >> 20,
    "layers": MAX_LAYERS,
}
BOMB_MIN_BYTES = 10 << 20
BOMB_RATIO = 1000  # deflate cannot beat ~1032:1, so this is all but a file of one repeated byte
MAX_HANDLER_BYTES = 4 << 20
MAX_SECRET_FILE_BYTES = 64 * 1024
SECRET_SCAN_BUDGET_BYTES = 4 << 20
SECRET_SCAN_MAX_FILES = 2000
ELF_MACHINES = {62: "x86_64", 183: "arm64", 3: "i386", 40: "arm (32-bit)"}
TAG_ARCHES = {"x86_64": "x86_64", "aarch64": "arm64", "i386": "i386", "i686": "i386",
              "arm": "arm (32-bit)", "armv7l": "arm (32-bit)"}


@dataclass(frozen=True)
class Rule:
    """One lint rule: what it detects, how bad it is, the fix, and why (its check's docstring)."""

    id: str
    name: str
    severity: str  # error | warning | info
    summary: str
    fix: str
    check: Check

    @property
    def why(self) -> str:
        doc = (self.check.__doc__ or "").format_map(QUOTED_LIMITS)
        return " ".join(doc.split())


RULES: dict[str, Rule] = {}


def rule(rule_id: str, name: str, severity: str, summary: str, fix: str) -> Callable[[Check], Check]:
    """Register the decorated check under a stable id; ids are unique and never reused."""
    assert severity in ("error", "warning", "info"), severity
    assert re.fullmatch(r"LZ\d{3}", rule_id), rule_id

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        if not check.__doc__:
            raise ValueError(f"rule {rule_id} needs a docstring saying why it matters")
        RULES[rule_id] = Rule(rule_id, name, severity, summary, fix, check)
        return check

    return register


# ---------------------------------------------------------------- helpers


def _all_entries(ctx: LintContext) -> Iterator[tuple[Archive, ZipEntry]]:
    for archive in ctx.archives:
        for entry in archive.entries:
            yield archive, entry


def _parts(name: str) -> list[str]:
    return [p for p in name.split("/") if p]


def _perm(entry: ZipEntry) -> int:
    return entry.mode & 0o777


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _head(ctx: LintContext, archive: Archive, entry: ZipEntry) -> bytes:
    """The first 64 bytes (enough for ELF, Mach-O and PE headers and a #! line), read once."""
    key = ("head", archive.label, entry.index)
    head = ctx.cache.get(key)
    if not isinstance(head, bytes):
        head = ctx.read(archive, entry, max_bytes=64) or b""
        ctx.cache[key] = head
    return head


def _dirs_named(ctx: LintContext, names: frozenset[str]) -> Iterator[tuple[Archive, str, int]]:
    """Top-most directories whose name is in `names`, once each, with their total size."""
    for archive in ctx.archives:
        found: dict[str, int] = {}
        for e in archive.entries:
            parts = _parts(e.name)
            limit = len(parts) if e.is_dir else len(parts) - 1
            for i in range(limit):
                if parts[i] in names:
                    top = "/".join(parts[:i + 1]) + "/"
                    found[top] = found.get(top, 0) + e.size
                    break
        for top, size in found.items():
            yield archive, top, size


# ---------------------------------------------------------------- the archive itself


@rule("LZ001", "not-a-zip", "error", "The file is not a zip archive.",
      "Build the package with `lambdactl package` (or `zip -r`), not tar or gzip.")
def not_a_zip(ctx: LintContext) -> Iterator[Hit]:
    """Lambda unzips every package; anything else (a tarball, a gzip, an empty file) fails at
    upload with "Could not unzip uploaded file". Found while opening the file, before any other
    rule runs; a zip cut short before its end record is LZ002."""
    return iter(())


@rule("LZ002", "corrupt-zip", "error",
      "The zip's structure or data is damaged (truncated, inconsistent headers, bad CRC).",
      "Rebuild the zip; check that the upload or copy step did not truncate it.")
def corrupt_zip(ctx: LintContext) -> Iterator[Hit]:
    """A zip whose central directory and local headers disagree, whose data run past the end, or
    whose content fails its CRC is refused by Lambda or extracted differently by different
    tools. By default only the entries that other rules read are inflated and checked; `--deep`
    inflates every entry."""
    for archive in ctx.archives:
        if archive.scan is None:
            continue
        for name, text in archive.scan.problems:
            yield archive.where(name), text
        if ctx.deep:
            for e in archive.entries:
                if e.encrypted or e.method not in (zipscan.STORED, zipscan.DEFLATED):
                    continue
                try:
                    for _ in zipscan.iter_entry(archive.buf, e):
                        pass
                except zipscan.CorruptZipError as exc:
                    # Reported by the rule read_error_rule picks (LZ002, or LZ007 for a bomb).
                    ctx.read_errors.append((read_error_rule(exc), archive, e, str(exc)))


@rule("LZ003", "unsupported-entry", "error",
      "An entry is encrypted or uses a compression method other than stored or deflate.",
      "Rebuild without a password and with deflate (`lambdactl package` does).")
def unsupported_entry(ctx: LintContext) -> Iterator[Hit]:
    """Lambda has no password to decrypt an entry, and its extractor, like most, handles only
    stored and deflated entries: bzip2, LZMA, zstd or Deflate64 entries cannot be unpacked."""
    names = {0: "stored", 8: "deflate", 9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "zstd",
             95: "xz", 98: "PPMd"}
    for archive, e in _all_entries(ctx):
        if e.encrypted:
            yield archive.where(e.name), "entry is encrypted"
        elif e.method not in (zipscan.STORED, zipscan.DEFLATED):
            yield archive.where(e.name), f"compression method {names.get(e.method, e.method)}"


@rule("LZ004", "zipped-size", "error", f"The zip is over {MAX_ZIPPED_UPLOAD_BYTES >> 20} MB, Lambda's limit for a direct upload.",
      "Upload through S3, or move dependencies into layers.")
def zipped_size(ctx: LintContext) -> Iterator[Hit]:
    """CreateFunction, UpdateFunctionCode and PublishLayerVersion refuse a ZipFile over {zipped_bytes:,}
    bytes with RequestEntityTooLargeException; only an S3 upload may be larger."""
    for archive in ctx.archives:
        if archive.scan and archive.scan.size > MAX_ZIPPED_UPLOAD_BYTES:
            yield archive.where(""), (f"{archive.scan.size} bytes zipped; a direct upload must be "
                                      f"at most {MAX_ZIPPED_UPLOAD_BYTES}")


@rule("LZ005", "unzipped-size", "error",
      f"Code and layers together unzip to {MAX_UNZIPPED_BYTES >> 20} MB or more.",
      "Drop dead weight (tests, caches, boto3), or use a container image.")
def unzipped_size(ctx: LintContext) -> Iterator[Hit]:
    """Lambda adds up the unzipped size of the function's code and all its layers and refuses
    {unzipped_bytes:,} bytes or more ("Unzipped size must be smaller than {unzipped_bytes} bytes"). The sizes
    come from the central directory, so this costs nothing to check."""
    total = sum(a.scan.unzipped_size for a in ctx.archives if a.scan)
    if total >= MAX_UNZIPPED_BYTES:
        parts = ", ".join(f"{a.label or 'code'} {a.scan.unzipped_size}" for a in ctx.archives if a.scan)
        yield "", f"{total} bytes unzipped ({parts}); must be smaller than {MAX_UNZIPPED_BYTES}"


@rule("LZ006", "too-many-layers", "error", f"More than {MAX_LAYERS} layers.",
      "Merge layers, or bundle the smaller ones into the code.")
def too_many_layers(ctx: LintContext) -> Iterator[Hit]:
    """A function may reference at most {layers} layers ("Cannot reference more than {layers} layers.")."""
    if len(ctx.layers) > MAX_LAYERS:
        yield "", f"{len(ctx.layers)} layers; at most {MAX_LAYERS} are allowed"


@rule("LZ007", "zip-bomb", "error",
      "Entries overlap or inflate at an implausible ratio (a zip bomb).",
      "Rebuild the zip from the source tree; do not deploy an archive of unknown origin.")
def zip_bomb(ctx: LintContext) -> Iterator[Hit]:
    """Zip bombs make many entries share one compressed stream (overlapping entries), compress
    gigabytes of one byte, or declare a small size for data that inflate to far more, so
    extraction exhausts the disk. No honest tool writes overlapping entries, a ratio above
    1000:1 on a large entry means it is all one repeated byte, and deflate never produces more
    than its documented bound; data inflating past the declared size (seen when an entry is
    read, or for all with `--deep`) is reported here too."""
    for archive in ctx.archives:
        if archive.scan is None:
            continue
        for a, b in archive.scan.overlaps:
            yield archive.where(b), f"data overlaps entry {a!r}"
        for e in archive.entries:
            if e.size >= BOMB_MIN_BYTES and e.size >= BOMB_RATIO * max(1, e.compressed_size):
                yield archive.where(e.name), (f"inflates {e.compressed_size} bytes to {e.size} "
                                              f"({e.size // max(1, e.compressed_size)}:1)")
            elif e.method == zipscan.DEFLATED and e.compressed_size > _deflate_bound(e.size):
                yield archive.where(e.name), (f"declares {e.size} bytes but holds {e.compressed_size} "
                                              f"compressed: more than deflate could produce")


def _deflate_bound(size: int) -> int:
    """Most bytes honest deflate output can take for `size` input (zlib's deflateBound, plus
    the sync markers of chunked compressors such as pigz and lambdactl); a larger entry is
    lying about its size."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 13 + 6 * (size // 65536 + 1) + 1024


# ---------------------------------------------------------------- entry names


@rule("LZ008", "unsafe-path", "error",
      "An entry name is absolute or climbs out with `..`.",
      "Rebuild from a directory with relative paths (`lambdactl package SRC`).")
def unsafe_path(ctx: LintContext) -> Iterator[Hit]:
    """An absolute or `..` path would be written outside /var/task (zip slip). Lambda refuses or
    mangles such packages, and lambdactl refuses them on upload; no packaging tool writes them
    unless fed paths from outside the tree."""
    for archive, e in _all_entries(ctx):
        name = e.name
        if name.startswith("/") or re.match(r"[A-Za-z]:", name):
            yield archive.where(name), "absolute path"
        elif ".." in re.split(r"[/\\]", name):
            yield archive.where(name), "path contains `..`"
        elif "\x00" in name or not name:
            yield archive.where(name), "empty name or NUL byte in the name"


@rule("LZ009", "symlink-escape", "error",
      "A symbolic link points outside the package.",
      "Replace the link with the file it points to (`lambdactl package` stores link targets).")
def symlink_escape(ctx: LintContext) -> Iterator[Hit]:
    """A link to an absolute path or above the package root resolves to whatever is at that path
    in the execution environment (or nothing), not to what was tested; it is also how a
    malicious zip reaches files outside its directory during extraction."""
    for archive, e in _all_entries(ctx):
        if not e.is_symlink:
            continue
        target = (ctx.read(archive, e, max_bytes=4096) or b"").decode("utf-8", "replace")
        if target.startswith("/"):
            yield archive.where(e.name), f"links to absolute path {target!r}"
            continue
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(e.name), target))
        if resolved == ".." or resolved.startswith("../"):
            yield archive.where(e.name), f"links to {target!r}, outside the package"


@rule("LZ010", "duplicate-entry", "error",
      "The same path appears twice, or as both a file and a directory.",
      "Rebuild the zip from scratch instead of appending to an old one (`zip -r` updates in place).")
def duplicate_entry(ctx: LintContext) -> Iterator[Hit]:
    """Which copy of a duplicated entry wins depends on the extractor, so the code that runs may
    not be the code that was reviewed. Appending to an existing zip is the usual cause."""
    for archive in ctx.archives:
        seen: set[str] = set()
        files: set[str] = set()
        for e in archive.entries:
            key = e.name.rstrip("/")
            if key in seen:
                yield archive.where(e.name), "appears more than once"
            seen.add(key)
            if not e.is_dir:
                files.add(key)
        for e in archive.entries:
            parts = _parts(e.name)
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent in files:
                    yield archive.where(e.name), f"{parent!r} is a file but is used as a directory"
                    break


@rule("LZ011", "backslash-path", "error",
      "An entry name uses `\\` as a separator (a zip made on Windows).",
      "Rebuild with a tool that writes `/` (`lambdactl package`, 7-Zip, or Python's zipfile).")
def backslash_path(ctx: LintContext) -> Iterator[Hit]:
    """On Linux `\\` is an ordinary character: `src\\app.py` unpacks as one file with a backslash
    in its name at the root, so the module `src/app.py` does not exist at run time."""
    for archive, e in _all_entries(ctx):
        if "\\" in e.name:
            yield archive.where(e.name), "backslash in entry name"


@rule("LZ012", "name-encoding", "warning",
      "An entry name is not ASCII and not marked as UTF-8, or is invalid UTF-8.",
      "Rename the file to ASCII, or rebuild with a tool that sets the UTF-8 flag.")
def name_encoding(ctx: LintContext) -> Iterator[Hit]:
    """Without the UTF-8 flag each extractor guesses an encoding (cp437, the locale), so the
    file may land under a different name than the code imports."""
    for archive, e in _all_entries(ctx):
        raw = e.raw_name
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        if not valid:
            yield archive.where(e.name), "name is not valid UTF-8"
        elif not e.flags & zipscan.FLAG_UTF8:
            yield archive.where(e.name), "non-ASCII name without the UTF-8 flag"


# ---------------------------------------------------------------- handler and bootstrap


@dataclass
class _HandlerResult:
    invalid: list[Hit]
    missing: list[Hit]
    nested: list[Hit]
    function_missing: list[Hit]
    syntax: list[Hit]


def _top_folders_with(archive: Archive, candidates: list[str]) -> list[str]:
    """Top-level folders under which one of the candidate paths exists."""
    tops = sorted({_parts(n)[0] for n in archive.names if "/" in n.strip("/")})
    return [t for t in tops if any(f"{t}/{c}" in archive.names for c in candidates)]


def _python_candidates(module_path: str, names: dict[str, ZipEntry], root: str) -> list[str]:
    base = root + module_path
    out = [f"{base}.py", f"{base}/__init__.py", f"{base}.pyc"]
    prefix = base + "."
    out += [n for n in names if n.startswith(prefix) and n.endswith(".so")]
    return out


def _python_defines(tree: ast.Module, name: str) -> bool | None:
    """Whether module-level code binds `name`; None when a star import makes it unknowable."""
    unknown = False

    def targets(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                yield from targets(elt)
        elif isinstance(node, ast.Starred):
            yield from targets(node.value)

    def walk(body: list[ast.stmt]) -> bool:
        nonlocal unknown
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == name:
                    return True
            elif isinstance(node, ast.Assign):
                if any(name in targets(t) for t in node.targets):
                    return True
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                if name in targets(node.target):
                    return True
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        unknown = True
                    bound = alias.asname or alias.name.split(".")[0]
                    if bound == name:
                        return True
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While)):
                blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
                blocks += [h.body for h in getattr(node, "handlers", [])]
                if any(walk(b) for b in blocks):
                    return True
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr) \
                    and node.value.target.id == name:
                return True
        return False

    found = walk(tree.body)
    return True if found else (None if unknown else False)


_NODE_UNKNOWN_SHAPE = re.compile(
    r"module\.exports\s*=\s*(?![\s{])|module\.exports\s*=\s*require\(|export\s*\*|"
    r"Object\.assign\(\s*(module\.)?exports|Object\.defineProperty\(\s*(module\.)?exports\s*,\s*[^'\"]")


def _node_exports(source: str, name: str) -> bool | None:
    """Whether a CommonJS or ES module exports `name`; None when the export shape is dynamic."""
    n = re.escape(name)
    patterns = [
        rf"\bexports\.{n}\s*=",
        rf"\bexports\[\s*['\"`]{n}['\"`]\s*\]\s*=",
        rf"\bexport\s+(?:async\s+)?function\s*\*?\s*{n}\b",
        rf"\bexport\s+(?:const|let|var|class)\s+{n}\b",
        rf"\bexport\s*\{{[^}}]*\b{n}\b[^}}]*\}}",
        rf"module\.exports\s*=\s*\{{[\s\S]{{0,20000}}?\b{n}\b",
        rf"__export\([^,]+,\s*\{{[\s\S]{{0,20000}}?\b{n}\s*:",
        rf"Object\.defineProperty\(\s*(?:module\.)?exports\s*,\s*['\"`]{n}['\"`]",
    ]
    if name == "default":
        patterns.append(r"\bexport\s+default\b")
    if any(re.search(p, source) for p in patterns):
        return True
    return None if _NODE_UNKNOWN_SHAPE.search(source) else False


def _resolve_handler(ctx: LintContext) -> _HandlerResult:
    """Find the handler's module and function once; the five handler rules report from this."""
    cached = ctx.cache.get("handler")
    if isinstance(cached, _HandlerResult):
        return cached
    res = _HandlerResult([], [], [], [], [])
    ctx.cache["handler"] = res
    handler, family, code = ctx.handler, ctx.family, ctx.code
    if not handler or family == "provided" or (family is None and ctx.runtime is not None):
        return res
    tail = handler.rsplit("/", 1)[-1]
    if "." not in tail or tail.startswith(".") or tail.endswith("."):
        res.invalid.append(("", f"handler {handler!r} must be MODULE.FUNCTION (e.g. app.handler)"))
        return res
    families = [family] if family else ["python", "nodejs"]
    tried: list[str] = []
    for fam in families:
        if fam == "python":
            module, fn = handler.rsplit(".", 1)
            module_path = module.replace("/", ".").replace(".", "/")
            top = module_path.split("/")[0]
            if top in sys.builtin_module_names:
                res.invalid.append(("", f"module {top!r} is built into Python "
                                        f"(Runtime.BuiltInModuleConflict); rename your module"))
                return res
            roots: list[tuple[Archive, str]] = [(code, "")]
            if ctx.python_version:
                for layer in ctx.layers:
                    roots += [(layer, "python/"),
                              (layer, f"python/lib/python{ctx.python_version}/site-packages/")]
            for archive, root in roots:
                for cand in _python_candidates(module_path, archive.names, root):
                    entry = archive.names.get(cand)
                    if entry is not None:
                        _check_python_function(ctx, archive, entry, fn, res)
                        return res
            tried += _python_candidates(module_path, code.names, "")[:2]
            nested = _top_folders_with(code, _python_candidates(module_path, code.names, "")[:2])
        else:
            head = handler.rsplit("/", 1)[0] + "/" if "/" in handler else ""
            module, _, fn_path = tail.partition(".")
            base = head + module
            cands = [f"{base}.js", f"{base}.mjs", f"{base}.cjs", f"{base}/index.js"]
            for cand in cands:
                entry = code.names.get(cand)
                if entry is not None:
                    _check_node_function(ctx, entry, fn_path.split(".")[0], res)
                    return res
            tried += cands
            nested = _top_folders_with(code, cands)
        if nested:
            res.nested.append((f"{nested[0]}/", f"handler module found under {nested[0]}/ instead of "
                                                f"at the root of the zip"))
            return res
    res.missing.append(("", f"handler {handler!r}: none of {', '.join(tried)} is in the zip"))
    return res


def _check_python_function(ctx: LintContext, archive: Archive, entry: ZipEntry, fn: str,
                           res: _HandlerResult) -> None:
    if not entry.name.endswith(".py"):
        return  # compiled module: its names cannot be read without importing it
    data = ctx.read(archive, entry, max_bytes=MAX_HANDLER_BYTES)
    if data is None:
        return
    try:
        tree = ast.parse(data, filename=entry.name)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        res.syntax.append((archive.where(entry.name), f"line {line}: {getattr(exc, 'msg', exc)} "
                                                      f"(parsed as Python {sys.version_info[0]}."
                                                      f"{sys.version_info[1]})"))
        return
    if _python_defines(tree, fn) is False:
        res.function_missing.append((archive.where(entry.name),
                                     f"no top-level function or name {fn!r} in {entry.name}"))


def _check_node_function(ctx: LintContext, entry: ZipEntry, fn: str, res: _HandlerResult) -> None:
    data = ctx.read(ctx.code, entry, max_bytes=MAX_HANDLER_BYTES)
    if data is None:
        return
    if _node_exports(data.decode("utf-8", "replace"), fn) is False:
        res.function_missing.append((entry.name, f"{entry.name} does not export {fn!r}"))


@rule("LZ020", "handler-invalid", "error",
      "The handler string cannot name a module and function.",
      "Use FILE.FUNCTION without the extension, e.g. `app.handler` for app.py's handler().")
def handler_invalid(ctx: LintContext) -> Iterator[Hit]:
    """Python and Node.js split the handler at a dot into module and function; without one, or
    with a module that shadows a built-in, every invocation fails with Runtime.ImportModuleError
    or Runtime.BuiltInModuleConflict."""
    yield from _resolve_handler(ctx).invalid


@rule("LZ021", "handler-module-missing", "error",
      "The handler's module is not in the zip.",
      "Check the file name and that it sits at the zip root (or pass the right --handler).")
def handler_module_missing(ctx: LintContext) -> Iterator[Hit]:
    """The runtime imports the handler's module from /var/task (Python also from the layers'
    python/ paths); a missing file fails every invocation with Runtime.ImportModuleError or
    Runtime.HandlerNotFound."""
    yield from _resolve_handler(ctx).missing


@rule("LZ022", "nested-folder", "error",
      "The package is nested in a folder: the handler or bootstrap is under a top folder.",
      "Zip the contents, not the folder: `cd src && zip -r ../f.zip .` or `lambdactl package src`.")
def nested_folder(ctx: LintContext) -> Iterator[Hit]:
    """Zipping the folder instead of its contents puts everything under `folder/` inside
    /var/task, so `app.py` is really `/var/task/folder/app.py` and the import fails. The most
    common packaging mistake there is."""
    yield from _resolve_handler(ctx).nested
    if ctx.family == "provided" and not _bootstraps(ctx):
        tops = _top_folders_with(ctx.code, ["bootstrap"])
        if tops:
            yield f"{tops[0]}/bootstrap", "bootstrap found under a folder instead of at the root"


@rule("LZ023", "handler-function-missing", "error",
      "The handler's module does not define or export the handler function.",
      "Define the function at module level (Python) or export it (Node.js), or fix --handler.")
def handler_function_missing(ctx: LintContext) -> Iterator[Hit]:
    """Read without running the code (Python through `ast`, Node.js by its export statements):
    a handler name the module does not bind fails every invocation with
    Runtime.HandlerNotFound. Star imports and dynamic exports are given the benefit of doubt."""
    yield from _resolve_handler(ctx).function_missing


@rule("LZ024", "handler-syntax-error", "error",
      "The Python handler module does not parse.",
      "Fix the syntax error; check it with `python -m py_compile` on the runtime's version.")
def handler_syntax_error(ctx: LintContext) -> Iterator[Hit]:
    """A handler module that does not parse fails at INIT with Runtime.UserCodeSyntaxError. It is
    parsed by this machine's Python, so syntax newer than that is reported too."""
    yield from _resolve_handler(ctx).syntax


def _bootstraps(ctx: LintContext) -> list[tuple[Archive, ZipEntry]]:
    return [(a, a.names["bootstrap"]) for a in ctx.archives if "bootstrap" in a.names]


@rule("LZ025", "bootstrap-missing", "error",
      "A provided.* runtime has no `bootstrap` at the root of the code or of a layer.",
      "Put the executable (or a wrapper script) named `bootstrap` at the zip root.")
def bootstrap_missing(ctx: LintContext) -> Iterator[Hit]:
    """OS-only runtimes start /var/task/bootstrap, else /opt/bootstrap from a layer; without
    either every invocation fails with Runtime.InvalidEntrypoint."""
    if ctx.family != "provided" or _bootstraps(ctx):
        return
    if not _top_folders_with(ctx.code, ["bootstrap"]):
        yield "", "no bootstrap at the root of the code or of any layer"


@rule("LZ026", "bootstrap-not-executable", "error",
      "The `bootstrap` is not executable by everyone, or is neither a binary nor a #! script.",
      "Make it 0755 (`chmod 755 bootstrap`) and start scripts with a #! line.")
def bootstrap_not_executable(ctx: LintContext) -> Iterator[Hit]:
    """Lambda runs bootstrap as an unprivileged user: without the others-execute bit (or with no
    Unix mode at all, as in Windows zips) it fails with "permission denied" / exit status 126,
    and a file that is not ELF and lacks `#!` fails with "exec format error"."""
    if ctx.family != "provided":
        return
    for archive, e in _bootstraps(ctx):
        if e.is_symlink or e.is_dir:
            continue
        if not e.has_unix_mode:
            yield archive.where(e.name), "no Unix mode stored (zip made on Windows?)"
        elif _perm(e) & 0o005 != 0o005:
            yield archive.where(e.name), f"mode {_perm(e):04o}, others cannot execute it"
        else:
            head = _head(ctx, archive, e)
            if head and not head.startswith((b"\x7fELF", b"#!")):
                yield archive.where(e.name), "neither an ELF binary nor a script starting with #!"


@rule("LZ027", "layer-layout", "warning",
      "A layer has files outside the folders Lambda searches (python/, nodejs/, bin/, lib/...).",
      "Build the layer with `lambdactl package-layer --runtime R` to get the layout right.")
def layer_layout(ctx: LintContext) -> Iterator[Hit]:
    """Layers are unpacked into /opt and only some folders are on a search path: a package
    zipped at the layer's root (`/opt/requests/`) instead of under `python/` is never found
    and the import fails at run time."""
    for layer in ctx.layers:
        strays = sorted({_parts(e.name)[0] for e in layer.entries if _parts(e.name)}
                        - LAYER_TOP_DIRS)
        if strays:
            shown = ", ".join(strays[:5]) + (", ..." if len(strays) > 5 else "")
            yield layer.where(""), f"not on any search path under /opt: {shown}"


# ---------------------------------------------------------------- permissions


@rule("LZ030", "not-world-readable", "error",
      "A file is not readable by others, or a directory not listable by others.",
      "Set 0644 on files and 0755 on directories before zipping (`lambdactl package` does).")
def not_world_readable(ctx: LintContext) -> Iterator[Hit]:
    """Function code runs as an unprivileged user that owns nothing in /var/task, so only the
    "others" bits count: a 0600 file gives `[Errno 13] Permission denied` or
    `EACCES: permission denied` at import."""
    for archive, e in _all_entries(ctx):
        if not e.has_unix_mode or e.is_symlink:
            continue
        if e.is_dir and _perm(e) & 0o005 != 0o005:
            yield archive.where(e.name), f"directory mode {_perm(e):04o}"
        elif not e.is_dir and not _perm(e) & 0o004:
            yield archive.where(e.name), f"file mode {_perm(e):04o}"


@rule("LZ031", "mode-not-normalised", "warning",
      "A directory or executable is readable by all but its mode is not 0755.",
      "chmod 755 directories and executables before zipping (`lambdactl package` does).")
def mode_not_normalised(ctx: LintContext) -> Iterator[Hit]:
    """Executables with only the owner's x bit (0744) cannot be run by the function's user, and
    unusual modes make the package differ between machines; AWS documents 755 for
    directories and executables."""
    for archive, e in _all_entries(ctx):
        if not e.has_unix_mode or e.is_symlink:
            continue
        perm = _perm(e)
        if e.is_dir:
            if perm & 0o005 == 0o005 and perm != 0o755:
                yield archive.where(e.name), f"directory mode {perm:04o}, expected 0755"
        elif perm & 0o111 and perm & 0o004 and perm != 0o755:
            yield archive.where(e.name), f"executable mode {perm:04o}, expected 0755"


@rule("LZ032", "no-unix-mode", "warning",
      "Entries carry no Unix permissions (zip made on Windows).",
      "Build the zip with `lambdactl package`, WSL, or 7-Zip with Unix attributes.")
def no_unix_mode(ctx: LintContext) -> Iterator[Hit]:
    """Without a stored mode the extractor picks permissions, and executables lose their x bit:
    bundled binaries and wrapper scripts then fail with "permission denied"."""
    for archive in ctx.archives:
        bare = [e for e in archive.entries if not e.has_unix_mode]
        if bare:
            yield archive.where(""), (f"{len(bare)} of {len(archive.entries)} entries have no Unix "
                                      f"mode (first: {bare[0].name})")


# ---------------------------------------------------------------- native code

_NATIVE_NAME = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|node|exe)$")
_CPYTHON_TAG = re.compile(r"\.(cpython|pypy)-?(\d+)[a-z]*-([^.]*)\.so$")
_WIN_TAG = re.compile(r"\.(cp\d+)-win[^.]*\.pyd$")


def _natives(ctx: LintContext) -> Iterator[tuple[Archive, ZipEntry]]:
    """Shared objects, extension modules and executables: whatever the loader will map."""
    for archive, e in _all_entries(ctx):
        if e.is_dir or e.is_symlink:
            continue
        if _NATIVE_NAME.search(e.name) or (e.has_unix_mode and _perm(e) & 0o111):
            yield archive, e


def _binary_kind(head: bytes) -> str | None:
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "macho"
    if head.startswith(b"MZ"):
        return "pe"
    return None


@rule("LZ040", "native-wrong-platform", "error",
      "A native library is built for macOS, Windows or musl, not Linux (glibc).",
      "Install wheels for Lambda: `lambdactl package --requirements` (manylinux, --only-binary).")
def native_wrong_platform(ctx: LintContext) -> Iterator[Hit]:
    """Lambda runs Amazon Linux (glibc); a Mach-O `.so`/`.dylib` from a Mac, a Windows `.pyd` or
    an Alpine (musl) build cannot be loaded: `invalid ELF header` or an ImportError at INIT.
    Usually `pip install -t` was run on a laptop instead of for the target platform."""
    for archive, e in _natives(ctx):
        lower = e.name.lower()
        if lower.endswith((".pyd", ".dll", ".exe")):
            yield archive.where(e.name), "Windows binary"
            continue
        if lower.endswith(".dylib") or lower.endswith("-darwin.so"):
            yield archive.where(e.name), "macOS library"
            continue
        kind = _binary_kind(_head(ctx, archive, e))
        if kind == "macho":
            yield archive.where(e.name), "Mach-O (macOS) binary"
        elif kind == "pe":
            yield archive.where(e.name), "Windows (PE) binary"
        elif "-linux-musl" in lower:
            yield archive.where(e.name), "built for musl libc (Alpine), Lambda uses glibc"


@rule("LZ041", "native-wrong-architecture", "error",
      "A native library or executable is built for another CPU than the function's architecture.",
      "Build or install for the function's architecture (--architecture x86_64|arm64).")
def native_wrong_architecture(ctx: LintContext) -> Iterator[Hit]:
    """An x86_64 library on an arm64 function (or the reverse) fails to load with `wrong ELF
    class` / `cannot open shared object file`; the ELF header's e_machine says which CPU a
    binary is for, without trusting its file name."""
    want = ctx.architecture
    for archive, e in _natives(ctx):
        head = _head(ctx, archive, e)
        if _binary_kind(head) == "elf" and len(head) >= 20:
            machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
            got = ELF_MACHINES.get(machine, f"machine {machine}")
            if head[4] != 2 and got == want:
                yield archive.where(e.name), "32-bit ELF binary"
            elif got != want:
                yield archive.where(e.name), f"ELF for {got}, function is {want}"
            continue
        m = _CPYTHON_TAG.search(e.name)
        if m and "darwin" not in m.group(3):
            arch = TAG_ARCHES.get(m.group(3).split("-")[0])
            if arch and arch != want:
                yield archive.where(e.name), f"tagged for {arch}, function is {want}"


@rule("LZ042", "native-wrong-python", "error",
      "A Python extension module is built for another Python version or implementation.",
      "Install with the runtime's version: `lambdactl package --requirements --runtime pythonX.Y`.")
def native_wrong_python(ctx: LintContext) -> Iterator[Hit]:
    """`foo.cpython-311-x86_64-linux-gnu.so` is only importable by CPython 3.11; on python3.12
    the import finds no module and fails. abi3 modules work on later versions and are not
    reported."""
    version = ctx.python_version
    if version is None:
        return
    want = version.replace(".", "")
    for archive, e in _natives(ctx):
        m = _CPYTHON_TAG.search(e.name)
        if m:
            if m.group(1) == "pypy":
                yield archive.where(e.name), "built for PyPy, Lambda runs CPython"
            elif m.group(2) != want:
                yield archive.where(e.name), (f"built for Python {m.group(2)[0]}.{m.group(2)[1:]}, "
                                              f"runtime is {version}")
            continue
        w = _WIN_TAG.search(e.name)
        if w and w.group(1) != f"cp{want}":
            yield archive.where(e.name), f"built for {w.group(1)}, runtime is {version}"


# ---------------------------------------------------------------- dead weight


@rule("LZ050", "bytecode-cache", "warning",
      "The zip carries bytecode caches for another Python version.",
      "Exclude __pycache__ and *.pyc (`lambdactl package` does), or compile for the runtime.")
def bytecode_cache(ctx: LintContext) -> Iterator[Hit]:
    """Python only uses `.pyc` files whose tag matches its own version (`cpython-312`); the rest
    are dead weight counted against the {unzipped_mb} MB limit. Caches matching the runtime do help cold
    starts (/var/task is read-only, so Python cannot write them) and are not reported."""
    keep = f".cpython-{(ctx.python_version or '').replace('.', '')}." if ctx.python_version else None
    for archive in ctx.archives:
        dead = [e for e in archive.entries
                if (e.name.endswith((".pyc", ".pyo")) or "/__pycache__/" in f"/{e.name}")
                and not (keep and keep in e.name) and not e.is_dir]
        if dead:
            yield archive.where(""), (f"{len(dead)} bytecode files ({_size(sum(e.size for e in dead))}),"
                                      f" e.g. {dead[0].name}")


@rule("LZ051", "vcs-metadata", "warning",
      "A version-control folder (.git, .hg, .svn) is in the zip.",
      "Exclude it (`lambdactl package` does by default) or `--exclude .git`.")
def vcs_metadata(ctx: LintContext) -> Iterator[Hit]:
    """Repository history is dead weight, and it can hold secrets that were removed from the
    working tree but live on in old commits."""
    for archive, top, size in _dirs_named(ctx, frozenset({".git", ".hg", ".svn", ".bzr"})):
        yield archive.where(top), f"version-control metadata ({_size(size)})"


_DEAD_DIRS = frozenset({"__MACOSX", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox",
                        ".idea", ".vscode", ".cache", "tests", "test"})
_DEAD_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


@rule("LZ052", "dead-weight", "warning",
      "Test suites, editor and tool caches, virtualenvs or OS litter are in the zip.",
      "Leave them out with --exclude (lambdactl package drops virtualenvs and OS litter).")
def dead_weight(ctx: LintContext) -> Iterator[Hit]:
    """Every byte counts against the {unzipped_mb} MB unzipped limit and is copied on each cold start;
    test folders, caches and a bundled virtualenv are never imported by the function."""
    for archive, top, size in _dirs_named(ctx, _DEAD_DIRS):
        yield archive.where(top), f"{_parts(top)[-1]}/ ({_size(size)})"
    for archive, e in _all_entries(ctx):
        base = _parts(e.name)[-1] if _parts(e.name) else ""
        if base in _DEAD_FILES:
            yield archive.where(e.name), "operating-system litter"
        elif base == "pyvenv.cfg":
            yield archive.where(posixpath.dirname(e.name) + "/"), "a virtualenv"


# ---------------------------------------------------------------- secrets

_TEXT_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".json", ".yaml", ".yml", ".txt", ".cfg",
                  ".ini", ".toml", ".conf", ".properties", ".sh", ".env", ".xml", ".config", ".rb",
                  ".pem", ".key", ".tf", ".tfvars")
_KEY_NAMES = re.compile(r"(^|/)(id_(rsa|dsa|ecdsa|ed25519)|[^/]+\.(pem|key))$")
_PRIVATE_KEY = re.compile(rb"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----")
_AWS_KEY = re.compile(rb"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])")
_ENV_FILE = re.compile(r"(^|/)(\.env(\.[^/]*)?|\.netrc|\.pypirc|\.npmrc|\.aws/credentials|"
                       r"\.docker/config\.json)$")
_ENV_TEMPLATE = re.compile(r"\.(example|sample|template|dist)$")


def _dependency_dirs(archive: Archive) -> set[str]:
    """Top folders that belong to installed packages: named like a sibling *.dist-info."""
    projects = set()
    for name in archive.names:
        top = name.split("/", 1)[0]
        if top.endswith((".dist-info", ".egg-info")):
            projects.add(top.split("-", 1)[0].lower().replace(".", "_"))
    return {p for p in projects}


def _secret_texts(ctx: LintContext) -> list[tuple[Archive, ZipEntry, bytes]]:
    """Small text files to scan, user code first (shallow paths, not dependencies), bounded."""
    cached = ctx.cache.get("secret_texts")
    if isinstance(cached, list):
        return cached
    picked: list[tuple[int, str, Archive, ZipEntry]] = []
    for archive in ctx.archives:
        deps = _dependency_dirs(archive)
        for e in archive.entries:
            if e.is_dir or e.is_symlink or e.size > MAX_SECRET_FILE_BYTES or e.size == 0:
                continue
            name = e.name
            parts = _parts(name)
            base = parts[-1] if parts else ""
            keyish = bool(_KEY_NAMES.search(name))
            if not keyish:
                if "node_modules" in parts or "site-packages" in parts:
                    continue
                if parts and (parts[0].lower() in deps or parts[0].endswith(".dist-info")):
                    continue
                if not (name.endswith(_TEXT_SUFFIXES) or "." not in base or base.startswith(".env")):
                    continue
            picked.append((0 if keyish else len(parts), name, archive, e))
    picked.sort(key=lambda t: (t[0], t[1]))
    out: list[tuple[Archive, ZipEntry, bytes]] = []
    budget = SECRET_SCAN_BUDGET_BYTES
    for _, _, archive, e in picked[:SECRET_SCAN_MAX_FILES]:
        if e.size > budget:
            continue
        data = ctx.read(archive, e)
        if data is not None:
            budget -= len(data)
            out.append((archive, e, data))
    ctx.cache["secret_texts"] = out
    return out


@rule("LZ060", "private-key", "error", "A private key (PEM or OpenSSH) is in the zip.",
      "Remove the key; load it at run time from Secrets Manager or SSM Parameter Store.")
def private_key(ctx: LintContext) -> Iterator[Hit]:
    """Anyone who can call GetFunction can download the package, so a key inside it is a leaked
    key. Certificates (public) in .pem files are fine and not reported."""
    for archive, e, data in _secret_texts(ctx):
        if _PRIVATE_KEY.search(data):
            yield archive.where(e.name), "contains a private key"


@rule("LZ061", "aws-access-key", "error", "An AWS access key id (AKIA…/ASIA…) is in the zip.",
      "Remove it and rotate the key; the function gets credentials from its execution role.")
def aws_access_key(ctx: LintContext) -> Iterator[Hit]:
    """A function never needs static keys: its execution role provides temporary credentials.
    A key in the package leaks to everyone who can download the code. AWS's documented example
    keys (ending in EXAMPLE) are ignored."""
    for archive, e, data in _secret_texts(ctx):
        if b"AKIA" not in data and b"ASIA" not in data:
            continue  # a substring test is far cheaper than the regex on megabytes of code
        for m in _AWS_KEY.finditer(data):
            key = m.group(1).decode()
            if not key.endswith("EXAMPLE"):
                yield archive.where(e.name), f"access key id {key[:8]}…"
                break


@rule("LZ062", "credential-file", "warning",
      "A credentials file (.env, .netrc, .npmrc, .pypirc, .aws/credentials) is in the zip.",
      "Exclude it and set configuration through environment variables or Secrets Manager.")
def credential_file(ctx: LintContext) -> Iterator[Hit]:
    """Local `.env` and credentials files usually hold developer secrets and are packaged only by
    accident; Lambda passes configuration as environment variables instead. Templates such as
    `.env.example` are not reported."""
    for archive, e in _all_entries(ctx):
        if not e.is_dir and _ENV_FILE.search(e.name) and not _ENV_TEMPLATE.search(e.name):
            yield archive.where(e.name), "credentials or environment file"


# ---------------------------------------------------------------- documentation


def render_markdown() -> str:
    """docs/lint-rules.md, generated from the registry so the docs cannot drift from the code."""
    lines = [
        "# Lint rules",
        "",
        "<!-- Generated by lambdactl.packaging.rules.render_markdown(); do not edit by hand. -->",
        "",
        "`lambdactl lint ZIP` checks a deployment or layer zip against these rules. Exit status: 0",
        "when no error is found (warnings allowed), 1 when errors are, 2 for usage errors. Select",
        "or skip rules by id or prefix: `--select LZ02 --ignore LZ052`.",
        "",
        "| Id | Name | Severity | What |",
        "|---|---|---|---|",
    ]
    for r in RULES.values():
        summary = r.summary.replace("|", "\\|")
        lines.append(f"| [{r.id}](#{r.id.lower()}-{r.name}) | {r.name} | {r.severity} | {summary} |")
    for r in RULES.values():
        lines += ["", f"## {r.id} {r.name}", "", f"**Severity:** {r.severity}", "",
                  f"**What:** {r.summary}", "", f"**Why:** {r.why}", "", f"**Fix:** {r.fix}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # regenerate the docs: python -m lambdactl.packaging.rules > docs/lint-rules.md
    sys.stdout.write(render_markdown())
