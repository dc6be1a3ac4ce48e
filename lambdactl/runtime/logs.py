"""The platform lines Lambda writes around an invocation's output (START / END / REPORT).

Owns the exact wording and formatting (tabs, two decimals, billed = ceil), and how a log line is
made safe to print on a terminal. Pure functions; the service layer decides where the lines are
stored.
"""

from __future__ import annotations

import math
import os
import re
import time
from datetime import datetime, timezone


def iso_now(epoch: float | None = None) -> str:
    """`2024-01-01T00:00:00.123Z`, the time format of Lambda's own log lines."""
    t = time.time() if epoch is None else epoch
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log_stream_name(version: str, epoch: float | None = None) -> str:
    """`YYYY/MM/DD/[VERSION]<32 hex>`: one stream per execution environment."""
    t = time.gmtime(time.time() if epoch is None else epoch)
    return time.strftime("%Y/%m/%d", t) + f"/[{version}]{os.urandom(16).hex()}"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def billed_ms(duration_ms: float) -> int:
    return max(1, math.ceil(round(duration_ms, 2)))


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_memory_mb: int,
                init_duration_ms: float | None = None, status: str = "success",
                error_type: str | None = None) -> str:
    """The REPORT line, tab-separated with a trailing tab, status fields only on failure."""
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms(duration_ms)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_duration_ms is not None:
        parts.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status == "timeout":
        parts.append("Status: timeout")
    elif status in ("crash", "oom") or (status == "error" and error_type
                                        and error_type.startswith(("Runtime.", "Sandbox."))):
        parts.append("Status: error")
        if error_type:
            parts.append(f"Error Type: {error_type}")
    return "\t".join(parts) + "\t\n"


def timeout_line(request_id: str, timeout_s: float, epoch: float | None = None) -> str:
    """`<ISO time> <id> Task timed out after 3.00 seconds`."""
    return f"{iso_now(epoch)} {request_id} Task timed out after {timeout_s:.2f} seconds\n"


def framed(request_id: str, version: str, output: bytes, report: str) -> bytes:
    """START, the function's output, END and REPORT: one invocation's log as Lambda shows it."""
    body = output if not output or output.endswith(b"\n") else output + b"\n"
    return (start_line(request_id, version).encode() + body + end_line(request_id).encode()
            + report.encode())


# Bytes that can start or be part of a terminal control sequence: C0 controls but tab and
# newline, DEL, and everything non-ASCII (a raw C1 byte such as 0x9b is CSI to some terminals).
_MAYBE_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f-\xff]")
# In decoded text: C0 controls but tab and newline, DEL and the C1 controls U+0080-U+009F.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(line: bytes) -> bytes:
    """`line` with terminal control characters shown as `\\xNN` (ESC, so CSI and OSC sequences,
    every other C0 and C1 control but newline and tab, and DEL), and bytes that are not UTF-8
    as `\\xNN` too: printed logs cannot move the cursor, retitle the window or hide text."""
    if _MAYBE_CONTROL.search(line) is None:
        return line
    text = line.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).encode("utf-8")
