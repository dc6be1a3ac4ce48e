"""Run one `aws lambda`-style command: assemble the request, call the service, render the answer.

Shared by the fast parser and the Typer app, so both behave identically: --cli-input-json,
--generate-cli-skeleton, required-parameter checks and botocore's client-side validation,
client-side pagination (--max-items, --starting-token, --page-size), waiters (`_wait`), --query,
--output and the outfile of `invoke`.
"""

from __future__ import annotations

import json
import sys
import time

from ..errors import LambdaError
from ._errors import ExitStatus, other_error, service_error, usage_error
from ._options import BINARY_FORMATS, COLORS, SKELETON_CHOICES, GlobalOptions
from ._spec import CommandSpec
from ._values import ParamError, convert, read_file_value, text_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _finish(svc: Any) -> None:
    """Close the registry connection, unless the process ends right after a command that wrote
    nothing. Closing the last connection checkpoints the WAL (what makes a command's writes
    durable with synchronous=NORMAL, so a command that wrote always closes) and deletes the WAL
    and its index, which the next command then creates again: about 5 ms of a read-only command.
    """
    from . import main

    if main.PROCESS_ENDS_AFTER_COMMAND and getattr(svc, "unchanged", lambda: False)():
        return
    svc.close()


def _debug(opts: GlobalOptions, message: str) -> None:
    if opts.debug:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        sys.stderr.write(f"{stamp} - lambdactl - DEBUG - {message}\n")


# The structures whose ZipFile the AWS CLI moves to --zip-file (so it can read fileb://).
HOISTED_ZIP_FLAGS = ("--code", "--content")


def _set_path(request: dict[str, Any], member: str, value: Any) -> None:
    node = request
    parts = member.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ParamError(None, f"--{part.lower()} conflicts with a hoisted parameter")
    node[parts[-1]] = value


def _has_path(request: dict[str, Any], member: str) -> bool:
    node: Any = request
    for part in member.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _check_input_size(flag: str, loaded: dict[str, Any]) -> None:
    """Refuse an input document too large once expanded: YAML aliases share nodes, so a few
    kilobytes can stand for billions of values, which anything walking the request would visit."""
    from ..service._validate import MAX_REQUEST_NODES, expanded_size

    if expanded_size(loaded) > MAX_REQUEST_NODES:
        raise ParamError(flag, f"The input holds more than {MAX_REQUEST_NODES:,} values once its "
                               "aliases are expanded (or refers to itself)")


