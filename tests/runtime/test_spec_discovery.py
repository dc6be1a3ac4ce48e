"""The spec's environment (pure) and interpreter discovery (real interpreters, no substitutes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _engine_helpers import NODE_IDS, PYTHON_IDS

from lambdactl.errors import LambdaError
from lambdactl.runtime import discovery, doctor
from lambdactl.runtime.discovery import find_runtime
from lambdactl.runtime.logs import framed, log_stream_name, report_line, timeout_line
from lambdactl.runtime.spec import Layout, SandboxSpec, build_environment

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:f"


def spec(**kw) -> SandboxSpec:
    base = dict(task_root=Path("/nowhere"), runtime="python3.12", handler="app.handler",
                function_name="f", function_arn=ARN, region="eu-west-1", memory_mb=256,
                function_version="3", log_stream="2024/01/01/[3]abc")
    base.update(kw)
    return SandboxSpec(**base)  # type: ignore[arg-type]


def test_build_environment_exact():
    env = build_environment(spec(env={"MY_VAR": "x", "LANG": "C.UTF-8", "_HANDLER": "evil",
                                      "AWS_SECRET_ACCESS_KEY": "leak"}), "127.0.0.1:4242")
    assert env == {
        "_HANDLER": "app.handler",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "3",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[3]abc",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:4242",
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": env["AWS_SESSION_TOKEN"],
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
        "LANG": "C.UTF-8",  # unreserved: the function may override it
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                           "/var/task:/var/task/lib:/opt/lib",
        "MY_VAR": "x",
    }
    assert env["AWS_SECRET_ACCESS_KEY"] not in ("leak", os.environ.get("AWS_SECRET_ACCESS_KEY"))


def test_build_environment_per_runtime_kind():
    node = build_environment(spec(runtime="nodejs22.x"), "127.0.0.1:1")
    assert node["NODE_PATH"] == ("/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:"
                                 "/var/runtime/node_modules")
    provided = build_environment(spec(runtime="provided.al2023"), "127.0.0.1:1")
    assert "AWS_EXECUTION_ENV" not in provided and "NODE_PATH" not in provided
    fallback = build_environment(spec(), "127.0.0.1:1",
                                 Layout(task_dir="/h/task", opt_dir="/h/opt", runtime_dir="/h/rt",
                                        tmp_dir="/h/tmp"))
    assert fallback["LAMBDA_TASK_ROOT"] == "/h/task" and fallback["TMPDIR"] == "/h/tmp"
    assert fallback["LD_LIBRARY_PATH"].endswith(":/h/task:/h/task/lib:/h/opt/lib")


def test_spec_rejects_unknown_initialization_type():
    with pytest.raises(ValueError):
        spec(initialization_type="whenever")
    assert spec(initialization_type="provisioned-concurrency").initialization_type


@pytest.mark.parametrize("runtime", PYTHON_IDS)
def test_find_python_exact_version(runtime):
    try:
        info = find_runtime(runtime)
    except LambdaError as e:
        assert runtime in e.message and "Searched:" in e.message and "pyenv" in e.message
        pytest.skip(f"{runtime} missing here")
    assert info.kind == "python" and info.version.startswith(runtime.removeprefix("python") + ".")
    assert info.executable is not None and info.executable.is_file()


@pytest.mark.parametrize("runtime", NODE_IDS)
def test_find_node_exact_major(runtime):
    try:
        info = find_runtime(runtime)
    except LambdaError as e:
        assert runtime in e.message and "nvm" in e.message
        pytest.skip(f"{runtime} missing here")
    assert info.version.split(".")[0] == runtime.removeprefix("nodejs").removesuffix(".x")


def test_missing_runtime_names_every_place(monkeypatch, tmp_path):
    discovery.clear_cache()
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("HOME", str(tmp_path))
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho 3.11\n")  # lies about nothing: it is not 3.12
    fake.chmod(0o755)
    with pytest.raises(LambdaError) as e:
        find_runtime("python3.12")
    err = e.value
    assert err.code == "InvalidRuntimeException" and err.status == 502
    for place in ("PATH (python3.12)", f"pyenv {tmp_path}/pyenv", "uv "):
        assert place in err.message
    discovery.clear_cache()


def test_override_wins_and_unsupported_runtimes_refused():
    discovery.clear_cache()
    try:
        real = find_runtime("python3.11")
    except LambdaError:
        pytest.skip("python3.11 missing")
    assert find_runtime("python3.11", {"python3.11": str(real.executable)}).executable == \
        real.executable
    assert find_runtime("provided.al2023").kind == "provided"
    with pytest.raises(LambdaError, match="java21"):
        find_runtime("java21")


def test_doctor_report_shape(mode):
    rep = doctor.report()
    assert rep["sandbox"]["mode"] == mode.name
    assert set(rep["runtimes"]) >= {"python3.12", "nodejs20.x", "provided.al2023"}
    for rt, entry in rep["runtimes"].items():
        assert entry["found"] or entry["searched"], rt
    assert rep["memory"]["method"]


def test_doctor_reports_the_system_call_filter_and_freezing(monkeypatch):
    from lambdactl.runtime import seccomp

    rep = doctor.report()["sandbox"]
    assert "keyctl" in rep["seccomp"] and "EPERM" in rep["seccomp"]
    assert rep["freezing"].startswith("idle warm environments")
    monkeypatch.setattr(seccomp, "machine", lambda: "riscv64")
    seccomp.unsupported_reason.cache_clear()
    try:
        rep = doctor.report()["sandbox"]
        assert rep["seccomp"] == "not applied: no system call table for the riscv64 architecture"
        if os.geteuid() == 0 and rep["mode"] == "bubblewrap":
            assert "root's keyring" in rep["warning"]
    finally:
        seccomp.unsupported_reason.cache_clear()


def test_log_lines():
    assert report_line("r", 1.234, 128, 30) == (
        "REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 30 MB\t\n")
    assert report_line("r", 10, 128, 30, init_duration_ms=99.5, status="timeout").endswith(
        "Init Duration: 99.50 ms\tStatus: timeout\t\n")
    assert report_line("r", 10, 128, 30, status="crash", error_type="Runtime.ExitError").endswith(
        "Status: error\tError Type: Runtime.ExitError\t\n")
    assert timeout_line("r", 3, 0).startswith("1970-01-01T00:00:00.000Z r Task timed out after 3.00")
    name = log_stream_name("$LATEST", 0)
    assert name.startswith("1970/01/01/[$LATEST]") and len(name) == len("1970/01/01/[$LATEST]") + 32


def test_probe_answers_are_cached_on_disk(tmp_path):
    discovery.clear_cache()
    cache_file = tmp_path / "runtimes.json"
    try:
        first = find_runtime("python3.11", cache_file=cache_file)
    except LambdaError:
        pytest.skip("python3.11 missing")
    entries = json.loads(cache_file.read_text())
    assert any(json.loads(k)[0] == str(first.executable) for k in entries)
    # a second process (simulated: empty in-memory cache) answers from the file, no subprocess
    discovery.clear_cache()
    real_probe = discovery._probe
    discovery._probe = lambda argv: pytest.fail(f"probed again: {argv}")
    try:
        again = find_runtime("python3.11", cache_file=cache_file)
    finally:
        discovery._probe = real_probe
        discovery.clear_cache()
    assert again == first


def test_framed_invocation_log():
    report = report_line("r", 2.0, 128, 30)
    assert framed("r", "$LATEST", b"hello", report) == (
        b"START RequestId: r Version: $LATEST\nhello\nEND RequestId: r\n" + report.encode())
    assert framed("r", "7", b"", report).startswith(b"START RequestId: r Version: 7\nEND")


def test_spec_interpreter_pins_the_binary():
    from lambdactl.runtime.environment import runtime_for

    try:
        found = find_runtime("python3.11")
    except LambdaError:
        pytest.skip("python3.11 missing")
    pinned = spec(runtime="python3.11", interpreter=found.executable)
    assert runtime_for(pinned).executable == found.executable
    # a 3.11 pinned for python3.12 is refused, never replaced by another 3.12 found elsewhere
    wrong = spec(runtime="python3.12", interpreter=found.executable)
    with pytest.raises(LambdaError, match=f"the interpreter configured for it, "
                                          f"{found.executable}, is missing or is not python3.12"):
        runtime_for(wrong)
    with pytest.raises(LambdaError, match="is missing or is not python3.11"):
        find_runtime("python3.11", {"python3.11": "/nonexistent/python3.11"})
