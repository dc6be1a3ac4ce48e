"""Storage stays bounded and private: log caps, invocation age, garbage collection, file modes,
and log output that cannot drive the terminal."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambdactl.service import Service
from lambdactl.settings import Settings, write_config

from .conftest import start_server
from .helpers import ROLE, create_args, make_zip, run_cli

MIB = 1024 * 1024
DEAD_PID = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has this pid


def _records(function: str, n: int, size: int, stamp: float, tag: str = "") -> list:
    out = []
    for i in range(n):
        rid = f"{function}-{tag}{i}-{time.monotonic_ns()}"
        message = f"{rid} ".encode().ljust(size, b"x")
        out.append(((f"/aws/lambda/{function}", "2024/01/01/[$LATEST]00", rid, stamp + i * 1e-3, message),
                    (rid, function, "$LATEST", stamp + i * 1e-3, 1.0, 1, None, 40, 128, "success", None)))
    return out


def _group_bytes(svc: Service) -> dict[str, int]:
    return dict(svc.conn.execute("SELECT log_group, SUM(length(message)) FROM log_events GROUP BY log_group").fetchall())


def _assert_sizes_exact(svc: Service) -> None:
    """The running sizes agree with what is stored."""
    actual = _group_bytes(svc)
    kept = dict(svc.conn.execute("SELECT log_group, bytes FROM log_sizes").fetchall())
    assert kept.pop("") == sum(actual.values())
    assert kept == actual


def _service(home: Path, **config: object) -> Service:
    write_config(home, config)
    return Service(Settings.load(home))


def test_logs_over_the_per_function_cap_are_trimmed_to_it(home: Path) -> None:
    from lambdactl.service.logs import write_records

    cap = 20_000  # bytes
    svc = _service(home, logs={"max_mb_per_function": cap / MIB})
    now = time.time()
    for batch in range(40):
        write_records(svc, _records("busy", 5, 500, now + batch, tag=f"b{batch}-") + _records("quiet", 1, 500, now + batch, tag=f"b{batch}-"))
    sizes = _group_bytes(svc)
    # 100 KB were written to "busy": it holds at most its cap, and its newest events
    assert 0.8 * cap <= sizes["/aws/lambda/busy"] <= cap
    assert sizes["/aws/lambda/quiet"] == 40 * 500 == cap  # at its cap, not over it: untouched
    newest = svc.conn.execute("SELECT max(timestamp) FROM log_events WHERE log_group = '/aws/lambda/busy'").fetchone()[0]
    assert newest == pytest.approx(now + 39 + 4e-3)
    oldest = svc.conn.execute("SELECT min(timestamp) FROM log_events WHERE log_group = '/aws/lambda/busy'").fetchone()[0]
    assert oldest > now + 30
    _assert_sizes_exact(svc)
    svc.close()


def test_logs_over_the_total_cap_are_trimmed_oldest_first_across_functions(home: Path) -> None:
    from lambdactl.service.logs import write_records

    total = 30_000
    svc = _service(home, logs={"max_mb_per_function": 1, "max_mb_total": total / MIB})
    now = time.time()
    for batch in range(30):
        write_records(svc, _records("a", 2, 1000, now + batch, tag=f"{batch}-"))
        write_records(svc, _records("b", 2, 1000, now + batch + 0.5, tag=f"{batch}-"))
    sizes = _group_bytes(svc)
    assert 0.8 * total <= sum(sizes.values()) <= total
    # both keep their recent events: the oldest of all went first, not one function's
    assert sizes["/aws/lambda/a"] >= 10_000 and sizes["/aws/lambda/b"] >= 10_000
    oldest = svc.conn.execute("SELECT min(timestamp) FROM log_events").fetchone()[0]
    assert oldest > now + 20
    _assert_sizes_exact(svc)
    svc.close()


def test_log_caps_hold_with_many_processes_writing_at_once(home: Path) -> None:
    cap = 50_000
    svc = _service(home, logs={"max_mb_per_function": cap / MIB, "max_mb_total": 2 * cap / MIB})
    svc.conn  # noqa: B018 - create the registry before the writers race for it
    script = (
        "import sys, time\n"
        "from lambdactl.service import Service\nfrom lambdactl.service.logs import write_records\n"
        "from lambdactl.settings import Settings\nfrom tests.test_storage import _records\n"
        "svc = Service(Settings.load(sys.argv[1]))\n"
        "for i in range(40):\n"
        "    write_records(svc, _records(sys.argv[2], 3, 700, time.time(), tag=sys.argv[3] + str(i)))\n"
    )
    root = Path(__file__).resolve().parent.parent
    procs = [subprocess.Popen([sys.executable, "-c", script, str(home), fn, str(n)], cwd=root)
             for n, fn in enumerate(["f", "f", "g", "g", "h"])]
    assert [p.wait(timeout=120) for p in procs] == [0] * 5
    sizes = _group_bytes(svc)
    assert all(size <= cap for size in sizes.values()), sizes
    assert sum(sizes.values()) <= 2 * cap
    _assert_sizes_exact(svc)
    svc.close()


def _age_invocations(svc: Service, ages_h: list[float], now: float) -> None:
    from lambdactl.service.logs import write_records

    for i, age in enumerate(ages_h):
        write_records(svc, _records("f", 1, 10, now - age * 3600, tag=f"age{i}-"))


def test_invocation_rows_are_trimmed_by_age(home: Path) -> None:
    from lambdactl.service import logs

    svc = _service(home, metrics={"invocations_max_age_hours": 2})
    now = 1_700_000_000.0
    _age_invocations(svc, [30, 5, 3, 2.5, 1.5, 0.5, 0], now)
    later = Service(svc.settings, clock=lambda: now)
    assert logs.trim_invocations(later) == 4
    ages = sorted(round((now - t) / 3600, 1) for (t,) in later.conn.execute("SELECT timestamp FROM invocations"))
    assert ages == [0.0, 0.5, 1.5]
    assert logs.trim_invocations(later) == 0
    later.close()
    svc.close()


def test_invocation_rows_are_trimmed_in_batches(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdactl.service import logs

    monkeypatch.setattr(logs, "TRIM_INVOCATIONS_BATCH", 3)
    svc = _service(home)
    now = time.time()
    _age_invocations(svc, [48] * 10 + [1] * 2, now)
    assert logs.trim_invocations(svc) == 10
    assert svc.conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0] == 2
    svc.close()


def test_the_servers_log_writer_trims_old_invocation_rows_as_it_flushes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdactl.service import logs

    monkeypatch.setattr(logs, "TRIM_INVOCATIONS_EVERY_S", 0.0)  # at most once a minute, in the server
    svc = _service(home)
    now = time.time()
    _age_invocations(svc, [72, 48, 0], now)
    sink = logs.BatchingSink(lambda: Service(Settings.load(home)), interval_s=0.01)
    sink.put(_records("g", 1, 10, now)[0])
    sink.close()
    assert sorted(svc.conn.execute("SELECT function FROM invocations").fetchall()) == [("f",), ("g",)]
    svc.close()


# -- garbage ------------------------------------------------------------------------------------

def _litter(home: Path, tmp_path: Path) -> dict[str, Path]:
    """A home with one function, orphaned blobs and trees, and temp files of dead and live writers."""
    z = tmp_path / "code.zip"
    z.write_bytes(make_zip())
    r = run_cli(*create_args("kept", z), home=home)
    assert r.code == 0, r.stderr
    r = run_cli("invoke", "--function-name", "kept", str(tmp_path / "out"), home=home)  # extracts its tree
    assert r.code == 0, r.stderr
    kept_sha = next(home.glob("code/*.zip")).stem
    orphan, orphan_layer, busy = "1" * 64, "2" * 64, "3" * 64
    (home / "code" / f"{orphan}.zip").write_bytes(b"o" * 1000)
    (home / "layers").mkdir(exist_ok=True)
    (home / "layers" / f"{orphan_layer}.zip").write_bytes(b"l" * 2000)
    for sha in (orphan, busy):
        tree = home / "cache" / "code" / sha
        tree.mkdir(parents=True)
        (tree / "app.py").write_bytes(b"x" * 300)
    hour_ago = time.time() - 3600
    paths = {
        "kept": home / "code" / f"{kept_sha}.zip",
        "kept_tree": home / "cache" / "code" / kept_sha,
        "orphan": home / "code" / f"{orphan}.zip",
        "orphan_layer": home / "layers" / f"{orphan_layer}.zip",
        "orphan_tree": home / "cache" / "code" / orphan,
        "busy_tree": home / "cache" / "code" / busy,
        "dead_tmp": home / "code" / f".{'4' * 64}.zip.{DEAD_PID}.tmp",
        "dead_config_tmp": home / f".config.toml.0badf00d.{DEAD_PID}.tmp",
        "fresh_dead_tmp": home / "layers" / f".{'5' * 64}.zip.{DEAD_PID}.tmp",  # its writer may be in another pid namespace
        "live_tmp": home / "code" / f".{'6' * 64}.zip.{os.getpid()}.tmp",
    }
    for key in ("dead_tmp", "dead_config_tmp", "fresh_dead_tmp", "live_tmp"):
        paths[key].write_bytes(b"t" * 100)
    for key in ("dead_tmp", "dead_config_tmp", "live_tmp"):
        os.utime(paths[key], (hour_ago, hour_ago))
    return paths


GONE = ("orphan", "orphan_layer", "dead_tmp", "dead_config_tmp")
STAY = ("kept", "kept_tree", "fresh_dead_tmp", "live_tmp", "busy_tree")


def test_doctor_gc_collects_orphans_and_dead_writers_files(home: Path, tmp_path: Path) -> None:
    paths = _litter(home, tmp_path)
    # an environment of the fallback sandbox runs in its code tree: that tree is in use
    user = subprocess.Popen(["sleep", "60"], cwd=paths["busy_tree"])
    try:
        r = run_cli("doctor", "--gc", "--output", "json", home=home)
    finally:
        user.kill()
        user.wait()
    assert r.code == 0, r.stderr
    gc = r.json["gc"]
    removed = {item["path"]: item["bytes"] for item in gc["removed"]}
    rel = {k: str(p.relative_to(home)) for k, p in paths.items()}
    assert removed == {rel["orphan"]: 1000, rel["orphan_layer"]: 2000, rel["dead_tmp"]: 100,
                       rel["dead_config_tmp"]: 100, rel["orphan_tree"]: 300}
    assert gc["bytes_freed"] == 3500
    for key in GONE + ("orphan_tree",):
        assert not paths[key].exists(), key
    for key in STAY:
        assert paths[key].exists(), key
    # the kept function still runs; once its user is gone, the unreferenced tree goes too
    assert run_cli("invoke", "--function-name", "kept", str(tmp_path / "out2"), home=home).code == 0
    text = run_cli("doctor", "--gc", home=home)
    assert f"gc: removed 1 files, 300 bytes freed\n  {rel['busy_tree']} (300 bytes)\n" in text.stdout
    assert not paths["busy_tree"].exists() and paths["kept_tree"].exists()
    assert run_cli("doctor", "--gc", "--output", "json", home=home).json["gc"]["removed"] == []


@pytest.mark.parametrize("sandbox", ["bubblewrap", "fallback"])
def test_doctor_gc_keeps_the_code_tree_of_a_running_invocation(home: Path, tmp_path: Path, sandbox: str) -> None:
    from lambdactl.runtime.codecache import trees_in_use
    from lambdactl.runtime.sandbox import detect_mode

    if sandbox == "bubblewrap" and detect_mode().name != "bubblewrap":
        pytest.skip("needs bubblewrap")
    env = {"LAMBDACTL_SANDBOX": "fallback"} if sandbox == "fallback" else {}
    slow, new = tmp_path / "slow.zip", tmp_path / "new.zip"
    slow.write_bytes(make_zip({"app.py": "import time\ndef handler(e, c):\n    time.sleep(6)\n    return 'done'\n"}))
    new.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 'new'\n"}))
    assert run_cli(*create_args("f", slow, "--timeout", "30"), home=home, env=env).code == 0
    old_sha = next(home.glob("code/*.zip")).stem
    full_env = {**os.environ, "LAMBDACTL_HOME": str(home), **env}
    from .helpers import console_script

    running = subprocess.Popen([console_script(), "invoke", "--function-name", "f", str(tmp_path / "out")],
                               env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while old_sha not in trees_in_use() and time.monotonic() < deadline and running.poll() is None:
            time.sleep(0.05)
        assert old_sha in trees_in_use()
        # the running code's zip is no longer referenced (and goes at once); its tree must stay
        assert run_cli("update-function-code", "--function-name", "f", "--zip-file", f"fileb://{new}", home=home).code == 0
        assert not (home / "code" / f"{old_sha}.zip").exists()
        r = run_cli("doctor", "--gc", "--output", "json", home=home)
        assert r.code == 0, r.stderr
        assert r.json["gc"]["removed"] == []
        assert running.wait(timeout=60) == 0, running.stderr.read() if running.stderr else ""
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert json.loads((tmp_path / "out").read_text()) == "done"
    r = run_cli("doctor", "--gc", "--output", "json", home=home)
    assert [item["path"] for item in r.json["gc"]["removed"]] == [f"cache/code/{old_sha}"]


def test_serve_start_collects_orphans_and_old_invocations(home: Path, tmp_path: Path) -> None:
    paths = _litter(home, tmp_path)
    svc = Service(Settings.load(home))
    _age_invocations(svc, [48, 30], time.time())
    svc.close()
    gen = start_server(home)
    next(gen)
    try:
        deadline = time.monotonic() + 30
        while any(paths[k].exists() for k in GONE) and time.monotonic() < deadline:
            time.sleep(0.1)
        for key in GONE:
            assert not paths[key].exists(), key
        for key in STAY + ("orphan_tree",):  # extracted trees are left to doctor --gc
            assert paths[key].exists(), key
        svc = Service(Settings.load(home))
        while time.monotonic() < deadline and svc.conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0] > 1:
            time.sleep(0.1)
        assert svc.conn.execute("SELECT function FROM invocations").fetchall() == [("kept",)]
        svc.close()
    finally:
        gen.close()
    assert "removed 4 unreferenced or partial files (3200 bytes)" in (home / "server.stderr").read_text()


# -- modes --------------------------------------------------------------------------------------

def _modes(home: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(home.stat().st_mode)}
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():  # a link's own mode means nothing
                out[str(p.relative_to(home))] = stat.S_IMODE(p.lstat().st_mode)
    return out


def _extracted(rel: str) -> bool:
    """Extracted code, layers and the /etc snapshot: read-only trees the sandbox must read."""
    parts = rel.split("/")
    return parts[0] == "cache" and len(parts) > 2 and parts[1] in ("code", "layers", "opt", "sandbox")


@pytest.mark.parametrize("sandbox", ["bubblewrap", "fallback"])
def test_home_is_0700_and_its_files_0600_whatever_the_umask(tmp_path: Path, sandbox: str) -> None:
    from lambdactl.runtime.sandbox import detect_mode

    if sandbox == "bubblewrap" and detect_mode().name != "bubblewrap":
        pytest.skip("needs bubblewrap")
    home = tmp_path / "fresh" / "home"
    env = {"LAMBDACTL_SANDBOX": "fallback"} if sandbox == "fallback" else {}
    z = tmp_path / "code.zip"
    z.write_bytes(make_zip())
    old = os.umask(0)  # the children inherit it: modes must not depend on it
    try:
        assert run_cli(*create_args("f", z), home=home, env=env).code == 0
        r = run_cli("invoke", "--function-name", "f", "--payload", '{"a": 1}', str(tmp_path / "o1"), home=home, env=env)
        assert r.code == 0 and json.loads((tmp_path / "o1").read_text()) == {"a": 1}, r.stderr
        write_config(home, {"logs": {"max_mb_per_function": 50}})  # what `config set` writes through
        r = run_cli("serve", "--detach", "--port", "0", home=home, env=env)
        assert r.code == 0, r.stderr
        try:
            r = run_cli("invoke", "--function-name", "f", "--payload", '{"b": 2}', str(tmp_path / "o2"), home=home, env=env)
            assert r.code == 0 and json.loads((tmp_path / "o2").read_text()) == {"b": 2}, r.stderr
            live = _modes(home)  # the registry's -wal and -shm exist while the server runs
        finally:
            assert run_cli("serve", "stop", home=home).code == 0
    finally:
        os.umask(old)
    modes = {**live, **_modes(home)}
    assert modes.pop(".") == 0o700
    for name in ("registry.db", "registry.db-wal", "registry.db-shm", "config.toml", "server.log"):
        assert modes[name] == 0o600, name
    loose = {}
    for rel, mode in modes.items():
        if _extracted(rel):
            assert "__pycache__" not in rel  # runtimes write no bytecode into the shared code tree
            if mode & 0o022:  # the sandbox reads these; nobody but us may change them
                loose[rel] = oct(mode)
        elif (home / rel).is_dir():
            if rel in ("code", "layers") and mode != 0o700:
                loose[rel] = oct(mode)
        elif mode != 0o600:
            loose[rel] = oct(mode)
    assert loose == {}
    code_tree = next((home / "cache" / "code").iterdir())
    assert stat.S_IMODE((code_tree / "app.py").stat().st_mode) == 0o444  # still readable by the sandbox user


def test_a_private_home_runs_functions_for_an_ordinary_user_in_both_sandbox_modes() -> None:
    """Root reads through any mode; only another user shows that a 0700 home still lets the
    sandbox read the code it keeps (bubblewrap binds it, the fallback runs in it)."""
    import pwd
    import shutil
    import tempfile

    import lambdactl

    runuser = shutil.which("runuser")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    python = shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin")
    if os.geteuid() != 0 or not runuser or not python:
        pytest.skip(f"needs root, runuser and a system python{version}")
    nobody = pwd.getpwnam("nobody")
    import typer

    site = Path(typer.__file__).parent.parent
    path = f"{Path(lambdactl.__file__).parent.parent}:{site}"
    work = Path(tempfile.mkdtemp(prefix="lambdactl-user-"))
    try:
        os.chown(work, nobody.pw_uid, nobody.pw_gid)
        (work / "code.zip").write_bytes(make_zip())
        os.chmod(work / "code.zip", 0o644)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": path,
               "PYTHONDONTWRITEBYTECODE": "1", "LAMBDACTL_HOME": str(work / "home")}

        def as_user(*args: str, sandbox: str = "") -> subprocess.CompletedProcess[str]:
            extra = {"LAMBDACTL_SANDBOX": sandbox} if sandbox else {}
            return subprocess.run([runuser, "-u", "nobody", "--", "env", *(f"{k}={v}" for k, v in {**env, **extra}.items()),
                                   python, *args], capture_output=True, text=True, timeout=120, cwd=work)

        probe = as_user("-c", "import lambdactl, typer, sqlite_utils, tomli_w, platformdirs")
        if probe.returncode != 0:
            pytest.skip(f"the package is not readable by nobody: {probe.stderr[-300:]}")
        create = ["-m", "lambdactl", "create-function", "--function-name", "f", "--runtime", f"python{version}",
                  "--handler", "app.handler", "--role", "arn:aws:iam::123456789012:role/r",
                  "--zip-file", f"fileb://{work / 'code.zip'}"]
        r = as_user(*create)
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE((work / "home").stat().st_mode) == 0o700
        for sandbox in ("", "fallback"):
            r = as_user("-m", "lambdactl", "invoke", "--function-name", "f", "--payload", '{"k": 1}', "-",
                        "--query", "Payload", "--output", "text", sandbox=sandbox)
            assert (r.returncode, r.stdout.strip()) == (0, '{"k": 1}'), (sandbox, r.stderr)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


def test_an_existing_open_home_is_closed_when_a_command_opens_it(home: Path, tmp_path: Path) -> None:
    z = tmp_path / "code.zip"
    z.write_bytes(make_zip())
    assert run_cli(*create_args("f", z), home=home).code == 0
    os.chmod(home, 0o755)
    for p in [home / "registry.db", *home.glob("code/*.zip")]:
        os.chmod(p, 0o644)
    os.chmod(home / "code", 0o755)
    assert run_cli("get-function-configuration", "--function-name", "f", home=home).code == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "registry.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "code").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in home.glob("code/*.zip")} == {0o600}


# -- terminal -----------------------------------------------------------------------------------

def test_logs_tail_escapes_terminal_controls_unless_raw(home: Path, tmp_path: Path) -> None:
    handler = (
        "import sys\n"
        "def handler(event, context):\n"
        "    sys.stdout.write('red \\x1b[31mALERT\\x1b[0m title \\x1b]0;pwned\\x07 csi \\u009b2J '\n"
        "                     'cr \\rhidden del \\x7f nul \\x00 tab\\tok caf\\u00e9\\n')\n"
        "    sys.stdout.flush()\n"
        "    return 1\n"
    )
    z = tmp_path / "loud.zip"
    z.write_bytes(make_zip({"app.py": handler}))
    assert run_cli(*create_args("loud", z), home=home).code == 0
    assert run_cli("invoke", "--function-name", "loud", str(tmp_path / "o"), home=home).code == 0
    r = subprocess.run([sys.executable, "-m", "lambdactl", "logs", "tail", "loud", "--since", "1h"],
                       capture_output=True, env={**os.environ, "LAMBDACTL_HOME": str(home)}, timeout=60)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.split(b"\n") if b"ALERT" in ln)
    assert line.endswith(rb"red \x1b[31mALERT\x1b[0m title \x1b]0;pwned\x07 csi \x9b2J "
                         rb"cr \x0dhidden del \x7f nul \x00 tab" + b"\tok caf\xc3\xa9")
    assert not any(b in r.stdout for b in (b"\x1b", b"\x07", b"\x7f", b"\x00", b"\r", "\u009b".encode()))
    assert b"START RequestId" in r.stdout and b"REPORT RequestId" in r.stdout
    raw = subprocess.run([sys.executable, "-m", "lambdactl", "logs", "tail", "loud", "--since", "1h", "--raw"],
                         capture_output=True, env={**os.environ, "LAMBDACTL_HOME": str(home)}, timeout=60)
    assert raw.returncode == 0, raw.stderr
    assert b"red \x1b[31mALERT\x1b[0m title \x1b]0;pwned\x07 csi \xc2\x9b2J cr \rhidden del \x7f nul \x00 tab\tok" in raw.stdout


# ---------------------------------------------------------------------------------------------
# Code storage: function code and layers share the quota, and uploads keep free disk space


def _stored_code_bytes(svc: Service) -> int:
    """What the quota counts, summed the slow way: every function version's zip and every live
    layer version's."""
    (functions,) = svc.conn.execute("SELECT COALESCE(SUM(code_size), 0) FROM versions").fetchone()
    (layers,) = svc.conn.execute("SELECT COALESCE(SUM(code_size), 0) FROM layer_versions WHERE deleted = 0").fetchone()
    return int(functions + layers)