def build_request(
    cmd: CommandSpec, raw: dict[str, Any], opts: GlobalOptions
) -> dict[str, Any]:
    """Flag values (text, lists of text, booleans) -> the API request dict."""
    request: dict[str, Any] = {}
    if opts.cli_input_json:
        text = read_file_value("--cli-input-json", opts.cli_input_json)
        from .._jsontext import loads

        try:
            loaded = loads(text)
        except ValueError as exc:
            raise ParamError("--cli-input-json", f"Invalid JSON received: {exc}") from None
        if not isinstance(loaded, dict):
            raise ParamError("--cli-input-json", "The input must be a JSON object")
        _check_input_size("--cli-input-json", loaded)
        request.update(loaded)
    if opts.cli_input_yaml:
        import yaml

        text = read_file_value("--cli-input-yaml", opts.cli_input_yaml)
        try:
            loaded = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError) as exc:
            raise ParamError("--cli-input-yaml", f"Invalid YAML: {str(exc)[:500]}") from None
        if not isinstance(loaded, dict):
            raise ParamError("--cli-input-yaml", "The input must be a YAML mapping")
        _check_input_size("--cli-input-yaml", loaded)
        request.update(loaded)
    if request:
        # Input documents reach the request unchecked by the model: refuse what the service
        # would (lone surrogates, nesting too deep for the code that walks a request) now.
        from ..service._validate import check_request

        check_request(request)
    binary_format = opts.cli_binary_format or "raw-in-base64-out"
    for p in cmd.params:
        if p.dest not in raw or raw[p.dest] is None:
            continue
        value = raw[p.dest]
        if not p.is_bool:
            value = convert(p.flag, p.type, value, binary_format=binary_format, fileb_only=p.fileb_only,
                            member=p.member)
        if p.flag in HOISTED_ZIP_FLAGS and isinstance(value, dict) and "ZipFile" in value:
            raise ParamError(None, f"ZipFile cannot be provided as part of the {p.flag} argument.  "
                                   "Please use the '--zip-file' option instead to specify a zip file.")
        if p.flag == "--code-dir" and isinstance(value, str):
            import os

            # Absolute, so that a server in another working directory finds the same folder.
            value = os.path.abspath(os.path.expanduser(value))
        _set_path(request, p.member, value)
    # Blob members given as text in --cli-input-json follow --cli-binary-format, as in the AWS
    # CLI: base64 text is decoded (refused when it is not base64), raw-in-base64-out sends the
    # text's UTF-8 bytes.
    for p in cmd.params:
        if p.type == "blob" and p.dest not in raw and _has_path(request, p.member):
            node: Any = request
            parts = p.member.split(".")
            for part in parts[:-1]:
                node = node[part]
            if isinstance(node[parts[-1]], str):
                node[parts[-1]] = _input_blob(node[parts[-1]], binary_format)
    missing = [p.flag for p in cmd.params if p.required and not _has_path(request, p.member)]
    if cmd.operation == "CreateFunction" and "Code" not in request:
        missing.append("--code or --zip-file")
    if missing:
        raise ParamError(None, "lambdactl: error: the following arguments are required: " + ", ".join(missing))
    _check_minimums(cmd, request)
    return request


def _input_blob(text: str, binary_format: str) -> bytes:
    if binary_format == "base64":
        import base64
        import binascii

        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ParamError(None, f'Invalid base64: "{text[:200]}"', usage=False) from None
    return text_bytes(text)


def _check_minimums(cmd: CommandSpec, request: dict[str, Any]) -> None:
    """botocore's client-side check of the model's minimums (the AWS CLI refuses these with exit
    252 before any request is sent): a number below its `min`, a text or list shorter."""
    from ..api_model import operation

    problems: list[str] = []
    for member, meta in operation(cmd.operation)["input"].items():
        for path, minimum in (meta.get("mins") or {}).items():
            name = f"{member}.{path}" if path else member
            value: Any = request
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, (int, float)) and value < minimum:
                problems.append(f"Invalid value for parameter {name}, value: {value}, valid min value: {minimum}")
            elif isinstance(value, (str, list)) and len(value) < minimum:
                problems.append(f"Invalid length for parameter {name}, value: {len(value)}, valid min length: {minimum}")
    if problems:
        raise ParamError(None, "Parameter validation failed:\n" + "\n".join(problems))


def skeleton(cmd: CommandSpec, kind: str) -> str:
    def sample(t: Any) -> Any:
        if isinstance(t, dict):
            if "enum" in t:
                return t["enum"][0]
            if "structure" in t:
                return {k: sample(v) for k, v in t["structure"].items()}
            if "map" in t:
                return {"KeyName": sample(t["map"])}
            if "list" in t:
                return [sample(t["list"])]
        return {"integer": 0, "long": 0, "boolean": True, "double": 0.0, "float": 0.0}.get(str(t), "")

    from ..api_model import operation

    members = operation(cmd.operation)["input"]
    body = {m: sample(meta["type"]) for m, meta in members.items()}
    if kind == "yaml-input":
        import yaml

        text: str = yaml.safe_dump(body, sort_keys=False)  # yaml has no type information
        return text
    return json.dumps(body, indent=4)


