"""Our Python bootstrap gives the Lambda handler contract on every local Python 3.10-3.14."""

from __future__ import annotations

import base64
import json

import pytest
from _engine_helpers import ACCOUNT, DEFAULT_MINOR, PYTHON_IDS

CONTEXT_APP = '''
import os, sys, time
STARTED = time.time()
calls = []

def handler(event, context):
    calls.append(event)
    cc = context.client_context
    ident = context.identity
    return {
        "event": event,
        "calls": len(calls),
        "started": STARTED,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client": None if cc is None else {"app_title": cc.client.app_title, "custom": cc.custom,
                                            "env": cc.env},
        "cognito": [ident.cognito_identity_id, ident.cognito_identity_pool_id],
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "env": dict(os.environ),
        "version": "%d.%d" % sys.version_info[:2],
        "path": sys.path[:3],
        "cwd": os.getcwd(),
    }
'''


@pytest.mark.parametrize("runtime", PYTHON_IDS)
def test_context_and_environment(make_env, runtime):
    env = make_env({"app.py": CONTEXT_APP}, runtime=runtime, memory_mb=256, timeout_s=7,
                   env={"GREETING": "hi", "AWS_REGION": "xx-fake-1"})
    minor = runtime.removeprefix("python")
    cc = {"client": {"app_title": "t", "installation_id": "i"}, "custom": {"k": "v"},
          "env": {"e": 1}}
    out = env.invoke(b'{"n": 1}', request_id="req-1", client_context=json.dumps(cc),
                     cognito_identity=json.dumps({"cognitoIdentityId": "id1",
                                                  "cognitoIdentityPoolId": "pool1"}),
                     invoked_function_arn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:fn:live")
    assert out.status == "success", out
    doc = json.loads(out.payload)
    assert doc["event"] == {"n": 1}
    assert doc["version"] == minor
    assert doc["function_name"] == "fn"
    assert doc["function_version"] == "$LATEST"
    assert doc["invoked_function_arn"].endswith(":function:fn:live")
    assert doc["memory_limit_in_mb"] == "256"
    assert doc["aws_request_id"] == "req-1"
    assert doc["log_group_name"] == "/aws/lambda/fn"
    assert doc["log_stream_name"].startswith("2024/01/01/[$LATEST]")
    assert 6000 < doc["remaining"] <= 7000
    assert doc["client"] == {"app_title": "t", "custom": {"k": "v"}, "env": {"e": 1}}
    assert doc["cognito"] == ["id1", "pool1"]
    assert doc["trace"].startswith("Root=1-")
    e = doc["env"]
    assert e["GREETING"] == "hi"
    assert e["AWS_REGION"] == "eu-west-1"  # reserved: the function cannot override it
    assert e["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert e["_HANDLER"] == "app.handler"
    assert e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert e["TZ"] == ":UTC"
    assert e["AWS_SECRET_ACCESS_KEY"] != "caller-secret-must-not-leak"
    assert "LAMBDACTL_TEST_HOST_ONLY" not in e and "HOME" not in e
    assert doc["path"][0] == e["LAMBDA_TASK_ROOT"]
    assert doc["cwd"] == e["LAMBDA_TASK_ROOT"]
    # no client context / identity given: None and empty identity, as Lambda
    out2 = env.invoke(b"{}")
    doc2 = json.loads(out2.payload)
    assert doc2["client"] is None and doc2["cognito"] == [None, None]
    assert doc2["calls"] == 2 and doc2["started"] == doc["started"]  # INIT once, globals kept
    assert out.init_duration_ms is not None and out2.init_duration_ms is None


def test_many_invocations_one_init(make_env):
    env = make_env({"app.py": "import time\nn = 0\nT0 = time.time()\n"
                              "def handler(e, c):\n    global n\n    n += 1\n"
                              "    print('call', n)\n    return [n, T0]\n"})
    outs = [env.invoke(b"{}") for _ in range(50)]
    counts = [json.loads(o.payload)[0] for o in outs]
    assert counts == list(range(1, 51))
    assert len({json.loads(o.payload)[1] for o in outs}) == 1
    assert [o.log for o in outs[:3]] == [b"call 1\n", b"call 2\n", b"call 3\n"]
    assert all(o.environment_reusable for o in outs)
    assert env.invocations == 50


@pytest.mark.parametrize("runtime", PYTHON_IDS)
def test_unhandled_exception_shape(make_env, runtime):
    env = make_env({"app.py": "def handler(e, c):\n    raise ValueError('boom')\n"},
                   runtime=runtime)
    out = env.invoke(b"{}", request_id="r-err")
    assert out.status == "error" and out.function_error == "Unhandled"
    assert out.error_type == "ValueError"
    doc = json.loads(out.payload)
    assert set(doc) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert doc["errorMessage"] == "boom" and doc["requestId"] == "r-err"
    assert 'app.py", line 2, in handler' in doc["stackTrace"][0]
    assert "python_bootstrap" not in "".join(doc["stackTrace"])
    assert b"[ERROR] ValueError: boom" in out.log
    assert out.environment_reusable  # a handled failure does not reset the environment
    assert env.invoke(b"{}").error_type == "ValueError"


@pytest.mark.parametrize(("files", "handler", "etype", "message"), [
    ({"app.py": "x = 1\n"}, "nothere.handler", "Runtime.ImportModuleError",
     "Unable to import module 'nothere': No module named 'nothere'"),
    ({"app.py": "x = 1\n"}, "app.h", "Runtime.HandlerNotFound",
     "Handler 'h' missing on module 'app'"),
    ({"app.py": "x = 1\n"}, "nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
    ({"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler",
     "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"),
    ({"app.py": "import not_packaged_module\n"}, "app.handler", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'not_packaged_module'"),
    ({"app.py": "raise RuntimeError('init failed')\n"}, "app.handler", "RuntimeError",
     "init failed"),
])
def test_init_errors(make_env, files, handler, etype, message):
    env = make_env(files, handler=handler)
    out = env.invoke(b"{}")
    assert out.status == "error" and out.function_error == "Unhandled"
    assert out.error_type == etype
    doc = json.loads(out.payload)
    assert doc["errorType"] == etype and doc["requestId"] == ""
    assert doc["errorMessage"].startswith(message)
    assert not out.environment_reusable
    assert env.state.value == "Dead"
    with pytest.raises(Exception, match="Dead"):
        env.invoke(b"{}")


def test_host_site_packages_are_not_visible(make_env):
    # pytest is installed for the interpreter running the tests, never for the function.
    env = make_env({"app.py": "def handler(e, c):\n    import pytest\n"}, runtime="python3.11")
    out = env.invoke(b"{}")
    assert out.error_type == "ModuleNotFoundError"


@pytest.mark.parametrize("handler", ["pkg/mod.handler", "pkg.mod.handler"])
def test_nested_handler_names(make_env, handler):
    env = make_env({"pkg/__init__.py": "", "pkg/mod.py": "def handler(e, c):\n    return 'nested'\n"},
                   handler=handler)
    assert env.invoke(b"{}").payload == b'"nested"'


def test_layers_on_sys_path(make_env):
    layer = {"python/shared.py": "VALUE = 'from /opt/python'\n",
             f"python/lib/python{DEFAULT_MINOR}/site-packages/dep.py": "VALUE = 'from site-packages'\n"}
    env = make_env({"app.py": "import shared, dep\n"
                              "def handler(e, c):\n    return [shared.VALUE, dep.VALUE]\n"},
                   layers=layer)
    assert json.loads(env.invoke(b"{}").payload) == ["from /opt/python", "from site-packages"]


def test_marshal_error_and_decimal(make_env):
    env = make_env({"app.py": "import decimal\n"
                              "def handler(e, c):\n"
                              "    return {1, 2} if e.get('bad') else decimal.Decimal('1.5')\n"})
    out = env.invoke(b'{"bad": true}')
    assert out.error_type == "Runtime.MarshalError"
    assert json.loads(out.payload)["errorMessage"].startswith("Unable to marshal response")
    assert env.invoke(b"{}").payload == b"1.5"


def test_results_too_deep_to_encode_are_marshal_errors_not_crashes(make_env):
    env = make_env({"app.py": "def handler(e, c):\n"
                              "    deep = []\n"
                              "    for _ in range(100000):\n"
                              "        deep = [deep]\n"
                              "    return deep\n"})
    out = env.invoke(b"{}")
    assert out.error_type == "Runtime.MarshalError", out
    assert out.environment_reusable and env.invoke(b"{}").error_type == "Runtime.MarshalError"


def test_logging_format_and_print_order(make_env):
    env = make_env({"app.py": "import logging, sys\nlogging.getLogger().setLevel(logging.INFO)\n"
                              "def handler(e, c):\n    print('one')\n"
                              "    logging.info('two %s', 2)\n    print('three', file=sys.stderr)\n"
                              "    return None\n"})
    out = env.invoke(b"{}", request_id="rid-log")
    assert out.payload == b"null"
    lines = out.log.decode().splitlines()
    assert lines[0] == "one"
    assert lines[1].startswith("[INFO]\t") and lines[1].endswith("\trid-log\ttwo 2")
    assert lines[-1] == "three"


def test_response_too_large(make_env):
    env = make_env({"app.py": "def handler(e, c):\n"
                              "    return 'x' * (e['n'])\n"})
    big = env.invoke(b'{"n": 7000000}')
    assert big.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(big.payload) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes)."}
    assert big.environment_reusable
    ok = env.invoke(b'{"n": 6000000}')  # just under the limit (plus quotes) passes
    assert ok.status == "success" and len(ok.payload) == 6000002


def test_binary_safe_payload_roundtrip(make_env):
    env = make_env({"app.py": "def handler(e, c):\n    return e\n"})
    payload = json.dumps({"s": "h\u00e9llo \u2603", "b": base64.b64encode(bytes(range(256))).decode()})
    assert json.loads(env.invoke(payload.encode()).payload) == json.loads(payload)


def test_fallback_mode_contract(make_env):
    from lambdactl.runtime.sandbox import SandboxMode

    env = make_env({"app.py": CONTEXT_APP}, env_mode=SandboxMode("fallback", None, None, "test"),
                   layers={"python/extra.py": "X = 1\n"})
    doc = json.loads(env.invoke(b'{"n": 1}').payload)
    e = doc["env"]
    # the weaker mode has no mount namespace: host paths, but still no host variables
    assert e["LAMBDA_TASK_ROOT"] == str(env.spec.task_root) == doc["cwd"]
    assert e["TMPDIR"].startswith("/") and "HOME" not in e and "LAMBDACTL_TEST_HOST_ONLY" not in e
    assert doc["path"] == [e["LAMBDA_TASK_ROOT"],
                           f"{env.spec.opt_root}/python/lib/python{DEFAULT_MINOR}/site-packages",
                           f"{env.spec.opt_root}/python"]


@pytest.mark.parametrize("runtime", PYTHON_IDS)
def test_init_errors_on_every_version(make_env, runtime):
    env = make_env({"app.py": "def handler(e, c)\n    return 1\n"}, runtime=runtime)
    assert env.invoke(b"{}").error_type == "Runtime.UserCodeSyntaxError"
    env = make_env({"app.py": "x = 1\n"}, runtime=runtime, handler="missing.handler")
    doc = json.loads(env.invoke(b"{}").payload)
    assert doc["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"


@pytest.mark.parametrize("runtime", PYTHON_IDS)
def test_malformed_event_json_is_a_function_error(make_env, runtime):
    env = make_env({"app.py": "def handler(e, c):\n    return e\n"}, runtime=runtime)
    out = env.invoke(b'{"unterminated": ')
    assert out.function_error == "Unhandled" and "JSONDecodeError" in out.error_type
    assert env.invoke(b'[1, 2.5, "\\u00e9", null]').payload == b'[1, 2.5, "\\u00e9", null]'


@pytest.mark.parametrize("runtime", PYTHON_IDS)
def test_basic_config_is_a_no_op_as_on_lambda(make_env, runtime):
    env = make_env({"app.py": "import logging\nlogging.basicConfig(level=logging.DEBUG)\n"
                              "log = logging.getLogger()\nlog.setLevel(logging.INFO)\n"
                              "def handler(e, c):\n    log.info('once')\n    return 1\n"},
                   runtime=runtime)
    out = env.invoke(b"{}", request_id="bc")
    lines = out.log.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[INFO]\t") and lines[0].endswith("\tbc\tonce")
