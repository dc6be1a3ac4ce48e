"""The Lambda service's error catalogue.

Every failure the library reports is a `LambdaError` carrying AWS's error code, message and HTTP
status, so the CLI and the HTTP server render the same error the same way. This module must not
know about either face.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# code -> (HTTP status, body "Type")
CATALOGUE: dict[str, int] = {
    "InvalidParameterValueException": 400,
    "ValidationException": 400,
    "InvalidRequestContentException": 400,
    "ResourceInUseException": 400,
    "AliasLimitExceededException": 400,
    "CodeStorageExceededException": 400,
    "PolicyLengthExceededException": 400,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
    "ResourceNotFoundException": 404,
    "ProvisionedConcurrencyConfigNotFoundException": 404,
    "ResourceConflictException": 409,
    "PreconditionFailedException": 412,
    "RequestTooLargeException": 413,
    "RequestEntityTooLargeException": 413,
    "UnsupportedMediaTypeException": 415,
    "TooManyRequestsException": 429,
    "ServiceException": 500,
    "ResourceNotReadyException": 502,
    "InvalidRuntimeException": 502,
    "InvalidZipFileException": 502,
}


class LambdaError(Exception):
    """An error response of the Lambda API: code, message, HTTP status and extra body fields."""

    def __init__(self, code: str, message: str, status: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else CATALOGUE.get(code, 400)
        self.extra = extra

    @property
    def error_type(self) -> str:
        """The body's `Type`: `Service` for server faults, `User` otherwise (as AWS sends)."""
        return "Service" if self.status >= 500 else "User"

    def body(self) -> dict[str, Any]:
        """The JSON error body AWS sends, which botocore parses into the exception's fields."""
        out: dict[str, Any] = {"Type": self.error_type, "message": self.message}
        out.update(self.extra)
        return out

    def __repr__(self) -> str:
        return f"LambdaError({self.code!r}, {self.message!r}, {self.status})"


def not_found(message: str) -> LambdaError:
    return LambdaError("ResourceNotFoundException", message)


def conflict(message: str) -> LambdaError:
    return LambdaError("ResourceConflictException", message)


def invalid(message: str) -> LambdaError:
    return LambdaError("InvalidParameterValueException", message)


def check_revision(given: str | None, current: str | None, read_api: str = "GetFunction/GetAlias") -> None:
    """RevisionId preconditions: a given id must be the current one (PreconditionFailedException,
    naming the API that reads the current id)."""
    if given is not None and given != current:
        raise LambdaError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            f"Call the {read_api} API to retrieve the latest Revision Id",
        )


def validation(errors: list[str]) -> LambdaError:
    """One ValidationException listing every constraint failure, worded as AWS words it."""
    n = len(errors)
    noun = "error" if n == 1 else "errors"
    return LambdaError("ValidationException", f"{n} validation {noun} detected: " + "; ".join(errors))
