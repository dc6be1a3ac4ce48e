"""Lint a deployment or layer zip without extracting it.

`lint_zip` maps the archive (and any layer zips) into memory, reads the central directory, and
runs every rule of the registry in `rules.py` against one `LintContext`. Content is read only
where a rule needs it (the handler file, ELF headers, small candidate-secret files), bounded, so
a 100 MB, 10,000-file zip lints in well under a second. Rendering to text, JSON and SARIF lives
here too so the CLI only picks a format. It must not know about Typer or the registry.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from lambdactl import __version__
from lambdactl._record import dataclass, field
from lambdactl.models import NODE_RUNTIMES, PROVIDED_RUNTIMES, PYTHON_RUNTIMES
from lambdactl.packaging import zipscan
from lambdactl.packaging.rules import RULES, Rule, read_error_rule
from lambdactl.packaging.zipscan import CorruptZipError, NotAZipError, ZipEntry, ZipScan

SEVERITIES = ("error", "warning", "info")
MAX_FINDINGS_PER_RULE = 20  # per archive; the rest are summed up in one finding
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class LintUsageError(Exception):
    """Bad arguments to the linter (unknown rule code, unreadable file): exit status 2."""


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where (entry path, `layer.zip!entry` for layers), fix."""

    rule_id: str
    severity: str
    path: str
    message: str
    fix: str


@dataclass
class LintReport:
    """All findings of one lint run, sorted, with the archive it was about."""

    zip_path: str
    findings: list[Finding] = field(default_factory=list)
    layer_paths: dict[str, str] = field(default_factory=dict)  # label in `path` -> file given

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0 when no errors remain (warnings allowed), 1 otherwise."""
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, object]:
        return {
            "Zip": self.zip_path,
            "Findings": [{"RuleId": f.rule_id, "Severity": f.severity, "Path": f.path,
                          "Message": f.message, "Fix": f.fix} for f in self.findings],
            "Errors": self.errors,
            "Warnings": self.warnings,
        }


@dataclass
class Archive:
    """One zip under lint: the function's code or one of its layers."""

    label: str  # "" for the code zip, the file name for a layer
    path: Path
    buf: bytes | mmap.mmap
    scan: ZipScan | None
    is_layer: bool
    names: dict[str, ZipEntry] = field(default_factory=dict)

    def where(self, entry_name: str) -> str:
        """How a finding names an entry: plain for the code, `layer.zip!entry` for a layer."""
        return f"{self.label}!{entry_name}" if self.label else entry_name

    @property
    def entries(self) -> list[ZipEntry]:
        return self.scan.entries if self.scan else []


@dataclass
class LintContext:
    """What every rule sees: the archives, the function's settings, and a bounded reader."""

    code: Archive
    layers: list[Archive]
    runtime: str | None
    handler: str | None
    architecture: str
    deep: bool = False
    cache: dict[object, object] = field(default_factory=dict)  # shared by rules (handler, heads)
    read_errors: list[tuple[str, Archive, ZipEntry, str]] = field(default_factory=list)  # rule id first

    @property
    def archives(self) -> list[Archive]:
        return [self.code, *self.layers]

    @property
    def family(self) -> str | None:
        """python / nodejs / provided from the runtime; None when not given or another language."""
        rt = self.runtime or ""
        if rt in PYTHON_RUNTIMES:
            return "python"
        if rt in NODE_RUNTIMES:
            return "nodejs"
        if rt in PROVIDED_RUNTIMES:
            return "provided"
        return None

    @property
    def python_version(self) -> str | None:
        return PYTHON_RUNTIMES.get(self.runtime or "")

    def read(self, archive: Archive, entry: ZipEntry, max_bytes: int | None = None) -> bytes | None:
        """The entry's bytes (or a prefix), or None if unreadable; failures become LZ002."""
        try:
            return zipscan.read_entry(archive.buf, entry, max_bytes=max_bytes)
        except CorruptZipError as exc:
            self.read_errors.append((read_error_rule(exc), archive, entry, str(exc)))
            return None


