"""lambdactl's Python runtime: runs INSIDE the sandbox on the function's own interpreter.

Started as `python -I -S /var/runtime/python_bootstrap.py OPT_DIR`. Loads the handler, then loops
on the Runtime API (`next` -> handler -> `response` | `error`). Standard library only, and only
C-level modules at start-up: `json` imports `re` and `socket` imports `enum` (~12 ms together on
a typical interpreter), so JSON goes through the `_json` accelerator and HTTP through `_socket`;
`json`, `logging` and `traceback` are imported only when used. Must run on Python 3.9 to 3.14.
"""

import _socket
import os
import sys
import time

TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
OPT_DIR = sys.argv[1] if len(sys.argv) > 1 else "/opt"
API = os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
PREFIX = "/2018-06-01/runtime/"


class RuntimeClient:
    """A minimal HTTP/1.1 client on one keep-alive socket (what the Runtime API needs)."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host, int(port))
        self.sock: _socket.socket | None = None  # in a function: never evaluated
        self.buf = b""

    def _connect(self):
        sock = self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        sock.connect(self.addr)
        self.buf = b""
        return sock

    def request(self, method, path, body=b"", headers=None):
        for attempt in (0, 1):
            sock = self.sock or self._connect()
            head = f"{method} {PREFIX}{path} HTTP/1.1\r\nHost: {API}\r\nContent-Length: {len(body)}\r\n"
            if headers:
                head += "".join("{}: {}\r\n".format(*kv) for kv in headers.items())
            try:
                sock.sendall(head.encode("latin-1") + b"\r\n" + body)
                return self._read_response(sock)
            except (ConnectionError, BrokenPipeError, EOFError):
                sock.close()
                self.sock = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _recv(self, sock):
        data = sock.recv(1048576)
        if not data:
            raise EOFError("Runtime API closed the connection")
        self.buf += data

    def _read_response(self, sock):
        while b"\r\n\r\n" not in self.buf:
            self._recv(sock)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._recv(sock)
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body


class _JsonContext:
    """What `_json.make_scanner` reads from a decoder (json.JSONDecoder's defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scan: "_json.make_scanner | None"
try:
    import _json

    # typeshed types the context as a scanner; the C code reads any object's attributes.
    _scan = _json.make_scanner(_JsonContext())  # type: ignore[arg-type]
    _make_encoder = _json.make_encoder
    _encode_str = _json.encode_basestring_ascii
except (ImportError, AttributeError, TypeError):  # an interpreter without the accelerator
    _scan = None

_WS = " \t\n\r"


def loads(data):
    """json.loads for a UTF-8 document, without importing json (unless it is malformed)."""
    if _scan is not None:
        try:
            s = data.decode("utf-8") if isinstance(data, bytes) else data
            start = len(s) - len(s.lstrip(_WS))
            obj, end = _scan(s, start)
            if not s[end:].strip(_WS):
                return obj
        except (StopIteration, UnicodeDecodeError, ValueError, SystemError):
            # SystemError: 3.10-3.11 _json cannot raise JSONDecodeError before json is imported
            pass
    import json

    return json.loads(data)  # the slow path, for its exact error messages


def dumps(obj):
    """json.dumps(obj, default=_default) through the C encoder."""
    if _scan is not None:
        try:
            encoder = _make_encoder({}, _default, _encode_str, None, ": ", ", ", False, False, True)
        except TypeError:  # a future _json with another signature
            encoder = None
        if encoder is not None:
            return "".join(encoder(obj, 0))
    import json

    return json.dumps(obj, default=_default)


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return f"{type(self).__name__}({self.__dict__!r})"


class Client(_Obj):
    pass


class ClientContext(_Obj):
    pass


class CognitoIdentity(_Obj):
    pass


def _client_context(text):
    if not text:
        return None
    doc = loads(text)
    c = doc.get("client") or None
    client = Client(
        installation_id=c.get("installation_id"), app_title=c.get("app_title"),
        app_version_name=c.get("app_version_name"), app_version_code=c.get("app_version_code"),
        app_package_name=c.get("app_package_name")) if c else None
    return ClientContext(client=client, custom=doc.get("custom"), env=doc.get("env"))


def _identity(text):
    doc = loads(text) if text else {}
    return CognitoIdentity(cognito_identity_id=doc.get("cognitoIdentityId"),
                           cognito_identity_pool_id=doc.get("cognitoIdentityPoolId"))


class LambdaContext:
    """The `context` argument, with the attributes Lambda's Python runtime gives it."""

    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_arn
        self.client_context = _client_context(client_context)
        self.identity = _identity(identity)
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn}])")


class FaultError(Exception):
    def __init__(self, error_type, message, trace=None):
        Exception.__init__(self, message)
        self.error_type, self.message, self.trace = error_type, message, trace or []


def _stack(tb, skip_bootstrap=True):
    import traceback

    frames = traceback.extract_tb(tb)
    kept = [f for f in frames if f.filename != __file__] if skip_bootstrap else frames
    return traceback.format_list(kept)