def _check_options(opts: GlobalOptions) -> None:
    from ._output import FORMATS

    if opts.output is not None and opts.output not in FORMATS:
        raise ParamError("--output", f"Invalid choice: '{opts.output}', choose from: {', '.join(FORMATS)}")
    if opts.cli_binary_format is not None and opts.cli_binary_format not in BINARY_FORMATS:
        raise ParamError("--cli-binary-format", f"Invalid choice: '{opts.cli_binary_format}', choose from: {', '.join(BINARY_FORMATS)}")
    if opts.color not in COLORS:
        raise ParamError("--color", f"Invalid choice: '{opts.color}', choose from: {', '.join(COLORS)}")
    if opts.generate_cli_skeleton is not None and opts.generate_cli_skeleton not in SKELETON_CHOICES:
        raise ParamError("--generate-cli-skeleton", f"Invalid choice: '{opts.generate_cli_skeleton}', choose from: {', '.join(SKELETON_CHOICES)}")
    for flag, value in (("--max-items", opts.max_items), ("--page-size", opts.page_size)):
        if value is not None and (not value.isdigit() or int(value) < 1):
            raise ParamError(flag, f"invalid int value: '{value}'")
    for flag, value in (("--cli-read-timeout", opts.cli_read_timeout), ("--cli-connect-timeout", opts.cli_connect_timeout)):
        if value is not None and not value.isdigit():
            raise ParamError(flag, f"invalid int value: '{value}'")
    if opts.no_paginate:
        used = [flag for flag, value in (("--starting-token", opts.starting_token), ("--page-size", opts.page_size)) if value]
        if used:
            raise ParamError(None, f"Cannot specify --no-paginate along with pagination arguments: {', '.join(used)}",
                             usage=False)
    if opts.query:
        import jmespath
        from jmespath.exceptions import JMESPathError

        try:
            jmespath.compile(opts.query)
        except JMESPathError as exc:
            raise ParamError("--query", f"Bad value for --query {opts.query}: {exc}") from None


def _decode_token(token: str | None) -> tuple[str | None, int]:
    """A --starting-token as the AWS CLI reads it: its own base64 JSON, else an old-style
    `marker___index` token, else the service's own marker passed through unchanged (so a bad
    token is the service's error to report, as with `aws`)."""
    import base64
    import binascii

    if not token:
        return None, 0
    try:
        data = json.loads(base64.b64decode(token))
        if isinstance(data, dict):
            return data.get("Marker"), int(data.get("boto_truncate_amount", 0))
    except (ValueError, TypeError, binascii.Error):
        pass
    parts = token.split("___")
    index = 0
    if len(parts) == 2:
        try:
            index = int(parts.pop())
        except ValueError:
            parts = [token]
    marker = parts[0]
    return (None if marker == "None" else marker), index


def _encode_token(marker: str | None, skip: int) -> str:
    import base64

    data: dict[str, Any] = {"Marker": marker}
    if skip:
        data["boto_truncate_amount"] = skip
    return base64.b64encode(json.dumps(data).encode()).decode()


def paginate(svc: Any, cmd: CommandSpec, request: dict[str, Any], opts: GlobalOptions) -> dict[str, Any]:
    pg = cmd.paginator
    assert pg is not None
    key, in_tok, out_tok, limit = pg["result_key"], pg["input_token"], pg["output_token"], pg["limit_key"]
    max_items = int(opts.max_items) if opts.max_items else None
    marker, skip = _decode_token(opts.starting_token)
    items: list[Any] = []
    merged: dict[str, Any] = {}
    while True:
        req = dict(request)
        if marker:
            req[in_tok] = marker
        if opts.page_size:
            req[limit] = int(opts.page_size)
        _debug(opts, f"Calling {cmd.operation} page marker={marker!r}")
        resp = svc.call(cmd.operation, req)
        for k, v in resp.items():
            if k not in (key, out_tok):
                merged.setdefault(k, v)
        page = resp.get(key, [])[skip:]
        offset = skip
        skip = 0
        for index, item in enumerate(page):
            if max_items is not None and len(items) == max_items:
                merged[key] = items
                merged["NextToken"] = _encode_token(marker, offset + index)
                return merged
            items.append(item)
        next_marker = resp.get(out_tok)
        if not next_marker:
            break
        if max_items is not None and len(items) == max_items:
            merged[key] = items
            merged["NextToken"] = _encode_token(next_marker, 0)
            return merged
        marker = next_marker
    merged[key] = items
    return {key: merged.pop(key), **merged}


