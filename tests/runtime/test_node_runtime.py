"""Our Node.js bootstrap: async, callback and ESM handlers, context, errors, on every local node."""

from __future__ import annotations

import json
import time

import pytest
from _engine_helpers import NODE_IDS

INDEX_JS = r'''
let calls = 0;
exports.handler = async (event, context) => {
  calls += 1;
  console.log('got', JSON.stringify(event));
  return {
    event, calls,
    functionName: context.functionName, functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId, logGroupName: context.logGroupName,
    logStreamName: context.logStreamName, remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop, clientContext: context.clientContext,
    identity: context.identity, nodePath: process.env.NODE_PATH, trace: process.env._X_AMZN_TRACE_ID,
    major: process.versions.node.split('.')[0],
  };
};
exports.callback = (event, context, callback) => {
  setTimeout(() => console.log('timer ran before the response'), 30);
  callback(null, { style: 'callback' });
};
exports.noWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 5000);
  callback(null, 'quick');
};
exports.fails = async () => { throw new TypeError('bad thing'); };
exports.nested = { deeper: { fn: async () => 'nested ok' } };
exports.notfn = 42;
'''


def node_files() -> dict[str, str]:
    return {
        "index.js": INDEX_JS,
        "src/app.js": "exports.fn = async (e) => ({ where: 'src/app.js', e });\n",
        "esm/index.mjs": "export const handler = async () => ({ esm: 'mjs' });\n",
        "mod/package.json": '{"type": "module"}\n',
        "mod/index.js": "export const handler = async () => ({ esm: 'type-module' });\n",
        "broken.js": "exports.handler = async () => {\n",
        "requires.js": "require('left-pad');\nexports.handler = async () => 1;\n",
    }