def _open_archive(path: Path, label: str, is_layer: bool) -> tuple[Archive, str | None, str | None]:
    """Map and scan one zip; returns (archive, rule id, message) when it is not a usable zip."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            buf: bytes | mmap.mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except OSError as exc:
        raise LintUsageError(f"{path}: {exc.strerror}") from exc
    archive = Archive(label, path, buf, None, is_layer)
    try:
        archive.scan = zipscan.scan(buf)
    except NotAZipError as exc:
        return archive, "LZ001", f"not a zip archive ({exc})"
    except CorruptZipError as exc:
        return archive, "LZ002", f"the zip cannot be read: {exc}"
    archive.names = {e.name: e for e in archive.scan.entries}
    return archive, None, None


def parse_selection(codes: Iterable[str]) -> list[str]:
    """Rule codes or prefixes (`LZ0`, `LZ021`), comma or space separated; unknown ones refused."""
    out: list[str] = []
    for chunk in codes:
        for code in chunk.replace(",", " ").split():
            code = code.strip().upper()
            if code == "ALL":
                code = "LZ"
            if not any(rid.startswith(code) for rid in RULES):
                raise LintUsageError(f"unknown rule code {code!r} (see docs/lint-rules.md)")
            out.append(code)
    return out


def selected_rules(select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[Rule]:
    """The rules to run: all, or those matching `select`, minus those matching `ignore`."""
    sel = parse_selection(select)
    ign = parse_selection(ignore)
    rules = []
    for rid, rule in RULES.items():
        if sel and not any(rid.startswith(s) for s in sel):
            continue
        if any(rid.startswith(i) for i in ign):
            continue
        rules.append(rule)
    return rules


def lint_zip(path: str | os.PathLike[str], *, runtime: str | None = None,
             handler: str | None = None, layers: Sequence[str | os.PathLike[str]] = (),
             architecture: str = "x86_64", select: Sequence[str] = (),
             ignore: Sequence[str] = (), deep: bool = False) -> LintReport:
    """Lint the zip at `path` as the code of a function with this runtime, handler and layers.

    `deep` also inflates every entry to verify CRCs and sizes (slower; off by default since
    a corrupt upload is rare and Lambda reports it anyway). Raises LintUsageError for a
    missing file or an unknown rule code.
    """
    if architecture not in ("x86_64", "arm64"):
        raise LintUsageError(f"architecture must be x86_64 or arm64, not {architecture!r}")
    rules = selected_rules(select, ignore)
    wanted = {r.id for r in rules}
    report = LintReport(str(path))
    early: list[Finding] = []
    code, rid, msg = _open_archive(Path(path), "", False)
    layer_archives: list[Archive] = []
    if rid is not None and msg is not None:
        early.append(_finding(RULES[rid], "", msg))
    for lp in layers:
        la, lrid, lmsg = _open_archive(Path(lp), Path(lp).name, True)
        if lrid is not None and lmsg is not None:
            early.append(_finding(RULES[lrid], la.where(""), f"layer {la.label}: {lmsg}"))
        layer_archives.append(la)
        report.layer_paths[la.label] = str(lp)
    ctx = LintContext(code, layer_archives, runtime, handler, architecture, deep)
    findings = [f for f in early if f.rule_id in wanted]
    if code.scan is not None:
        for rule in rules:
            findings.extend(_capped(rule, ctx, rule.check(ctx)))
        for rule_id, archive, entry, text in ctx.read_errors:
            if rule_id in wanted:
                findings.append(_finding(RULES[rule_id], archive.where(entry.name), text))
    report.findings = sorted(set(findings), key=lambda f: (f.path.split("!")[0] if "!" in f.path else "",
                                                           SEVERITIES.index(f.severity), f.rule_id, f.path))
    return report


def _finding(rule: Rule, path: str, message: str) -> Finding:
    return Finding(rule.id, rule.severity, path, message, rule.fix)


def _capped(rule: Rule, ctx: LintContext, hits: Iterable[tuple[str, str]]) -> list[Finding]:
    """Keep the first MAX_FINDINGS_PER_RULE hits per archive so a Windows zip is not 10,000 lines."""
    out: list[Finding] = []
    per_archive: dict[str, int] = {}
    for where, message in hits:
        key = where.split("!")[0] if "!" in where else ""
        n = per_archive.get(key, 0) + 1
        per_archive[key] = n
        if n <= MAX_FINDINGS_PER_RULE:
            out.append(_finding(rule, where, message))
    for key, n in per_archive.items():
        if n > MAX_FINDINGS_PER_RULE:
            label = f"{key}!" if key else ""
            out.append(_finding(rule, label, f"... and {n - MAX_FINDINGS_PER_RULE} more like this"))
    return out


# ---------------------------------------------------------------- rendering


def render_text(report: LintReport) -> str:
    """One line per finding, ruff-style, then a count line."""
    lines = []
    for f in report.findings:
        where = f.path or Path(report.zip_path).name
        lines.append(f"{where}: {f.rule_id} [{f.severity}] {f.message}\n    fix: {f.fix}")
    if report.findings:
        lines.append(f"{report.errors} error(s), {report.warnings} warning(s), "
                     f"{len(report.findings) - report.errors - report.warnings} info")
    else:
        lines.append("no problems found")
    return "\n".join(lines) + "\n"


def render_json(report: LintReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_sarif(report: LintReport) -> str:
    """SARIF 2.1.0, the format GitHub code scanning and most CI dashboards import."""
    level = {"error": "error", "warning": "warning", "info": "note"}
    rule_ids = sorted({f.rule_id for f in report.findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    rules = [{
        "id": rid,
        "name": RULES[rid].name,
        "shortDescription": {"text": RULES[rid].summary},
        "fullDescription": {"text": RULES[rid].why},
        "help": {"text": RULES[rid].fix},
        "defaultConfiguration": {"level": level[RULES[rid].severity]},
    } for rid in rule_ids]
    results = []
    for f in report.findings:
        archive, _, entry = f.path.rpartition("!") if "!" in f.path else ("", "", f.path)
        location: dict[str, object] = {
            "physicalLocation": {"artifactLocation": {
                "uri": report.layer_paths.get(archive, archive) if archive else report.zip_path}},
        }
        if entry:
            location["logicalLocations"] = [{"fullyQualifiedName": entry, "kind": "member"}]
        results.append({
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": level[f.severity],
            "message": {"text": f"{f.message} Fix: {f.fix}"},
            "locations": [location],
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "lambdactl-lint", "version": __version__,
                                "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}