def execute(cmd: CommandSpec, raw: dict[str, Any], opts: GlobalOptions, outfile: str | None = None) -> int:
    """Run one command end to end; returns the exit status."""
    from ..service import Service
    from ..settings import Settings

    try:
        _check_options(opts)
        if opts.generate_cli_skeleton is not None:
            sys.stdout.write(skeleton(cmd, opts.generate_cli_skeleton) + "\n")
            return ExitStatus.OK
        request = build_request(cmd, raw, opts)
    except LambdaError as exc:  # the service's own refusal of a request, made before sending it
        return service_error(exc.code, cmd.operation, exc.message)
    except ParamError as exc:
        if not exc.usage:
            return other_error(str(exc))
        return usage_error(str(exc), show_usage=exc.flag is None and "required" in exc.message)
    try:
        settings = Settings.load(opts.home, opts.region)
    except LambdaError as exc:  # config.toml or the home itself: what the AWS CLI exits 253 for
        other_error(exc.message)
        return ExitStatus.CONFIG
    # A folder of this machine (--code-dir) is named only in this process: a server refuses host
    # paths from any HTTP caller, so such a command writes the registry the server reads itself.
    local = names_host_path(request) and not opts.endpoint_url
    svc: Any = (None if local else _remote_service(opts, settings)) or Service(settings, host_paths=True)
    started = time.perf_counter()
    if opts.debug:
        _debug(opts, f"Calling {cmd.operation} with {_redact(request)}")
    fmt = opts.output or settings.get("output") or "json"
    as_text = _as_text_listing(svc, cmd, opts, fmt)
    try:
        try:
            result: Any = _call_text_listing(svc, request, opts) if as_text else _call(svc, cmd, request, opts)
        except _server_unavailable() as exc:
            if opts.endpoint_url:
                return other_error(f"Could not connect to the endpoint URL: \"{opts.endpoint_url}\" ({exc})")
            _debug(opts, "the server in server.json did not answer; running the command here")
            svc = Service(settings, host_paths=True)
            result = _call(svc, cmd, request, opts)
    except ParamError as exc:
        return usage_error(str(exc))
    except _read_timeout() as exc:
        return other_error(str(exc))
    except LambdaError as exc:
        _debug(opts, f"{cmd.operation} failed after {(time.perf_counter() - started) * 1000:.1f} ms: {exc.code}")
        return service_error(exc.code, cmd.operation, exc.message)
    finally:
        _finish(svc)
    _debug(opts, f"{cmd.operation} answered in {(time.perf_counter() - started) * 1000:.1f} ms")
    if cmd.waiter is not None:
        return int(result)  # the waiter's exit status: it prints nothing on success
    if as_text:
        from ._output import listing_json

        try:
            sys.stdout.write(listing_json("Functions", result["Functions"]) + "\n")
        except BrokenPipeError:
            pass
        return ExitStatus.OK
    if cmd.outfile and outfile is not None:
        payload = result.pop("Payload", b"") or b""
        _write_outfile(outfile, payload)
    from ._output import apply_query, iso_timestamps, render

    try:
        render(apply_query(iso_timestamps(result), opts.query), fmt, title=cmd.operation, color=opts.color)
    except BrokenPipeError:
        pass
    return ExitStatus.OK


def names_host_path(request: dict[str, Any]) -> bool:
    """Whether a request names a folder of this machine (`--code-dir`, also via --cli-input-json)."""
    code = request.get("Code")
    return request.get("CodeDir") is not None or (isinstance(code, dict) and code.get("CodeDir") is not None)