@pytest.mark.parametrize("runtime", NODE_IDS)
def test_async_handler_context(make_env, runtime):
    env = make_env(node_files(), runtime=runtime, handler="index.handler", memory_mb=512,
                   timeout_s=5)
    cc = json.dumps({"client": {"app_title": "t"}, "custom": {"a": 1}, "env": {}})
    out = env.invoke(b'{"x": 1}', request_id="node-1", client_context=cc,
                     cognito_identity=json.dumps({"cognitoIdentityId": "i", "cognitoIdentityPoolId": "p"}))
    assert out.status == "success", out
    doc = json.loads(out.payload)
    assert doc["event"] == {"x": 1} and doc["calls"] == 1
    assert doc["major"] == runtime.removeprefix("nodejs").removesuffix(".x")
    assert doc["functionName"] == "fn" and doc["functionVersion"] == "$LATEST"
    assert doc["memoryLimitInMB"] == "512" and doc["awsRequestId"] == "node-1"
    assert doc["invokedFunctionArn"].endswith(":function:fn")
    assert doc["logGroupName"] == "/aws/lambda/fn"
    assert 4000 < doc["remaining"] <= 5000
    assert doc["waits"] is True
    assert doc["clientContext"]["client"] == {"app_title": "t"}
    assert doc["clientContext"]["custom"] == {"a": 1}
    assert doc["identity"] == {"cognitoIdentityId": "i", "cognitoIdentityPoolId": "p"}
    major = doc["major"]
    assert doc["nodePath"].startswith(f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules")
    assert doc["trace"].startswith("Root=1-")
    assert b"\tnode-1\tINFO\tgot {\"x\":1}\n" in out.log
    assert json.loads(env.invoke(b"{}").payload)["calls"] == 2


@pytest.mark.parametrize(("handler", "expected"), [
    ("src/app.fn", {"where": "src/app.js", "e": {}}),
    ("esm/index.handler", {"esm": "mjs"}),
    ("mod/index.handler", {"esm": "type-module"}),
    ("index.nested.deeper.fn", "nested ok"),
])
def test_module_forms(make_env, handler, expected):
    env = make_env(node_files(), runtime="nodejs20.x", handler=handler)
    out = env.invoke(b"{}")
    assert out.status == "success", out
    assert json.loads(out.payload) == expected


def test_callback_waits_for_event_loop(make_env):
    env = make_env(node_files(), runtime="nodejs20.x", handler="index.callback")
    out = env.invoke(b"{}")
    assert json.loads(out.payload) == {"style": "callback"}
    assert b"timer ran before the response" in out.log


def test_callback_without_waiting(make_env):
    env = make_env(node_files(), runtime="nodejs20.x", handler="index.noWait", timeout_s=3)
    out = env.invoke(b"{}")
    assert out.status == "success" and out.payload == b'"quick"'
    assert out.duration_ms < 2000


def test_callback_handlers_refused_on_nodejs24(make_env, tmp_path):
    # The runtime id decides (nodejs24.x removed callbacks), whichever local node runs it.
    from _engine_helpers import runtime_or_skip

    info = runtime_or_skip("nodejs20.x")
    env = make_env(node_files(), runtime="nodejs24.x", handler="index.callback", info=info)
    out = env.invoke(b"{}")
    assert out.error_type == "Runtime.CallbackHandlerDeprecated"


def test_unhandled_error_shape(make_env):
    env = make_env(node_files(), runtime="nodejs20.x", handler="index.fails")
    out = env.invoke(b"{}")
    assert out.function_error == "Unhandled" and out.error_type == "TypeError"
    doc = json.loads(out.payload)
    assert set(doc) == {"errorType", "errorMessage", "trace"}
    assert doc["errorMessage"] == "bad thing"
    assert doc["trace"][0] == "TypeError: bad thing"
    assert any(line.strip().startswith("at ") and "/index.js:" in line for line in doc["trace"])
    assert out.environment_reusable


@pytest.mark.parametrize(("handler", "etype", "message"), [
    ("index.missing", "Runtime.HandlerNotFound", "index.missing is undefined or not exported"),
    ("index.notfn", "Runtime.HandlerNotFound", "index.notfn is not a function"),
    ("nothere.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nothere'"),
    ("requires.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'left-pad'"),
    ("broken.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    ("nodots", "Runtime.MalformedHandlerName", "Bad handler"),
])
def test_init_errors(make_env, handler, etype, message):
    env = make_env(node_files(), runtime="nodejs20.x", handler=handler)
    out = env.invoke(b"{}")
    assert out.error_type == etype, out
    doc = json.loads(out.payload)
    assert doc["errorType"] == etype and doc["errorMessage"].startswith(message)
    assert env.state.value == "Dead"


def test_layer_node_modules(make_env):
    layer = {"nodejs/node_modules/greeter/index.js": "module.exports = () => 'from layer';\n"}
    env = make_env({"index.js": "const g = require('greeter');\n"
                                "exports.handler = async () => g();\n"},
                   runtime="nodejs20.x", handler="index.handler", layers=layer)
    assert env.invoke(b"{}").payload == b'"from layer"'


def test_fallback_mode_runs_node(make_env):
    from lambdactl.runtime.sandbox import SandboxMode

    env = make_env(node_files(), runtime="nodejs20.x", handler="esm/index.handler",
                   env_mode=SandboxMode("fallback", None, None, "test"))
    assert json.loads(env.invoke(b"{}").payload) == {"esm": "mjs"}


def test_a_handler_that_never_answers_returns_null_when_the_loop_drains(make_env):
    # The official runtime client's default beforeExit listener: nothing left to run and no
    # answer means a null response, and the environment stays warm.
    files = {"index.js": "exports.handler = () => new Promise(() => {});\n"
                         "exports.cb = (e, c, callback) => {};\n"}
    for handler in ("index.handler", "index.cb"):  # a promise never settled, a callback never called
        env = make_env(files, runtime="nodejs20.x", handler=handler, timeout_s=5)
        out = env.invoke(b"{}", request_id="pend")
        assert (out.status, out.payload, out.duration_ms < 4000) == ("success", b"null", True), (handler, out)
        assert env.invoke(b'{"again": 1}').payload == b"null"
        assert env.invocations == 2 and out.environment_reusable


def test_uncaught_exception_fails_the_invocation_and_resets(make_env):
    env = make_env({"index.js": "exports.handler = () => new Promise(() => {\n"
                                "  setTimeout(() => { throw new RangeError('async boom'); }, 10);\n"
                                "});\n"},
                   runtime="nodejs20.x", handler="index.handler")
    out = env.invoke(b"{}")
    assert out.function_error == "Unhandled" and out.error_type == "RangeError", out
    assert json.loads(out.payload)["errorMessage"] == "async boom"
    deadline = time.monotonic() + 5
    while env.state.value != "Dead" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert env.state.value == "Dead"  # Lambda restarts the runtime after an uncaught error


def test_unhandled_rejection(make_env):
    env = make_env({"index.js": "exports.handler = async () => {\n"
                                "  Promise.reject(new Error('nobody catches me'));\n"
                                "  await new Promise((r) => setTimeout(r, 50));\n"
                                "  return 'late';\n};\n"},
                   runtime="nodejs20.x", handler="index.handler")
    out = env.invoke(b"{}")
    assert out.error_type == "Runtime.UnhandledPromiseRejection", out
