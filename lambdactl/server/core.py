"""`lambdactl serve`: the Lambda endpoint on loopback.

A thread per keep-alive connection reads requests with `httpwire`, routes REST API calls through
`rest` to a per-thread `Service` (SQLite connections are not shared between threads) whose
invocations draw on one shared `WarmPool`. Writes `server.json` in the home so the CLI can find
it, and on stop shuts every environment down and removes the file.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from typing import Any

from .. import __version__, sigv4
from ..errors import LambdaError
from ..httpwire import BadRequest, Conn, Request, read_request, response
from ..models import new_uuid
from ..settings import SERVER_FILE, Settings, read_server_file  # noqa: F401 - re-exported
from . import function_urls
from .pool import WarmPool
from .rest import Router, build_request, build_response, error_response, parse_target

MAX_BODY_BYTES = 70_167_211 + 1024  # CreateFunction's body limit, with room for the envelope
HEALTH_PATH = "/lambdactl/health"
# Operations after which warm or provisioned environments must follow the registry.
ENVIRONMENT_CHANGES = frozenset({
    "DeleteFunction", "PutProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig",
    "PutFunctionConcurrency", "DeleteFunctionConcurrency",
})


class LambdaServer:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 9001, *, idle_timeout_s: float | None = None,
                 require_auth: bool = False) -> None:
        from ..cli._spec import implemented_operations

        self.settings = settings
        self.router = Router(implemented_operations())
        self.require_auth = require_auth
        self.credentials = sigv4.credentials(settings.get("server.credentials"))  # ValueError if malformed
        if require_auth and not self.credentials:
            raise ValueError('--require-auth needs access keys in config.toml: [server.credentials] AKID = "secret"')
        from ..service import access

        # Config keys for the user; each function's own credentials for what runs inside one;
        # the home's link key for code downloads.
        try:
            secret = access.home_secret(settings)
        except LambdaError as exc:
            raise ValueError(exc.message) from None
        self.keys = access.Keychain(secret, self.credentials)
        self.link_keys = access.link_lookup(secret)
        timeout = idle_timeout_s if idle_timeout_s is not None else float(settings.get("server.idle_timeout_s", 300))
        self.pool = WarmPool(idle_timeout_s=timeout)
        self._local = threading.local()
        self._services: list[Any] = []
        self._listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}"
        # Every FunctionUrl this server prints names where it really listens (--port 0 included).
        settings.config = {**settings.config, "server": {**settings.get("server", {}), "host": host, "port": self.port}}
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._accept_thread: threading.Thread | None = None
        from ..service import Service
        from ..service.logs import BatchingSink

        self.log_sink = BatchingSink(lambda: Service(self.settings))
        from .leases import LeaseCache

        self.leases = LeaseCache(lambda: Service(self.settings))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._accept_thread = threading.Thread(target=self._accept_loop, name="lambda-accept", daemon=True)
        self._accept_thread.start()
        self._write_server_file()
        threading.Thread(target=self.provision, name="provision", daemon=True).start()
        from ..service import Service, storage

        threading.Thread(target=storage.at_serve_start, args=(Service(self.settings),), name="storage-sweep", daemon=True).start()

    def _write_server_file(self) -> None:
        from ..settings import ensure_home, write_private

        ensure_home(self.settings.home)
        info = {"pid": os.getpid(), "host": self.host, "port": self.port, "url": self.url,
                "started": time.time(), "version": __version__, "require_auth": self.require_auth}
        write_private(self.settings.home / SERVER_FILE, json.dumps(info).encode("utf-8"))

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.pool.shutdown()
        self.leases.close()
        self.log_sink.close()
        path = self.settings.home / SERVER_FILE
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the server has stopped, waiting up to `timeout` seconds (None: until it has)."""
        return self._stopped.wait(timeout)

    # -- connections ----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(sock)
            threading.Thread(target=self._serve, args=(sock, peer), daemon=True, name="lambda-conn").start()

    def _serve(self, sock: socket.socket, peer: Any) -> None:
        conn = Conn(sock)
        try:
            while not self._stopped.is_set():
                req = read_request(conn, MAX_BODY_BYTES)
                if req is None:
                    return
                req.peer = peer
                out = self.handle(req)
                sock.sendall(out)
                if not req.keep_alive:
                    return
        except (OSError, BadRequest):
            return
        finally:
            with self._lock:
                self._conns.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def service(self) -> Any:
        svc = getattr(self._local, "svc", None)
        if svc is None:
            from ..service import Service

            svc = Service(self.settings, host_paths=False, endpoint_url=self.url)
            svc.environments = self.pool  # type: ignore[attr-defined]
            svc.log_sink = self.log_sink  # type: ignore[attr-defined]
            svc.leases = self.leases  # type: ignore[attr-defined]
            self._local.svc = svc
        return svc

    # -- requests -------------------------------------------------------------------------------

    def handle(self, req: Request) -> bytes:
        request_id = new_uuid()
        path, query = parse_target(req.target)
        keep = req.keep_alive
        try:
            url = function_urls.match(req)
            if url is not None:
                return function_urls.handle(self, req, *url, request_id)
            if path.startswith("/lambdactl/"):
                return self._local_route(req, path, request_id, keep)
            if self.require_auth:
                try:
                    sigv4.verify(req.method, req.target, req.headers, req.body, self.keys)
                except sigv4.SignatureError as exc:
                    raise LambdaError(exc.code, exc.message, exc.status) from None
            matched = self.router.match(req.method, path, query)
            if matched is None:
                raise LambdaError("UnknownOperationException", f"Unknown operation {req.method} {path}", 404)
            route, params = matched
            if req.truncated:
                raise LambdaError("RequestEntityTooLargeException", "Request must be smaller than 70167211 bytes for the operation", 413)
            request = build_request(route, params, query, req.headers, req.body)
            result = self.service().call(route.op, request)
            if route.op in ENVIRONMENT_CHANGES:
                self._after_change(route.op, request)
            status, headers, body = build_response(route, result)
        except LambdaError as exc:
            status, headers, body = error_response(exc)
        except Exception as exc:  # noqa: BLE001 - one request's bug must not kill the connection
            status, headers, body = error_response(LambdaError("ServiceException", f"Internal error: {type(exc).__name__}: {exc}", 500))
            print(f"lambdactl serve: {request_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
        headers.append(("x-amzn-RequestId", request_id))
        return response(status, body, headers, close=not keep)

    # -- environments follow the registry ------------------------------------------------------

    def _after_change(self, op: str, request: dict[str, Any]) -> None:
        """Keep warm environments in step with what an operation changed."""
        from ..service.functions import resolve_function_name

        try:
            name, qualifier = resolve_function_name(self.service(), request.get("FunctionName"), request.get("Qualifier"))
        except LambdaError:
            return
        if op in ("PutFunctionConcurrency", "DeleteFunctionConcurrency", "DeleteFunction"):
            self.leases.forget(name)
        if op == "DeleteFunction" and qualifier is None:
            self.pool.retire(name, provisioned=True)
        elif op in ("PutProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig"):
            # As on AWS, the call answers at once and the environments come up behind it.
            def reprovision() -> None:
                self.pool.unprovision((name,))
                self.provision(name)

            threading.Thread(target=reprovision, name="provision", daemon=True).start()

    def provision(self, name: str | None = None) -> None:
        """Start the environments that provisioned-concurrency configs ask for (all functions, or
        one), initialised with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency."""
        from ..service.concurrency import provisioned_targets, set_provisioned_status
        from ..service.functions import resolve_version
        from ..service.invoke import build_spec, environment_key, find_local_runtime

        svc = self.service()
        for function, qualifier, requested in provisioned_targets(svc, name):
            try:
                version, stored = resolve_version(svc, function, qualifier)
                runtime = find_local_runtime(svc, stored["Runtime"])
                key = environment_key(function, version, stored)
                ready = self.pool.provision(
                    key, lambda stored=stored, version=version: build_spec(svc, stored, version), runtime, requested
                )
                status, reason = ("READY", None) if ready == requested else ("FAILED", f"{requested - ready} of {requested} environments failed to initialise")
            except LambdaError as exc:
                status, reason = "FAILED", exc.message
            set_provisioned_status(svc, function, qualifier, status, reason)

    def _local_route(self, req: Request, path: str, request_id: str, keep: bool) -> bytes:
        """lambdactl's own endpoints: health, and the code/layer downloads `Code.Location` names."""
        if path == HEALTH_PATH:
            body = json.dumps({"status": "ok", "pid": os.getpid(), "version": __version__, "pool": self.pool.stats()}).encode()
            return response(200, body, [("x-amzn-RequestId", request_id)], close=not keep)
        for prefix, directory in (("/lambdactl/code/", self.settings.code_dir), ("/lambdactl/layers/", self.settings.layers_dir)):
            if path.startswith(prefix):
                # The presignature is the authorisation, with or without --require-auth.
                try:
                    sigv4.verify_presigned(req.method, req.target, req.headers, self.link_keys)
                except sigv4.SignatureError as exc:
                    return response(exc.status, exc.s3_document(request_id), [("Content-Type", "application/xml")], close=not keep)
                name = path[len(prefix):]
                if len(name) == 68 and name.endswith(".zip") and all(c in "0123456789abcdef" for c in name[:64]):
                    try:
                        data = (directory / name).read_bytes()
                    except OSError:
                        break
                    return response(200, data, [("Content-Type", "application/zip")], close=not keep)
        return response(404, b'{"message":"Not Found"}', [("x-amzn-ErrorType", "ResourceNotFoundException")], close=not keep)