def _as_text_listing(svc: Any, cmd: CommandSpec, opts: GlobalOptions, fmt: str) -> bool:
    """Whether this is a whole `list-functions` printed as JSON, run in this process: the
    service then hands over its items already encoded (functions.list_functions_encoded)."""
    from ..service import Service

    return (cmd.operation == "ListFunctions" and fmt == "json" and not opts.query
            and not opts.no_paginate and not opts.max_items and not opts.starting_token
            and isinstance(svc, Service))


def _call_text_listing(svc: Any, request: dict[str, Any], opts: GlobalOptions) -> dict[str, Any]:
    """paginate() for a whole listing, its items as the service's encoded text."""
    import sqlite3

    from ..service.functions import list_functions_encoded

    req = dict(request)
    if opts.page_size:
        req["MaxItems"] = int(opts.page_size)
    try:
        return {"Functions": list_functions_encoded(svc, req)}
    except (sqlite3.Error, OSError) as exc:
        explained = svc.storage_error(exc)
        if explained is exc:
            raise
        raise explained from exc


def _call(svc: Any, cmd: CommandSpec, request: dict[str, Any], opts: GlobalOptions) -> Any:
    if cmd.waiter is not None:
        from ._wait import wait

        return wait(svc, cmd, request)
    if cmd.paginator and not opts.no_paginate:
        return paginate(svc, cmd, request, opts)
    if cmd.paginator and opts.max_items:
        # One call: --max-items is then the API's own limit (the AWS CLI un-shadows it).
        request = {**request, cmd.paginator["limit_key"]: int(opts.max_items)}
    result: dict[str, Any] = svc.call(cmd.operation, request)
    return result


def _read_timeout() -> type[Exception]:
    from ._remote import ReadTimeout

    return ReadTimeout


def _server_unavailable() -> type[Exception]:
    from ._remote import ServerUnavailable

    return ServerUnavailable


def _remote_service(opts: GlobalOptions, settings: Any) -> Any:
    """A client of the server to use: --endpoint-url, else a live one named in server.json.

    LAMBDACTL_DIRECT=1 runs commands in this process regardless. Requests are signed with the
    first access key of config.toml [server.credentials] when the server requires auth.
    """
    import os

    url = opts.endpoint_url
    require_auth = False
    if url is None:
        if os.environ.get("LAMBDACTL_DIRECT"):
            return None
        from ..settings import read_server_file

        info = read_server_file(settings.home)
        if info is None:
            return None
        url = info["url"]
        require_auth = bool(info.get("require_auth"))
    from ._remote import RemoteService

    _debug(opts, f"sending the command to {url}")
    return RemoteService(url, credentials=signing_key(settings), sign=require_auth,
                         timeout_s=_seconds(opts.cli_read_timeout), connect_timeout_s=_seconds(opts.cli_connect_timeout))


def signing_key(settings: Any) -> tuple[str, str, str] | None:
    """(access key, secret, region) the CLI signs with: the first of config.toml [server.credentials]."""
    keys = settings.get("server.credentials")
    first = next(iter(keys.items()), None) if isinstance(keys, dict) else None
    return (str(first[0]), str(first[1]), settings.region) if first else None


def _seconds(flag_value: str | None) -> float | None:
    """--cli-read-timeout / --cli-connect-timeout: seconds, 0 for no limit (None). Unset, an
    invoke may take the longest function timeout and then some."""
    if flag_value is None:
        return REMOTE_TIMEOUT_S
    return float(flag_value) or None


REMOTE_TIMEOUT_S = 960.0


def _write_outfile(outfile: str, payload: bytes) -> None:
    if outfile == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        return
    with open(outfile, "wb") as fh:
        fh.write(payload)


def _redact(request: dict[str, Any]) -> str:
    def walk(v: Any) -> Any:
        if isinstance(v, (bytes, bytearray)):
            return f"<{len(v)} bytes>"
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return json.dumps(walk(request))
