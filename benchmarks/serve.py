"""Warm-invoke latency and throughput of `lambdactl serve`, beside the same loop of CLI calls
without a server, in one run.

Usage: python benchmarks/serve.py [--requests 2000] [--cli-loop 200] [--quiet]

The server's stderr (its access log, one line per request) goes to a file, as with `serve
--detach`; `--quiet` runs it without the access log, to compare.

Measures, for a trivial Python handler:
- cold start through the server (first invoke of a new function);
- warm invoke p50/p99 over raw HTTP keep-alive and through boto3, and the server-side overhead
  (round trip minus the handler's own Duration from the REPORT line);
- throughput with 1 and 2 client threads (so 1 and 2 warm environments);
- the same loop of `lambdactl invoke` with and without a running server;
- the time from saving a file of a --code-dir function to the server answering with the new code.
Targets: overhead p50 < 1 ms and p99 < 5 ms; >= 1,500 warm invokes/s with 2 environments; the CLI
loop >= 2x faster with the server; save-to-answer < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HANDLER = "def handler(event, context):\n    return event\n"


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


class Client:
    """A keep-alive HTTP/1.1 client on a raw socket (what a lean SDK does)."""

    def __init__(self, port: int) -> None:
        from lambdactl.httpwire import client_request

        self._request = client_request
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = port

    def invoke(self, name: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        r = self._request(self.sock, "POST", f"/2015-03-31/functions/{name}/invocations", f"127.0.0.1:{self.port}", body, headers)
        return r.status, r.body, r.headers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cli-loop", type=int, default=200)
    parser.add_argument("--quiet", action="store_true", help="serve --quiet: no access log")
    args = parser.parse_args()
    exe = shutil.which("lambdactl", path=str(Path(sys.executable).parent)) or shutil.which("lambdactl")
    if not exe:
        raise SystemExit("install lambdactl first (pip install .)")
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "LAMBDACTL_HOME": str(home)}
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "app.py").write_text(HANDLER)
        subprocess.run([exe, "package", str(src), "-o", f"{tmp}/f.zip"], env=env, check=True, capture_output=True)
        for name in ("f", "g"):
            subprocess.run([exe, "create-function", "--function-name", name, "--runtime", "python3.12", "--handler", "app.handler",
                            "--role", "arn:aws:iam::123456789012:role/bench", "--zip-file", f"fileb://{tmp}/f.zip"], env=env, check=True, capture_output=True)

        # The CLI loop without a server first.
        t0 = time.perf_counter()
        for _ in range(args.cli_loop):
            subprocess.run([exe, "invoke", "--function-name", "f", f"{tmp}/o.json"], env=env, check=True, capture_output=True)
        direct = (time.perf_counter() - t0) / args.cli_loop * 1000

        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - the server's stderr, closed with the folder
        server = subprocess.Popen([exe, "serve", "--port", "0", *(["--quiet"] if args.quiet else [])], env=env,
                                  stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            port = int(info["url"].rsplit(":", 1)[1])
            c = Client(port)
            t0 = time.perf_counter()
            status, _, _ = c.invoke("g")
            cold = (time.perf_counter() - t0) * 1000
            assert status == 200
            for _ in range(200):
                c.invoke("f")
            rtt: list[float] = []
            overhead: list[float] = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                status, body, headers = c.invoke("f", b"{}", {"X-Amz-Log-Type": "Tail"})
                elapsed = (time.perf_counter() - t0) * 1000
                rtt.append(elapsed)
                import base64

                report = base64.b64decode(headers["x-amz-log-result"]).decode().rsplit("REPORT", 1)[1]
                duration = float(report.split("Duration: ", 1)[1].split(" ms", 1)[0])
                overhead.append(elapsed - duration)
            rows.append(("cold start through the server", f"{cold:.1f} ms", ""))
            rows.append(("warm invoke, raw HTTP keep-alive p50 / p99", f"{pct(rtt, .5):.2f} / {pct(rtt, .99):.2f} ms", ""))
            rows.append(("server-side overhead p50 / p99", f"{pct(overhead, .5):.2f} / {pct(overhead, .99):.2f} ms", "< 1 / < 5 ms"))

            import boto3
            from botocore.config import Config

            lam = boto3.client("lambda", endpoint_url=info["url"], region_name="us-east-1", aws_access_key_id="x",
                               aws_secret_access_key="y", config=Config(retries={"max_attempts": 1}))
            b = []
            for _ in range(min(500, args.requests)):
                t0 = time.perf_counter()
                lam.invoke(FunctionName="f", Payload=b"{}")["Payload"].read()
                b.append((time.perf_counter() - t0) * 1000)
            rows.append(("warm invoke through boto3 p50 / p99", f"{pct(b, .5):.2f} / {pct(b, .99):.2f} ms", ""))

            for threads in (1, 2):
                clients = [Client(port) for _ in range(threads)]
                for cl in clients:
                    cl.invoke("f")
                per = args.requests // threads
                barrier = threading.Barrier(threads + 1)

                def run(cl: Client, barrier: threading.Barrier = barrier, per: int = per) -> None:
                    barrier.wait()
                    for _ in range(per):
                        cl.invoke("f")

                ts = [threading.Thread(target=run, args=(cl,)) for cl in clients]
                for t in ts:
                    t.start()
                barrier.wait()
                t0 = time.perf_counter()
                for t in ts:
                    t.join()
                rate = per * threads / (time.perf_counter() - t0)
                rows.append((f"throughput, {threads} environment{'s' if threads > 1 else ''}", f"{rate:.0f} invokes/s", ">= 1500" if threads == 2 else ""))

            t0 = time.perf_counter()
            for _ in range(args.cli_loop):
                subprocess.run([exe, "invoke", "--function-name", "f", f"{tmp}/o.json"], env=env, check=True, capture_output=True)
            via = (time.perf_counter() - t0) / args.cli_loop * 1000
            rows.append((f"lambdactl invoke loop ({args.cli_loop}), no server", f"{direct:.1f} ms each", ""))
            rows.append((f"lambdactl invoke loop ({args.cli_loop}), server running", f"{via:.1f} ms each", f"{direct / via:.1f}x faster (>= 2x)"))

            # Hot reload: save a file, invoke at once.
            dev = Path(tmp) / "dev"
            dev.mkdir()
            (dev / "app.py").write_text("def handler(e, c):\n    return 0\n")
            subprocess.run([exe, "create-function", "--function-name", "dev", "--runtime", "python3.12", "--handler", "app.handler",
                            "--role", "arn:aws:iam::123456789012:role/bench", "--code-dir", str(dev)], env=env, check=True, capture_output=True)
            c.invoke("dev")
            reload_ms = []
            for i in range(1, 21):
                t0 = time.perf_counter()
                (dev / "app.py").write_text(f"def handler(e, c):\n    return {i}\n")
                st = (dev / "app.py").stat()
                os.utime(dev / "app.py", ns=(st.st_atime_ns, st.st_mtime_ns + i * 1000))
                status, body, _ = c.invoke("dev")
                reload_ms.append((time.perf_counter() - t0) * 1000)
                assert json.loads(body) == i, body
            rows.append(("save a --code-dir file -> answer with the new code, median", f"{statistics.median(reload_ms):.1f} ms", "< 100 ms"))
        finally:
            server.terminate()
            server.wait(30)
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>22}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