def test_code_storage_running_total_counts_function_and_layer_code_exactly(svc: Service) -> None:
    from .conftest import create

    def check() -> None:
        total = svc.call("GetAccountSettings", {})["AccountUsage"]["TotalCodeSize"]
        assert total == _stored_code_bytes(svc) > 0

    layer = {"LayerName": "shared", "Content": {"ZipFile": make_zip({"python/lib.py": "X = 1\n" * 500})}}
    svc.call("PublishLayerVersion", layer)
    check()  # layers count (AWS: "deployment packages and layer archives")
    create(svc, "f")
    svc.call("PublishLayerVersion", dict(layer, Content={"ZipFile": make_zip({"python/lib.py": "X = 2\n"})}))
    check()
    svc.call("UpdateFunctionCode", {"FunctionName": "f", "ZipFile": make_zip({"app.py": "# bigger\n" * 300})})
    check()  # $LATEST replaced: its old size leaves the total
    # The same on a connection that did not migrate (sqlite-utils turns recursive triggers on for
    # the one that did, which changes what INSERT OR REPLACE fires).
    other = Service(Settings.load(svc.settings.home))
    try:
        other.call("UpdateFunctionCode", {"FunctionName": "f", "ZipFile": make_zip({"app.py": "# other\n" * 200})})
    finally:
        other.close()
    check()
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("UpdateFunctionCode", {"FunctionName": "f", "ZipFile": make_zip()})
    svc.call("PublishVersion", {"FunctionName": "f"})
    check()
    svc.call("DeleteLayerVersion", {"LayerName": "shared", "VersionNumber": 1})
    check()
    svc.call("DeleteFunction", {"FunctionName": "f", "Qualifier": "1"})
    check()
    svc.call("DeleteFunction", {"FunctionName": "f"})
    svc.call("DeleteLayerVersion", {"LayerName": "shared", "VersionNumber": 2})
    assert svc.call("GetAccountSettings", {})["AccountUsage"]["TotalCodeSize"] == _stored_code_bytes(svc) == 0


