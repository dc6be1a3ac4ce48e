"""The execution engine: sandboxed runtimes serving invocations over the Lambda Runtime API.

What the service layer uses:
- `spec.SandboxSpec`, `spec.build_environment`: declare an environment (pure).
- `discovery.find_runtime(runtime, overrides, cache_file)`: the local interpreter, or
  InvalidRuntimeException naming every place searched.
- `codecache.ensure_extracted(cache_dir, sha256_hex, zip_path)`, `codecache.merge_layers(...)`:
  the read-only /var/task and /opt trees.
- `environment.ExecutionEnvironment(spec, runtime_info)`: `start()`, `invoke(...)` ->
  `InvokeOutcome`, `shutdown()`, `reusable`.
- `logs`: START / END / REPORT lines; `doctor.report()`: what this machine supports.

This package knows nothing of the registry, qualifiers, admission, the CLI or HTTP, and imports
only the standard library and `lambdactl.errors` / `limits` / `models`. The bootstraps under
`bootstraps/` run inside the sandbox and import only their language's standard library.
"""
