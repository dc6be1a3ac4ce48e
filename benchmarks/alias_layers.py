"""What aliases and layers add to an invocation, beside a plain $LATEST invocation, same run.

Usage: python benchmarks/alias_layers.py [--runs 30]

For one function invoked as $LATEST with no layers and through a weighted alias to a version with
5 layers, it measures (median) the work they add before the sandbox runs: qualifier resolution
plus building the sandbox spec (code and merged /opt from the read-only cache), and the end-to-end
`invoke` latency on the direct (one-shot sandbox) path and through the warm server.
Target: the added resolution and layer merging stays under 5 ms after the first use.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import zipfile
from pathlib import Path


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    from lambdactl.server.pool import WarmPool
    from lambdactl.service import Service
    from lambdactl.service.functions import resolve_version
    from lambdactl.service.invoke import build_spec
    from lambdactl.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        svc = Service(Settings.load(Path(tmp) / "home"))
        role = "arn:aws:iam::123456789012:role/bench"
        layers = []
        for i in range(5):
            files = {f"python/mod{i}/__init__.py": f"N = {i}\n" + "# padding\n" * 200}
            files.update({f"python/mod{i}/sub{j}.py": "X = 1\n" for j in range(50)})
            layers.append(svc.call("PublishLayerVersion", {"LayerName": f"l{i}", "Content": {"ZipFile": zip_of(files)}})["LayerVersionArn"])
        code = zip_of({"app.py": "def handler(e, c):\n    return 1\n"})
        svc.call("CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Role": role, "Handler": "app.handler", "Code": {"ZipFile": code}, "Publish": True})
        svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "Layers": layers})
        svc.call("PublishVersion", {"FunctionName": "f"})
        svc.call("CreateAlias", {"FunctionName": "f", "Name": "live", "FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.0}}})

        def prep(qualifier: str | None) -> None:
            version, stored = resolve_version(svc, "f", qualifier, pick=True)
            build_spec(svc, stored, version)

        first = median_ms(lambda: prep("live"), 1)
        plain_prep = median_ms(lambda: prep(None), args.runs)
        alias_prep = median_ms(lambda: prep("live"), args.runs)
        svc.call("Invoke", {"FunctionName": "f"})
        plain_direct = median_ms(lambda: svc.call("Invoke", {"FunctionName": "f"}), args.runs)
        alias_direct = median_ms(lambda: svc.call("Invoke", {"FunctionName": "f", "Qualifier": "live"}), args.runs)
        pool = WarmPool()
        svc = svc.sibling()
        svc.environments = pool  # a service lent a warm pool, as `serve` lends one
        try:
            svc.call("Invoke", {"FunctionName": "f"})
            svc.call("Invoke", {"FunctionName": "f", "Qualifier": "live"})
            plain_warm = median_ms(lambda: svc.call("Invoke", {"FunctionName": "f"}), args.runs * 10)
            alias_warm = median_ms(lambda: svc.call("Invoke", {"FunctionName": "f", "Qualifier": "live"}), args.runs * 10)
        finally:
            pool.shutdown()
    rows = [
        ("resolve + spec, first use of alias with 5 layers (extract + merge)", first, None),
        ("resolve + spec, $LATEST, no layers", plain_prep, None),
        ("resolve + spec, weighted alias, 5 layers", alias_prep, alias_prep - plain_prep),
        ("invoke, one-shot sandbox, $LATEST", plain_direct, None),
        ("invoke, one-shot sandbox, alias + 5 layers", alias_direct, alias_direct - plain_direct),
        ("invoke, warm environment, $LATEST", plain_warm, None),
        ("invoke, warm environment, alias + 5 layers", alias_warm, alias_warm - plain_warm),
    ]
    print(f"{'':<68} {'median ms':>10} {'added ms':>9}")
    for name, ms, added in rows:
        print(f"{name:<68} {ms:>10.2f} {'' if added is None else f'{added:9.2f}'}")
    ok = alias_prep - plain_prep < 5 and alias_warm - plain_warm < 5
    print("target met: alias + layers add < 5 ms after first use" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