def test_layers_count_against_the_code_storage_quota_through_the_server(home: Path) -> None:
    from lambdactl import limits

    from .conftest import boto_lambda, start_server

    svc = Service(Settings.load(home))
    try:
        svc.call("PublishLayerVersion", {"LayerName": "l", "Content": {"ZipFile": make_zip()}})
        # As if 75 GB were stored already (the running total is what every upload checks).
        svc.conn.execute("UPDATE code_storage SET bytes = ?", (limits.MAX_CODE_STORAGE_BYTES - 100,))
    finally:
        svc.close()
    served = start_server(home)
    info = next(served)
    try:
        lam = boto_lambda(info["url"])
        for call in (
            lambda: lam.publish_layer_version(LayerName="l", Content={"ZipFile": make_zip({"python/x.py": "1"})}),
            lambda: lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                        Code={"ZipFile": make_zip()}),
        ):
            with pytest.raises(lam.exceptions.CodeStorageExceededException) as caught:
                call()
            message = caught.value.response["Error"]["Message"]
            assert message.startswith("Code storage limit exceeded.") and "lambdactl doctor --gc" in message
            assert "delete-layer-version" in message
        assert [v["Version"] for v in lam.list_layer_versions(LayerName="l")["LayerVersions"]] == [1]
        assert len(list((home / "layers").glob("*.zip"))) == 1  # nothing stored for the refused upload
    finally:
        served.close()


def test_uploads_keep_the_configured_free_disk_space(home: Path, zip_path: Path) -> None:
    import shutil

    free_mb = shutil.disk_usage(home).free // MIB
    write_config(home, {"storage": {"min_free_mb": free_mb + 4096}})  # more than is free: any upload fails
    layer = make_zip({"python/x.py": "1"})
    (home.parent / "layer.zip").write_bytes(layer)
    for args in (create_args("f", zip_path),
                 ["publish-layer-version", "--layer-name", "l", "--zip-file", f"fileb://{home.parent / 'layer.zip'}"]):
        r = run_cli(*args, home=home)
        assert r.code == 254, r.stderr
        assert "CodeStorageExceededException" in r.stderr and "min_free_mb" in r.stderr and "doctor --gc" in r.stderr
    assert not list(home.glob("*/*.zip"))
    write_config(home, {"storage": {"min_free_mb": 0}})
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