def _error_doc(error_type, message, request_id, trace):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": trace}


def _log_error(error_type, message, trace):
    lines = [f"[ERROR] {error_type}: {message}"]
    if trace:
        lines.append("Traceback (most recent call last):")
        lines.extend(t.rstrip("\n") for t in trace)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def load_handler(spec):
    """`app.handler`, `pkg.mod.handler` or `pkg/mod.handler` -> the callable, or FaultError."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {e}") from None
    modname = modname.replace("/", ".")
    if modname in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict",
                         f"Cannot use built-in module {modname} as a handler module")
    import importlib

    try:
        mod = importlib.import_module(modname)
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {(e.text or "").strip()}\n']
        raise FaultError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{modname}': {e}", trace) from None
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError",
                         f"Unable to import module '{modname}': {e}") from None
    except Exception as e:
        raise FaultError(type(e).__name__, str(e), _stack(sys.exc_info()[2])) from None
    fn = getattr(mod, fname, None)
    if fn is None:
        raise FaultError("Runtime.HandlerNotFound",
                         f"Handler '{fname}' missing on module '{modname}'")
    return fn


_logging_ready = False


class _RequestIdFilter:
    request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


_request_filter = _RequestIdFilter()


def _setup_logging():
    """Lambda's log format for the root logger, once the function has imported `logging`."""
    global _logging_ready
    if _logging_ready or "logging" not in sys.modules:
        return
    import logging

    handler = logging.StreamHandler(sys.stdout)
    fmt = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t"
                            "%(message)s", "%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    handler.addFilter(_request_filter)
    logging.getLogger().addHandler(handler)
    _logging_ready = True


class _LoggingImportHook:
    """Configures `logging` the moment the function imports it, before its next line runs.

    Lambda's runtime installs its root handler before loading the handler module, so a
    function's `logging.basicConfig()` is a no-op there; importing `logging` ourselves up front
    would cost ~6 ms of every cold start, so we wait for the function to import it.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            # Duck-typed (importlib.abc would cost the bootstrap an import): typeshed wants a Loader.
            spec.loader = _ConfiguringLoader(spec.loader)  # type: ignore[assignment]
        return spec


class _ConfiguringLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        sys.modules["logging"] = module  # _setup_logging imports it by name
        _setup_logging()

    def __getattr__(self, name):  # get_code, get_source, ... for tools that ask the loader
        return getattr(self.loader, name)


def _default(o):
    import decimal

    if isinstance(o, decimal.Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def main():
    major, minor = sys.version_info[:2]
    sys.path[:0] = [TASK_ROOT, f"{OPT_DIR}/python/lib/python{major}.{minor}/site-packages",
                    f"{OPT_DIR}/python"]
    # Output must reach the pipe before the response is posted, or it lands in the next
    # invocation's log; line buffering keeps print() cheap and ordered.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper; typeshed: TextIO
    if "logging" not in sys.modules:
        sys.meta_path.insert(0, _LoggingImportHook())
    client = RuntimeClient(API)
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultError as e:
        _log_error(e.error_type, e.message, e.trace)
        body = dumps(_error_doc(e.error_type, e.message, "", e.trace)).encode()
        client.request("POST", "init/error", body,
                       {"Lambda-Runtime-Function-Error-Type": e.error_type})
        sys.exit(1)
    while True:
        _setup_logging()
        status, h, event = client.request("GET", "invocation/next")
        if status != 200:
            sys.stderr.write(f"Runtime API next failed: {status} {event!r}\n")
            sys.exit(1)
        rid = h["lambda-runtime-aws-request-id"]
        os.environ["_X_AMZN_TRACE_ID"] = h.get("lambda-runtime-trace-id", "")
        _request_filter.request_id = rid
        ctx = LambdaContext(rid, int(h.get("lambda-runtime-deadline-ms", "0")),
                            h.get("lambda-runtime-invoked-function-arn"),
                            h.get("lambda-runtime-client-context"),
                            h.get("lambda-runtime-cognito-identity"))
        try:
            result = handler(loads(event) if event else {}, ctx)
        except Exception as e:
            etype, msg = type(e).__name__, str(e)
            trace = _stack(sys.exc_info()[2])
            _finish_error(client, rid, etype, msg, trace)
            continue
        try:
            body = dumps(result).encode()
        except Exception as e:  # noqa: BLE001 - too deep (RecursionError), a failing default, ...
            _finish_error(client, rid, "Runtime.MarshalError",
                          f"Unable to marshal response: {e}", [])
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        client.request("POST", f"invocation/{rid}/response", body)


def _finish_error(client, rid, etype, msg, trace):
    _log_error(etype, msg, trace)
    sys.stderr.flush()
    body = dumps(_error_doc(etype, msg, rid, trace)).encode()
    client.request("POST", f"invocation/{rid}/error", body,
                   {"Lambda-Runtime-Function-Error-Type": etype})


if __name__ == "__main__":
    main()
