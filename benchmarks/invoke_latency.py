"""End-to-end `lambdactl invoke` of a trivial Python handler beside python-lambda-local on the
same handler and event, same run; then the engine's own numbers (engine_latency.py).

Usage: python benchmarks/invoke_latency.py [--runs 21]

python-lambda-local (PyPI) runs the handler in-process with no sandbox; lambdactl starts a
sandboxed execution environment speaking the Runtime API, records the log and metrics.
Target: the CLI invoke at most 0.6x python-lambda-local's wall time.
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

HANDLER = "def handler(event, context):\n    return event\n"


def medians_ms(cmds: list[list[str]], runs: int, env: dict[str, str], cwd: str) -> list[float]:
    """Median wall time of each command, run in turns (a, b, c, a, b, c, ...) so that a drift
    in the machine's speed during the run weighs on all of them alike."""
    samples: list[list[float]] = [[] for _ in cmds]
    for cmd in cmds:  # one unmeasured run each: caches, bytecode, the code cache
        subprocess.run(cmd, env=env, cwd=cwd, capture_output=True)
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True)
            samples[i].append((time.perf_counter() - t0) * 1000)
            if proc.returncode != 0:
                raise SystemExit(f"{cmd[0]} failed: {proc.stderr.decode()[-500:]}")
    return [statistics.median(s) for s in samples]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    bindir = str(Path(sys.executable).parent)
    exe = shutil.which("lambdactl", path=bindir) or shutil.which("lambdactl")
    pll = shutil.which("python-lambda-local", path=bindir) or shutil.which("python-lambda-local")
    if not exe:
        raise SystemExit("install lambdactl first (pip install .)")
    if not pll:
        raise SystemExit("install the baseline first: pip install python-lambda-local")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LAMBDACTL_HOME": f"{tmp}/home", "LAMBDACTL_DIRECT": "1"}
        # Both tools' bytecode is compiled at install; a caller's PYTHONDONTWRITEBYTECODE would
        # make any module without it recompile on every run, for whichever tool it hits.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        Path(tmp, "app.py").write_text(HANDLER)
        Path(tmp, "event.json").write_text('{"hello": "world"}')
        subprocess.run([exe, "package", tmp, "-o", f"{tmp}/f.zip", "--exclude", "*.json", "--exclude", "home"], env=env, check=True, capture_output=True)
        subprocess.run([exe, "create-function", "--function-name", "f", "--runtime", "python3.12", "--handler", "app.handler",
                        "--role", "arn:aws:iam::123456789012:role/bench", "--zip-file", f"fileb://{tmp}/f.zip"], env=env, check=True, capture_output=True)
        cli, base, py = medians_ms([
            [exe, "invoke", "--function-name", "f", "--payload", "file://event.json", "out.json"],
            [pll, "-f", "handler", "app.py", "event.json"],
            [sys.executable, "-c", "pass"],
        ], args.runs, env, tmp)
    print(f"{'command':<46} {'median ms':>10}")
    print(f"{'python -c pass':<46} {py:>10.1f}")
    print(f"{'python-lambda-local app.py event.json':<46} {base:>10.1f}")
    print(f"{'lambdactl invoke (sandboxed, logged)':<46} {cli:>10.1f}   {cli / base:.2f}x python-lambda-local (target <= 0.6x)")
    print()
    engine = Path(__file__).with_name("engine_latency.py")
    if engine.exists():
        subprocess.run([sys.executable, str(engine)], check=False)
    return 0 if cli <= 0.6 * base else 1


if __name__ == "__main__":
    raise SystemExit(main())
