"""Benchmark `lambdactl package` against Info-ZIP `zip -qr -X`, and time `lambdactl lint`.

Generates a ~100 MB, 10,000-file tree (three quarters compressible source-like text, one quarter
random binary), then times, interleaved in the same run so machine noise hits all alike:

  python -c pass                      interpreter start-up, the floor of any CLI
  zip -qr -X -N                       Info-ZIP, single-threaded, same compression level
  lambdactl package (library call)    build_zip in this process
  lambdactl package (CLI)             the command in a fresh process, as a Makefile runs it
  lambdactl lint (library / CLI)      lint of the zip just built

Targets (issue 6): package at most 0.7x zip's wall time; lint under 1 s.

    python benchmarks/package.py [--files 10000] [--mb 100] [--level 6] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lambdactl.packaging.build import build_zip  # noqa: E402
from lambdactl.packaging.lint import lint_zip  # noqa: E402


def generate(root: Path, files: int, total_mb: int, seed: int = 1) -> int:
    """A deterministic tree: 50 packages x 7 modules, text files and random blobs."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 10)))
             for _ in range(4000)]
    mean = total_mb * 1_000_000 // files
    written = 0
    for i in range(files):
        d = root / f"pkg{i % 50:02d}" / f"mod{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        size = rng.randint(mean // 4, mean * 7 // 4)
        if i % 4 == 0:
            (d / f"blob{i}.bin").write_bytes(rng.randbytes(size))
        else:
            text = []
            n = 0
            while n < size:
                line = "    " + " = ".join(rng.choices(words, k=rng.randint(2, 8))) + "\n"
                text.append(line)
                n += len(line)
            (d / f"mod{i}.py").write_text("".join(text)[:size])
        written += size
    return written


def cli(*args: str) -> list[str]:
    """The packaging commands as a fresh process (the console script once it exists)."""
    script = shutil.which("lambdactl")
    if script and os.environ.get("BENCH_USE_SCRIPT"):
        return [script, *args]
    return [sys.executable, "-m", "lambdactl.cli.packaging_cmds", *args]


def run(cmd: list[str], cwd: Path | None = None) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run(cmd, cwd=cwd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--level", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    opts = ap.parse_args()
    if not shutil.which("zip"):
        print("Info-ZIP `zip` is not installed (apt-get install zip)", file=sys.stderr)
        return 2

    work = opts.keep or Path(tempfile.mkdtemp(prefix="lambdactl-bench-"))
    tree = work / "tree"
    try:
        if not tree.exists():
            t = time.perf_counter()
            nbytes = generate(tree, opts.files, opts.mb)
            print(f"generated {opts.files} files, {nbytes / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s")
        zip_out, lib_out, cli_out = work / "zip.zip", work / "lib.zip", work / "cli.zip"

        def zip_run() -> None:
            zip_out.unlink(missing_ok=True)
            run(["zip", "-qr", "-X", f"-{opts.level}", str(zip_out), "."], cwd=tree)

        cases: list[tuple[str, Callable[[], object]]] = [
            ("python -c pass", lambda: run([sys.executable, "-c", "pass"])),
            (f"zip -qr -X -{opts.level}", zip_run),
            ("lambdactl package (library)", lambda: build_zip(tree, lib_out, compresslevel=opts.level)),
            ("lambdactl package (CLI)", lambda: run(cli("package", str(tree), "-o", str(cli_out),
                                                        "--compression-level", str(opts.level)))),
            ("lambdactl lint (library)", lambda: lint_zip(lib_out, runtime="python3.12")),
            ("lambdactl lint (CLI)", lambda: run_lint(cli_out)),
        ]
        times: dict[str, list[float]] = {name: [] for name, _ in cases}
        for _, fn in cases:  # warm-up: page cache, imports
            fn()
        for _ in range(opts.repeat):
            for name, fn in cases:
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)

        zip_best = min(times[f"zip -qr -X -{opts.level}"])
        sizes = {f"zip -qr -X -{opts.level}": zip_out, "lambdactl package (library)": lib_out,
                 "lambdactl package (CLI)": cli_out}
        print(f"\n{'':32} {'best s':>8} {'median s':>9} {'x zip':>7} {'zip MB':>8}")
        for name, _ in cases:
            best, med = min(times[name]), statistics.median(times[name])
            ratio = f"{best / zip_best:.2f}" if "package" in name or name.startswith("zip") else ""
            size = f"{sizes[name].stat().st_size / 1e6:.1f}" if name in sizes else ""
            print(f"{name:32} {best:8.3f} {med:9.3f} {ratio:>7} {size:>8}")
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"\n{cpus} CPUs, {opts.repeat} runs each, interleaved")
        pkg = min(times["lambdactl package (CLI)"]) / zip_best
        lint = min(times["lambdactl lint (CLI)"])
        print(f"target package <= 0.70x zip: {pkg:.2f}x {'PASS' if pkg <= 0.7 else 'FAIL'}")
        print(f"target lint < 1 s:            {lint:.3f} s {'PASS' if lint < 1 else 'FAIL'}")
        return 0
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_lint(path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # lint exits 1 on errors (a 100 MB zip is over the 50 MB upload limit): expected here.
    proc = subprocess.run(cli("lint", str(path), "--runtime", "python3.12"), env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"lint failed with status {proc.returncode}")


if __name__ == "__main__":
    sys.exit(main())
