"""The installed console script, run as a user runs it: flags, output formats, errors, exit codes."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import ROLE, console_script, create_args, make_zip, run_cli


@pytest.fixture
def made(home: Path, zip_path: Path) -> Path:
    r = run_cli(*create_args("f", zip_path), home=home)
    assert r.code == 0, r.stderr
    return home


def test_first_job_in_a_fresh_registry(home: Path, zip_path: Path) -> None:
    r = run_cli(*create_args("hello", zip_path, "--memory-size", "256", "--environment", "Variables={GREETING=hi,WHO=you}", "--tags", "team=a,env=dev"), home=home)
    assert r.code == 0, r.stderr
    cfg = r.json
    assert cfg["FunctionName"] == "hello"
    assert cfg["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    assert cfg["MemorySize"] == 256
    assert cfg["Environment"] == {"Variables": {"GREETING": "hi", "WHO": "you"}}
    assert cfg["CodeSha256"] == base64.b64encode(__import__("hashlib").sha256(zip_path.read_bytes()).digest()).decode()
    assert cfg["CodeSize"] == zip_path.stat().st_size
    assert cfg["State"] == "Pending" and cfg["StateReasonCode"] == "Creating"
    assert (home / "registry.db").exists()
    listed = run_cli("list-functions", home=home).json
    assert [f["FunctionName"] for f in listed["Functions"]] == ["hello"]
    assert "State" not in listed["Functions"][0]
    got = run_cli("get-function", "--function-name", "hello", home=home).json
    assert got["Configuration"]["State"] == "Active"
    assert got["Tags"] == {"team": "a", "env": "dev"}
    assert got["Code"]["RepositoryType"] == "S3"
    # A presigned link to the server this home's `lambdactl serve` would be (none runs here).
    sha = __import__("hashlib").sha256(zip_path.read_bytes()).hexdigest()
    assert got["Code"]["Location"].startswith(f"http://127.0.0.1:9001/lambdactl/code/{sha}.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&")


def test_lifecycle(made: Path, tmp_path: Path) -> None:
    home = made
    before = run_cli("get-function-configuration", "--function-name", "f", home=home).json
    new_zip = tmp_path / "new.zip"
    new_zip.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 2\n"}))
    r = run_cli("update-function-code", "--function-name", "f", "--zip-file", f"fileb://{new_zip}", home=home)
    assert r.code == 0, r.stderr
    assert r.json["CodeSha256"] != before["CodeSha256"]
    assert r.json["RevisionId"] != before["RevisionId"]
    assert r.json["LastUpdateStatus"] == "InProgress"
    r = run_cli("update-function-configuration", "--function-name", "f", "--timeout", "30", "--description", "d", "--ephemeral-storage", "Size=1024", home=home)
    assert r.code == 0, r.stderr
    cfg = run_cli("get-function-configuration", "--function-name", "f", home=home).json
    assert (cfg["Timeout"], cfg["Description"], cfg["EphemeralStorage"]) == (30, "d", {"Size": 1024})
    arn = cfg["FunctionArn"]
    assert run_cli("tag-resource", "--resource", arn, "--tags", "a=1,b=2", home=home).code == 0
    assert run_cli("untag-resource", "--resource", arn, "--tag-keys", "a", home=home).code == 0
    assert run_cli("list-tags", "--resource", arn, home=home).json == {"Tags": {"b": "2"}}
    settings = run_cli("get-account-settings", home=home).json
    assert settings["AccountUsage"]["FunctionCount"] == 1
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    r = run_cli("delete-function", "--function-name", "f", home=home)
    assert (r.code, r.stdout) == (0, "")
    assert run_cli("list-functions", home=home).json == {"Functions": []}
    assert not list((home / "code").glob("*.zip"))


def test_publish_on_create_gives_version_1(home: Path, zip_path: Path) -> None:
    r = run_cli(*create_args("f", zip_path, "--publish"), home=home)
    assert r.code == 0, r.stderr
    assert r.json["Version"] == "1"
    assert r.json["FunctionArn"].endswith(":f:1")
    assert run_cli("get-function-configuration", "--function-name", "f", "--qualifier", "1", home=home).json["Version"] == "1"
    listed = run_cli("list-functions", "--function-version", "ALL", home=home).json["Functions"]
    assert [f["Version"] for f in listed] == ["$LATEST", "1"]


def test_service_error_format_and_exit_code(home: Path) -> None:
    r = run_cli("get-function", "--function-name", "ghost", home=home)
    assert r.code == 254
    assert r.stdout == ""
    assert r.stderr == (
        "\nAn error occurred (ResourceNotFoundException) when calling the GetFunction operation: "
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost\n"
    )


def test_validation_error_exit_code(made: Path) -> None:
    # Above the model's maximum: the service's ValidationException (botocore checks no maxima).
    r = run_cli("update-function-configuration", "--function-name", "f", "--memory-size", "20000", home=made)
    assert r.code == 254
    assert "An error occurred (ValidationException) when calling the UpdateFunctionConfiguration operation: 1 validation error detected: Value '20000' at 'memorySize'" in r.stderr


def test_values_below_the_model_minimum_are_refused_before_sending(made: Path) -> None:
    # botocore's client-side check: exit 252, nothing sent, every problem listed.
    r = run_cli("update-function-configuration", "--function-name", "f", "--memory-size", "64", "--timeout", "0",
                "--ephemeral-storage", "Size=511", home=made)
    assert r.code == 252
    assert r.stderr.strip().splitlines()[0] == "Parameter validation failed:"
    assert sorted(r.stderr.strip().splitlines()[1:]) == [
        "Invalid value for parameter EphemeralStorage.Size, value: 511, valid min value: 512",
        "Invalid value for parameter MemorySize, value: 64, valid min value: 128",
        "Invalid value for parameter Timeout, value: 0, valid min value: 1",
    ]
    r = run_cli("put-function-concurrency", "--function-name", "f", "--reserved-concurrent-executions", "-1", home=made)
    assert (r.code, r.stderr.strip().splitlines()[-1]) == (
        252, "Invalid value for parameter ReservedConcurrentExecutions, value: -1, valid min value: 0")
    assert run_cli("get-function-configuration", "--function-name", "f", home=made).json["MemorySize"] == 128
    # JSON values of the wrong type and unknown members, in botocore's words.
    r = run_cli("update-function-configuration", "--function-name", "f", "--environment", '{"Variables": {"KK": 1}}', home=made)
    assert (r.code, r.stderr.strip()) == (252, "Parameter validation failed:\nInvalid type for parameter Environment.Variables.KK, "
                                               "value: 1, type: <class 'int'>, valid types: <class 'str'>")
    r = run_cli("update-function-configuration", "--function-name", "f", "--environment", '{"Vars": {}}', home=made)
    assert (r.code, r.stderr.strip()) == (252, 'Parameter validation failed:\nUnknown parameter in Environment: "Vars", '
                                               "must be one of: Variables")


@pytest.mark.parametrize(
    "args",
    [
        ["list-functions", "--bogus"],
        ["no-such-command"],
        ["get-function"],
        ["get-function", "--function-name"],
        ["create-function", "--function-name", "f", "--zip-file", "code.zip", "--role", ROLE, "--runtime", "python3.12", "--handler", "a.b"],
        ["create-function", "--function-name", "f", "--environment", "Variables={A=1"],
        ["update-function-configuration", "--function-name", "f", "--memory-size", "lots"],
        ["list-functions", "--output", "xml"],
        ["list-functions", "--query", "[[["],
        ["list-functions", "--max-items", "0"],
        ["get-function", "--function-name", "f", "--cli-input-json", "{not json"],
        ["update-function-configuration", "--function-name", "f", "--environment", "file:///no/such/file"],
    ],
)
def test_usage_errors_exit_252(home: Path, args: list[str]) -> None:
    r = run_cli(*args, home=home)
    assert r.code == 252, (r.stdout, r.stderr)
    assert r.stderr.strip()


def test_required_arguments_message(home: Path) -> None:
    r = run_cli("get-function", home=home)
    assert r.code == 252
    assert "the following arguments are required: --function-name" in r.stderr


def test_zip_file_needs_fileb(home: Path, zip_path: Path) -> None:
    r = run_cli("create-function", "--function-name", "f", "--runtime", "python3.12", "--handler", "a.b", "--role", ROLE, "--zip-file", str(zip_path), home=home)
    assert r.code == 252
    assert "--zip-file must be a zip file with the fileb:// prefix." in r.stderr


def test_zip_file_must_hold_a_zip_and_code_takes_no_zipfile(home: Path, tmp_path: Path, zip_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a zip")
    base = ("--function-name", "f", "--runtime", "python3.12", "--handler", "a.b", "--role", ROLE)
    r = run_cli("create-function", *base, "--zip-file", f"fileb://{text}", home=home)
    assert (r.code, r.stderr.strip()) == (252, "lambdactl: error: --zip-file must be a zip file with the fileb:// prefix.\nExample usage:  --zip-file fileb://path/to/file.zip")
    r = run_cli("publish-layer-version", "--layer-name", "l", "--zip-file", f"fileb://{text}", home=home)
    assert r.code == 252 and "--zip-file must be a zip file" in r.stderr
    r = run_cli("create-function", *base, "--code", f"ZipFile=fileb://{zip_path}", home=home)
    assert (r.code, r.stderr.strip()) == (252, "lambdactl: error: ZipFile cannot be provided as part of the --code argument.  Please use the '--zip-file' option instead to specify a zip file.")
    assert run_cli("list-functions", home=home).stdout.strip() == '{\n    "Functions": []\n}'


def test_foreign_starting_token_goes_to_the_service_as_its_marker(home: Path) -> None:
    # As `aws` does: a token that is not the CLI's own is passed on, and the service refuses it.
    r = run_cli("list-functions", "--starting-token", "garbage", home=home)
    assert r.code == 254
    assert "(InvalidParameterValueException) when calling the ListFunctions operation: Invalid marker: garbage" in r.stderr
    assert "Traceback" not in r.stderr


def test_output_formats(made: Path) -> None:
    home = made
    j = run_cli("get-function-configuration", "--function-name", "f", home=home)
    assert j.stdout.startswith('{\n    "FunctionName": "f",')
    t = run_cli("get-function-configuration", "--function-name", "f", "--output", "text", home=home)
    first = t.stdout.splitlines()[0].split("\t")
    assert "arn:aws:lambda:us-east-1:123456789012:function:f" in first and "python3.12" in first
    assert "TRACINGCONFIG\tPassThrough" in t.stdout.splitlines()
    y = run_cli("get-function-configuration", "--function-name", "f", "--output", "yaml", home=home)
    import yaml

    assert yaml.safe_load(y.stdout)["FunctionName"] == "f"
    tab = run_cli("get-function-configuration", "--function-name", "f", "--output", "table", home=home)
    assert "GetFunctionConfiguration" in tab.stdout and "| FunctionName" in tab.stdout
    off = run_cli("get-function-configuration", "--function-name", "f", "--output", "off", home=home)
    assert (off.code, off.stdout) == (0, "")
    # Global options before the command work too.
    before = run_cli("--output", "text", "--query", "FunctionName", "get-function-configuration", "--function-name", "f", home=home)
    assert before.stdout == "f\n"


def test_query(made: Path) -> None:
    r = run_cli("list-functions", "--query", "Functions[].[FunctionName, MemorySize]", "--output", "text", home=made)
    assert r.stdout == "f\t128\n"
    r = run_cli("get-function-configuration", "--function-name", "f", "--query", "{n: FunctionName, t: Timeout}", home=made)
    assert r.json == {"n": "f", "t": 3}


def test_file_values_and_cli_input_json(home: Path, zip_path: Path, tmp_path: Path) -> None:
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"Variables": {"FROM_FILE": "yes"}}))
    desc = tmp_path / "desc.txt"
    desc.write_text("from a file")
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"FunctionName": "f", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler", "Timeout": 9, "Code": {"ZipFile": base64.b64encode(zip_path.read_bytes()).decode()}}))
    r = run_cli("create-function", "--cli-binary-format", "base64", "--cli-input-json", f"file://{request}", "--environment", f"file://{env}", "--description", f"file://{desc}", "--timeout", "12", home=home)
    assert r.code == 0, r.stderr
    assert r.json["Environment"] == {"Variables": {"FROM_FILE": "yes"}}
    assert r.json["Description"] == "from a file"
    assert r.json["Timeout"] == 12  # an explicit flag beats --cli-input-json


def test_generate_cli_skeleton(home: Path) -> None:
    r = run_cli("create-function", "--generate-cli-skeleton", home=home)
    assert r.code == 0
    skel = r.json
    assert {"FunctionName", "Runtime", "Role", "Handler", "Code", "Environment"} <= set(skel)
    r = run_cli("get-function", "--generate-cli-skeleton", "yaml-input", home=home)
    assert "FunctionName:" in r.stdout


def test_pagination(home: Path, svc, zip_path: Path) -> None:
    from .conftest import create

    for i in range(120):
        create(svc, f"fn-{i:03d}")
    svc.close()
    all_items = run_cli("list-functions", "--query", "Functions[].FunctionName", home=home).json
    assert all_items == [f"fn-{i:03d}" for i in range(120)]
    page = run_cli("list-functions", "--max-items", "7", "--query", "{n: Functions[].FunctionName, t: NextToken}", home=home).json
    assert page["n"] == [f"fn-{i:03d}" for i in range(7)]
    rest = run_cli("list-functions", "--starting-token", page["t"], "--max-items", "60", "--page-size", "9", "--query", "{n: Functions[].FunctionName, t: NextToken}", home=home).json
    assert rest["n"] == [f"fn-{i:03d}" for i in range(7, 67)]
    last = run_cli("list-functions", "--starting-token", rest["t"], "--query", "Functions[].FunctionName", home=home).json
    assert last == [f"fn-{i:03d}" for i in range(67, 120)]
    raw = run_cli("list-functions", "--no-paginate", home=home).json
    assert len(raw["Functions"]) == 50 and "NextMarker" in raw
    # With --no-paginate, --max-items is the API's MaxItems (as the AWS CLI un-shadows it).
    one = run_cli("list-functions", "--no-paginate", "--max-items", "3", home=home).json
    assert [f["FunctionName"] for f in one["Functions"]] == ["fn-000", "fn-001", "fn-002"] and "NextMarker" in one
    r = run_cli("list-functions", "--no-paginate", "--starting-token", page["t"], home=home)
    assert (r.code, r.stderr.strip()) == (255, "Cannot specify --no-paginate along with pagination arguments: --starting-token")
    # A --max-items resume token is the last row of text output, as NEXTTOKEN.
    text = run_cli("list-functions", "--max-items", "2", "--output", "text", home=home).stdout.splitlines()
    assert text[-1].startswith("NEXTTOKEN\t") and sum(line.startswith("NEXTTOKEN") for line in text) == 1
    assert text[0].startswith("FUNCTIONS\t")


def test_debug_goes_to_stderr(made: Path) -> None:
    r = run_cli("get-function-configuration", "--function-name", "f", "--debug", home=made)
    assert r.code == 0
    assert "DEBUG" in r.stderr and "GetFunctionConfiguration" in r.stderr
    assert r.json["FunctionName"] == "f"


def test_version_and_help(home: Path) -> None:
    r = run_cli("--version", home=home)
    assert r.code == 0 and r.stdout.startswith("lambdactl/")
    r = run_cli("--help", home=home)
    assert r.code == 0 and "create-function" in r.stdout
    r = run_cli("create-function", "--help", home=home)
    assert r.code == 0 and "--zip-file" in r.stdout and "--function-name" in r.stdout


def test_python_dash_m(made: Path) -> None:
    import sys

    proc = subprocess.run([sys.executable, "-m", "lambdactl", "get-function-configuration", "--function-name", "f"], capture_output=True, text=True, env={**os.environ, "LAMBDACTL_HOME": str(made)})
    assert proc.returncode == 0 and json.loads(proc.stdout)["FunctionName"] == "f"


def test_process_exit_keeps_codes_and_flushes_output(made: Path) -> None:
    """The console entry leaves with os._exit: codes and buffered output must survive it."""
    import sys

    env = {**os.environ, "LAMBDACTL_HOME": str(made)}
    proc = subprocess.run([sys.executable, "-m", "lambdactl", "get-function", "--function-name", "nope"], capture_output=True, text=True, env=env)
    assert proc.returncode == 254 and "ResourceNotFoundException" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "lambdactl", "get-function", "--bogus"], capture_output=True, text=True, env=env)
    assert proc.returncode == 252
    proc = subprocess.run([sys.executable, "-m", "lambdactl", "help-does-not-exist"], capture_output=True, env=env)
    assert proc.returncode == 252
    # more than a pipe buffer of output still buffered in sys.stdout when the command ends
    code = ("import sys; sys.argv = ['lambdactl', 'list-functions']; sys.stdout.write('x' * 200000); "
            "from lambdactl.cli.main import entry; entry()")
    big = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert big.returncode == 0 and big.stdout.startswith(b"x" * 200000)
    assert json.loads(big.stdout[200000:])["Functions"][0]["FunctionName"] == "f"


def test_home_flag_beats_environment(tmp_path: Path, zip_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(*create_args("f", zip_path), "--home", str(b), home=a).code == 0
    assert run_cli("list-functions", home=a).json == {"Functions": []}
    assert len(run_cli("list-functions", "--home", str(b), home=a).json["Functions"]) == 1
    # Before a command group of lambdactl's own too.
    assert run_cli("--home", str(b), "invoke", "--function-name", "f", "--payload", "{}", "-", home=a).code == 0
    logs = run_cli("--home", str(b), "logs", "tail", "f", home=a)
    assert logs.code == 0 and "START RequestId:" in logs.stdout, logs.stderr


def test_region_and_account_from_config(home: Path, zip_path: Path) -> None:
    (home / "config.toml").write_text('region = "eu-west-3"\naccount_id = "111122223333"\n')
    r = run_cli(*create_args("f", zip_path), home=home)
    assert r.json["FunctionArn"] == "arn:aws:lambda:eu-west-3:111122223333:function:f"
    # One registry is one account; --region only names the region in ARNs.
    r = run_cli("get-function-configuration", "--function-name", "f", "--region", "ap-south-1", home=home)
    assert r.json["FunctionArn"] == "arn:aws:lambda:ap-south-1:111122223333:function:f"


def test_ctrl_c_exits_130(home: Path) -> None:
    proc = subprocess.Popen(
        [console_script(), "get-function", "--cli-input-json", "file:///dev/stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "LAMBDACTL_HOME": str(home)},
    )
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.returncode == 130


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_an_interrupted_invoke_leaves_no_process(home: Path, tmp_path: Path, sig: int, code: int) -> None:
    # The weaker sandbox has no bwrap dying with its parent: the CLI itself must clean up.
    app = ("import subprocess, sys, time\n"
           "def handler(e, c):\n"
           "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
           "    print('started', flush=True)\n"
           "    time.sleep(60)\n")
    zip_path = tmp_path / "slow.zip"
    zip_path.write_bytes(make_zip({"app.py": app}))
    name = f"slow-{os.urandom(4).hex()}"  # what marks this test's processes, and no others
    assert run_cli(*create_args(name, zip_path, "--timeout", "120"), home=home).code == 0
    env = {**os.environ, "LAMBDACTL_HOME": str(home), "LAMBDACTL_SANDBOX": "fallback", "LAMBDACTL_DIRECT": "1"}
    proc = subprocess.Popen([console_script(), "invoke", "--function-name", name, str(tmp_path / "out.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def sandbox_pids() -> list[int]:
        marker = f"AWS_LAMBDA_FUNCTION_NAME={name}\0".encode()
        found = []
        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and marker in Path(f"/proc/{pid}/environ").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 20
    while len(sandbox_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sandbox_pids()) >= 2, "the function never started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert b"Traceback" not in err and b"ServiceException" not in err, err
    assert sandbox_pids() == []


def test_whole_listing_from_stored_text_matches_the_parsed_output(home: Path, zip_path: Path) -> None:
    """`list-functions` printed as JSON joins each version's stored listing text; the result
    must be byte for byte what parsing the rows and rendering them prints (forced here by a
    `--query` of the whole document)."""
    import sqlite3

    assert run_cli("list-functions", home=home).stdout == '{\n    "Functions": []\n}\n'
    odd = 'héllo  "two"  spaces \\ back\ttab \u2028 </script>'
    assert run_cli(*create_args("a-1", zip_path, "--description", odd, "--environment",
                                'Variables={KK="a  b",ZZ=ü}', "--memory-size", "256"), home=home).code == 0
    assert run_cli(*create_args("b_2", zip_path), home=home).code == 0
    assert run_cli("publish-version", "--function-name", "b_2", home=home).code == 0
    assert run_cli(*create_args("c", zip_path, "--tags", "k=v"), home=home).code == 0
    # a lone surrogate is refused now, but a registry may hold one from before: that row's
    # listing is rendered when read, and printing it writes the JSON escape instead of failing
    made = run_cli(*create_args("d", zip_path), "--cli-input-json", '{"Description": "x\\ud800y"}', home=home)
    assert made.code == 254 and "InvalidRequestContentException" in made.stderr
    assert run_cli(*create_args("d", zip_path), home=home).code == 0
    with sqlite3.connect(home / "registry.db") as conn:
        (config,) = conn.execute("SELECT config FROM versions WHERE function = 'd'").fetchone()
        conn.execute("UPDATE versions SET config = ?, listing = NULL WHERE function = 'd'",
                     (json.dumps({**json.loads(config), "Description": "x\ud800y"}),))
    # a row written before listings were stored: rendered from its configuration instead
    with sqlite3.connect(home / "registry.db") as conn:
        conn.execute("UPDATE versions SET listing = NULL WHERE function = 'b_2' AND version = '1'")
    for extra in ([], ["--function-version", "ALL"], ["--region", "eu-west-1"], ["--page-size", "1"],
                  ["--function-version", "ALL", "--page-size", "2"], ["--region", 'x"y\\z']):
        fast = run_cli("list-functions", *extra, home=home)
        slow = run_cli("list-functions", *extra, "--query", "@", home=home)
        assert fast.code == slow.code == 0
        assert fast.stdout == slow.stdout, extra
    everything = json.loads(run_cli("list-functions", "--function-version", "ALL", home=home).stdout)
    assert [(f["FunctionName"], f["Version"]) for f in everything["Functions"]] == [
        ("a-1", "$LATEST"), ("b_2", "$LATEST"), ("b_2", "1"), ("c", "$LATEST"), ("d", "$LATEST")]
    assert everything["Functions"][4]["Description"] == "x\ud800y"
    assert everything["Functions"][2]["FunctionArn"].endswith(":function:b_2:1")
    assert everything["Functions"][0]["Description"] == odd
    bad = run_cli("list-functions", "--master-region", "nowhere", home=home)
    assert bad.code == 254 and "ValidationException" in bad.stderr


def test_doctor_text_says_what_json_says(home: Path) -> None:
    text = run_cli("doctor", home=home)
    data = json.loads(run_cli("doctor", "--output", "json", home=home).stdout)
    assert text.code == 0 and text.stdout.startswith(f"sandbox: {data['sandbox']['mode']}")
    for key in ("isolation", "process_limit", "warning", "advice"):
        if key in data["sandbox"]:  # the root warning and its advice included
            assert f"  {key.replace('_', ' ')}: {data['sandbox'][key]}\n" in text.stdout
    assert ("warning" in data["sandbox"]) is (os.geteuid() == 0)
    for runtime in data["runtimes"]:
        assert f"  {runtime} " in text.stdout


def test_a_command_that_wrote_leaves_nothing_in_the_wal(home: Path, zip_path: Path) -> None:
    """The console entry skips closing the registry only after a read-only command: a command
    that wrote closes it, which checkpoints the WAL into the database (durable with
    synchronous=NORMAL) before the process ends."""
    wal = home / "registry.db-wal"

    def wal_frames() -> int:
        return wal.stat().st_size if wal.exists() else 0

    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    assert wal_frames() == 0
    assert run_cli("get-function-configuration", "--function-name", "f", home=home).code == 0
    assert wal_frames() == 0
    assert run_cli("tag-resource", "--resource", "arn:aws:lambda:us-east-1:123456789012:function:f",
                   "--tags", "a=b", home=home).code == 0
    assert wal_frames() == 0
    assert run_cli("list-tags", "--resource", "arn:aws:lambda:us-east-1:123456789012:function:f",
                   home=home).json == {"Tags": {"a": "b"}}


def test_wait_polls_like_the_aws_cli_waiters(home: Path, zip_path: Path) -> None:
    # Success is silent and immediate for a function that is Active already.
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    for waiter in ("function-active", "function-active-v2", "function-updated", "function-updated-v2", "function-exists"):
        r = run_cli("wait", waiter, "--function-name", "f", home=home)
        assert (r.code, r.stdout, r.stderr) == (0, "", ""), (waiter, r.stderr)
    assert run_cli("publish-version", "--function-name", "f", home=home).code == 0
    assert run_cli("wait", "published-version-active", "--function-name", "f", "--qualifier", "1", home=home).code == 0
    # An error no acceptor expects ends the wait at once, in botocore's words, with exit 255.
    r = run_cli("wait", "function-active-v2", "--function-name", "nope", home=home)
    assert (r.code, r.stderr.strip()) == (255, "Waiter FunctionActiveV2 failed: An error occurred (ResourceNotFoundException): "
                                               "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope")
    # function-exists retries ResourceNotFoundException (every second) until the function appears.
    env = {**os.environ, "LAMBDACTL_HOME": str(home)}
    waiting = subprocess.Popen([console_script(), "wait", "function-exists", "--function-name", "later"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(1.5)
    assert waiting.poll() is None, waiting.communicate()
    assert run_cli(*create_args("later", zip_path), home=home).code == 0
    out, err = waiting.communicate(timeout=20)
    assert (waiting.returncode, out, err) == (0, b"", b"")
    assert run_cli("wait", "no-such-waiter", home=home).code == 252


def test_the_typer_path_runs_commands_too(made: Path, monkeypatch, capsys) -> None:
    # Lines the fast parser declines go to the Typer app, which must run them the same way.
    from lambdactl.cli.main import run_typer

    monkeypatch.setenv("LAMBDACTL_HOME", str(made))
    assert run_typer(["get-function", "--function-name", "f", "--query", "Configuration.FunctionName",
                      "--cli-read-timeout", "4", "--no-verify-ssl"]) == 0
    assert capsys.readouterr().out.strip() == '"f"'
    assert run_typer(["wait", "function-active-v2", "--function-name", "f"]) == 0


def test_aws_cli_connection_options_are_accepted(made: Path) -> None:
    for extra in (["--cli-read-timeout", "5"], ["--cli-connect-timeout", "0"], ["--no-verify-ssl"],
                  ["--ca-bundle", "/dev/null"], ["--cli-error-format", "legacy"], ["--no-sign-request"]):
        r = run_cli("get-function-configuration", "--function-name", "f", *extra, home=made)
        assert r.code == 0 and r.json["FunctionName"] == "f", (extra, r.stderr)
    r = run_cli("get-function-configuration", "--function-name", "f", "--cli-read-timeout", "soon", home=made)
    assert r.code == 252
