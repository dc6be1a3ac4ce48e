"""`lambdactl package`, `package-layer` and `lint`: flags in, library call, output out.

Only parsing and rendering lives here; every rule is in `lambdactl.packaging`. The library and
rich are imported inside the commands so that registering these commands costs the root CLI's
start-up nothing. `lint` exits 0 when clean (warnings allowed), 1 when errors are found, 2 on
usage errors; `package` prints its summary to stderr so stdout can carry `--output json`.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from lambdactl.packaging.build import PackageSummary

EXIT_ERRORS = 1
EXIT_USAGE = 2


class Architecture(str, Enum):
    x86_64 = "x86_64"
    arm64 = "arm64"


class PackageOutput(str, Enum):
    text = "text"
    json = "json"


class LintOutput(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"lambdactl: {message}\n")
    return typer.Exit(code)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _print_summary(summary: PackageSummary, tty: bool) -> None:
    """Files, sizes and the biggest entries, on stderr (a rich table on a terminal)."""
    ratio = summary.zipped_bytes / summary.unzipped_bytes if summary.unzipped_bytes else 1.0
    head = (f"{summary.path}: {summary.files} files, {summary.directories} directories, "
            f"{_human(summary.zipped_bytes)} zipped, {_human(summary.unzipped_bytes)} unzipped "
            f"({ratio:.0%})")
    if not tty:
        lines = [head] + [f"  {_human(b):>10}  {n}" for n, b in summary.largest[:5]]
        sys.stderr.write("\n".join(lines) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    console.print(head)
    table = Table("largest entries", "size", box=None, show_header=True)
    for name, size in summary.largest[:5]:
        table.add_row(name, _human(size))
    console.print(table)


def _run_packaging(build: str, tty: bool, **kwargs: object) -> PackageSummary:
    """Run package/package_layer with a rich progress display on a terminal, none otherwise."""
    from lambdactl.packaging import build as build_mod

    func = getattr(build_mod, build)
    if not tty:
        return func(**kwargs)  # type: ignore[no-any-return]
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  DownloadColumn(), TimeElapsedColumn(), transient=True,
                  console=Console(stderr=True)) as bar:
        task = bar.add_task("collecting files", total=None)

        def on_phase(text: str) -> None:
            bar.update(task, description=text, completed=0, total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return func(progress=on_progress, on_phase=on_phase, **kwargs)  # type: ignore[no-any-return]


def _package_and_report(build: str, output: PackageOutput, **kwargs: object) -> None:
    """Build, then the summary: human on stderr always, JSON on stdout when asked."""
    from lambdactl.packaging.build import PackagingError

    tty = sys.stderr.isatty()
    try:
        summary = _run_packaging(build, tty, **kwargs)
    except PackagingError as exc:
        raise _fail(str(exc), EXIT_ERRORS) from None
    except OSError as exc:  # the output cannot be written: a directory, no permission, disk full
        raise _fail(f"{exc.filename or kwargs.get('out')}: {exc.strerror}", EXIT_ERRORS) from None
    _print_summary(summary, tty)
    if output is PackageOutput.json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")


SrcArg = Annotated[Path, typer.Argument(help="Directory whose contents go in the zip.",
                                        exists=True, file_okay=False, dir_okay=True)]
OutOpt = Annotated[Path, typer.Option("-o", "--out", help="Zip file to write.")]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option(  # noqa: UP045 (Typer needs Optional)
    "--exclude", help="Glob of paths to leave out (repeatable); matched on the relative path, "
                      "or the name alone when it has no '/'.")]
RequirementsOpt = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--requirements", help="requirements.txt to install with pip for --runtime/--architecture.",
    exists=True, dir_okay=False)]
RuntimeOpt = Annotated[Optional[str], typer.Option("--runtime", help="Target runtime, e.g. python3.12.")]  # noqa: UP045
ArchOpt = Annotated[Architecture, typer.Option("--architecture", help="Target CPU.")]
LevelOpt = Annotated[int, typer.Option("--compression-level", min=0, max=9,
                                       help="Deflate level, 0 (store) to 9.")]
PackageOutputOpt = Annotated[PackageOutput, typer.Option("--output", help="Summary format on stdout.")]


def package_cmd(
    src: SrcArg,
    out: OutOpt,
    exclude: ExcludeOpt = None,
    requirements: RequirementsOpt = None,
    runtime: RuntimeOpt = None,
    architecture: ArchOpt = Architecture.x86_64,
    compression_level: LevelOpt = 6,
    output: PackageOutputOpt = PackageOutput.text,
) -> None:
    """Zip SRC's contents into a reproducible deployment package (same input, same bytes)."""
    _package_and_report("package", output, src=src, out=out, excludes=exclude or (),
                        compresslevel=compression_level, requirements=requirements,
                        runtime=runtime, architecture=architecture.value)


def package_layer_cmd(
    src: SrcArg,
    out: OutOpt,
    runtime: RuntimeOpt = None,
    prefix: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--prefix", help="Folder in the layer for SRC's contents (default from --runtime: "
                         "python, nodejs/node_modules; none if SRC is laid out already).")] = None,
    exclude: ExcludeOpt = None,
    requirements: RequirementsOpt = None,
    architecture: ArchOpt = Architecture.x86_64,
    compression_level: LevelOpt = 6,
    output: PackageOutputOpt = PackageOutput.text,
) -> None:
    """Zip SRC as a layer: python/, nodejs/node_modules, bin/, lib/ as Lambda mounts them in /opt."""
    _package_and_report("package_layer", output, src=src, out=out, runtime=runtime, prefix=prefix,
                        excludes=exclude or (), compresslevel=compression_level,
                        requirements=requirements, architecture=architecture.value)


def lint_cmd(
    zip_file: Annotated[Path, typer.Argument(metavar="ZIP", help="Deployment zip to check.")],
    runtime: RuntimeOpt = None,
    handler: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--handler", help="Function handler, e.g. app.handler.")] = None,
    layers: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--layers", help="Layer zip (repeatable), counted for sizes, bootstrap and imports.")] = None,
    architecture: ArchOpt = Architecture.x86_64,
    output: Annotated[LintOutput, typer.Option("--output", help="Report format.")] = LintOutput.text,
    select: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--select", help="Only these rule ids or prefixes (comma-separated or repeated).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--ignore", help="Skip these rule ids or prefixes.")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Inflate every entry to verify its CRC.")] = False,
) -> None:
    """Check a deployment zip for everything that would make Lambda or the function fail."""
    from lambdactl.packaging.lint import RENDERERS, LintUsageError, lint_zip

    for path in [zip_file, *(layers or [])]:
        if not path.is_file():
            raise _fail(f"{path}: no such file", EXIT_USAGE)
    try:
        report = lint_zip(zip_file, runtime=runtime, handler=handler, layers=layers or (),
                          architecture=architecture.value, select=select or (),
                          ignore=ignore or (), deep=deep)
    except LintUsageError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    sys.stdout.write(RENDERERS[output.value](report))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add package, package-layer and lint to the root app."""
    app.command("package")(package_cmd)
    app.command("package-layer")(package_layer_cmd)
    app.command("lint")(lint_cmd)


if __name__ == "__main__":
    _app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="lambdactl packaging commands (standalone).")
    register(_app)
    _app()
