"""Errors to stderr and exit codes, mapped once, as the AWS CLI does them."""

from __future__ import annotations

import sys
from enum import IntEnum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO


class ExitStatus(IntEnum):
    OK = 0
    USAGE = 252  # bad or missing parameters
    CONFIG = 253
    SERVICE = 254  # the service answered with an error
    OTHER = 255
    INTERRUPTED = 130


USAGE_TEXT = (
    "usage: lambdactl [options] <command> [<subcommand> ...] [parameters]\n"
    "To see help text, you can run:\n\n"
    "  lambdactl help\n"
    "  lambdactl <command> help\n"
    "  lambdactl <command> <subcommand> help\n"
)


def service_error(code: str, operation: str, message: str, stream: IO[str] | None = None) -> int:
    out = stream or sys.stderr
    out.write(f"\nAn error occurred ({code}) when calling the {operation} operation: {message}\n")
    return ExitStatus.SERVICE


def usage_error(message: str, stream: IO[str] | None = None, *, show_usage: bool = True) -> int:
    out = stream or sys.stderr
    if show_usage:
        out.write("\n" + USAGE_TEXT + "\n")
    out.write(f"{message}\n" if message.startswith(("lambdactl:", "Unknown options:", "Error", "Parameter validation failed"))
              else f"lambdactl: error: {message}\n")
    return ExitStatus.USAGE


def other_error(message: str, stream: IO[str] | None = None) -> int:
    out = stream or sys.stderr
    out.write(f"\n{message}\n")
    return ExitStatus.OTHER
