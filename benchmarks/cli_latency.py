"""CLI start-up latency with 10,000 functions in the registry, beside `python -c pass`.

Usage: python benchmarks/cli_latency.py [--functions 10000] [--runs 21]

Prints the median wall time of each command (stdout to /dev/null) and its ratio to the
interpreter's own start-up, measured in the same run. Targets: get-function-configuration within
7x `python -c pass`; list-functions (all 10,000, 50 per page) under 2x that bound.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fill(home: Path, count: int) -> None:
    import io
    import zipfile

    from lambdactl.service import Service
    from lambdactl.settings import Settings

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    svc = Service(Settings.load(home))
    for i in range(count):
        svc.call(
            "CreateFunction",
            {
                "FunctionName": f"fn-{i:05d}",
                "Runtime": "python3.12",
                "Role": "arn:aws:iam::123456789012:role/bench",
                "Handler": "app.handler",
                "Code": {"ZipFile": buf.getvalue()},
                "Environment": {"Variables": {"INDEX": str(i)}},
            },
        )
    svc.close()


def median_ms(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        samples.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed: {proc.stderr.decode()}")
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    exe = shutil.which("lambdactl", path=str(Path(sys.executable).parent)) or shutil.which("lambdactl")
    if not exe:
        raise SystemExit("install lambdactl first (pip install .)")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        fill(home, args.functions)
        print(f"registry with {args.functions} functions built in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "LAMBDACTL_HOME": str(home)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # installed bytecode only, as users run it
        base = median_ms([sys.executable, "-c", "pass"], args.runs, env)
        middle = f"fn-{args.functions // 2:05d}"
        gfc = median_ms([exe, "get-function-configuration", "--function-name", middle], args.runs, env)
        lst = median_ms([exe, "list-functions"], max(5, args.runs // 3), env)
        ver = median_ms([exe, "--version"], args.runs, env)
    rows = [
        ("python -c pass", base, 1.0, ""),
        ("lambdactl --version", ver, ver / base, ""),
        ("lambdactl get-function-configuration", gfc, gfc / base, f"target <= 7x ({7 * base:.0f} ms)"),
        (f"lambdactl list-functions ({args.functions} functions)", lst, lst / base, f"target < 14x ({14 * base:.0f} ms)"),
    ]
    print(f"{'command':<52} {'median ms':>10} {'x python':>9}  target")
    for name, ms, ratio, target in rows:
        print(f"{name:<52} {ms:>10.1f} {ratio:>9.2f}  {target}")
    ok = gfc <= 7 * base and lst < 14 * base
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
