"""Turning flag text into API values the way the AWS CLI does.

`file://` loads a file as text, `fileb://` as bytes; structures, maps and lists take JSON or the
AWS shorthand (`Variables={A=1,B=2}`, `k=v,k2=v2`), coerced to the model's member types.
"""

from __future__ import annotations

import binascii
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ParamError(Exception):
    """A flag value that cannot be parsed: the AWS CLI's exit 252 with its wording."""

    def __init__(self, flag: str | None, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.flag = flag
        self.message = message
        self.usage = usage  # False: the AWS CLI reports it as a plain failure (exit 255)

    def __str__(self) -> str:
        if self.flag:
            return f"Error parsing parameter '{self.flag}': {self.message}"
        return self.message


def read_file_value(flag: str, value: str, *, limit: int | None = None) -> str | bytes:
    """Resolve file:// (text) and fileb:// (bytes) values; anything else is returned unchanged.

    At most limit+1 bytes are read (/dev/zero, a FIFO or a huge file must not be read forever
    or into all memory). With a member's own `limit`, those bytes go on for the service to
    refuse in its words; without one, a file larger than any request is refused here.
    """
    for prefix, binary in (("fileb://", True), ("file://", False)):
        if value.startswith(prefix):
            path = Path(value[len(prefix):]).expanduser()
            # No request Lambda accepts is larger (a CreateFunction with a 50 MB zip in base64).
            from ..limits import MAX_CREATE_BODY_BYTES

            cap = MAX_CREATE_BODY_BYTES if limit is None else limit
            try:
                with open(path, "rb") as fh:
                    data = fh.read(cap + 1)
            except OSError as exc:
                raise ParamError(flag, f"Unable to load paramfile {value}: {exc.strerror or exc}") from None
            if limit is None and len(data) > cap:
                raise ParamError(flag, f"Unable to load paramfile {value}: larger than {cap} bytes, "
                                       "more than any request can carry")
            if binary:
                return data
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise ParamError(flag, f"Unable to load paramfile {value}: not UTF-8 text (use fileb://)") from None
    return value


# --------------------------------------------------------------------------------------------
# Shorthand syntax


_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.#/:")


class _Shorthand:
    def __init__(self, text: str, flag: str) -> None:
        self.text = text
        self.i = 0
        self.flag = flag

    def error(self, expected: str) -> ParamError:
        got = self.text[self.i] if self.i < len(self.text) else "EOF"
        return ParamError(self.flag, f"Expected: '{expected}', received: '{got}' for input:\n{self.text}")

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def parse(self) -> dict[str, Any]:
        out = self.pairs(top=True)
        if self.i != len(self.text):
            raise self.error("EOF")
        return out

    def pairs(self, top: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        last_key: str | None = None
        while True:
            self.skip_ws()
            if not top and self.peek() == "}":
                return out
            start = self.i
            key = self.key()
            self.skip_ws()
            if self.peek() != "=":
                # `Key=a,b,c`: a bare value after a comma continues the previous key's list.
                if top and last_key is not None:
                    self.i = start
                    extra = self.scalar(stops=",")
                    prev = out[last_key]
                    out[last_key] = (prev if isinstance(prev, list) else [prev]) + [extra]
                else:
                    raise self.error("=")
            else:
                self.i += 1
                out[key] = self.value(stops=",}" if not top else ",")
                last_key = key
            self.skip_ws()
            if self.peek() == ",":
                self.i += 1
                continue
            return out

    def key(self) -> str:
        # The AWS CLI's key grammar: ASCII letters, digits and -_.#/: only, never quoted.
        start = self.i
        while self.i < len(self.text) and self.text[self.i] in _KEY_CHARS:
            self.i += 1
        return self.text[start:self.i]

    def value(self, stops: str) -> Any:
        self.skip_ws()
        c = self.peek()
        if c == "{":
            self.i += 1
            inner = self.pairs(top=False)
            if self.peek() != "}":
                raise self.error("}")
            self.i += 1
            return inner
        if c == "[":
            self.i += 1
            items: list[Any] = []
            self.skip_ws()
            while self.peek() != "]":
                items.append(self.value(stops=",]"))
                self.skip_ws()
                if self.peek() == ",":
                    self.i += 1
                elif self.peek() != "]":
                    raise self.error("]")
            self.i += 1
            return items
        return self.scalar(stops)

    def scalar(self, stops: str) -> str:
        self.skip_ws()
        if self.peek() and self.peek() in "\"'":
            return self.quoted()
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in stops:
            self.i += 1
        return self.text[start:self.i].strip()

    def quoted(self) -> str:
        quote = self.text[self.i]
        self.i += 1
        out = []
        while self.i < len(self.text) and self.text[self.i] != quote:
            if self.text[self.i] == "\\" and self.i + 1 < len(self.text):
                self.i += 1
            out.append(self.text[self.i])
            self.i += 1
        if self.i >= len(self.text):
            raise self.error(quote)
        self.i += 1
        return "".join(out)

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\n":
            self.i += 1


def parse_shorthand(text: str, flag: str) -> dict[str, Any]:
    return _Shorthand(text, flag).parse()


# --------------------------------------------------------------------------------------------
# Coercion to model types


def coerce(value: Any, type_: Any, flag: str, path: str = "") -> Any:
    where = f" for {path}" if path else ""
    if isinstance(type_, dict):
        if "enum" in type_:
            return str(value) if not isinstance(value, str) else value
        if "structure" in type_:
            if not isinstance(value, dict):
                raise ParamError(flag, f"Invalid type{where}, value: {value!r}, type: {type(value).__name__}, valid types: <class 'dict'>")
            members = type_["structure"]
            out = {}
            for k, v in value.items():
                if k not in members:
                    raise ParamError(
                        None,
                        f'Parameter validation failed:\nUnknown parameter in {path or "input"}: "{k}", '
                        f'must be one of: {", ".join(members)}',
                    )
                out[k] = coerce(v, members[k], flag, f"{path}.{k}" if path else k)
            return out
        if "map" in type_:
            if not isinstance(value, dict):
                raise ParamError(flag, f"Invalid type{where}: expected a map, got {value!r}")
            return {str(k): coerce(v, type_["map"], flag, f"{path}.{k}") for k, v in value.items()}
        if "list" in type_:
            items = value if isinstance(value, list) else [value]
            return [coerce(v, type_["list"], flag, path) for v in items]
        return value
    if type_ in ("integer", "long"):
        if isinstance(value, bool):
            raise ParamError(flag, f"Invalid type{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ParamError(flag, f"invalid literal for int() with base 10: '{value}'") from None
    if type_ in ("double", "float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        try:
            return float(str(value).strip())
        except ValueError:
            raise ParamError(flag, f"could not convert string to float: '{value}'") from None
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise ParamError(flag, f"Invalid boolean value{where}: {value!r}")
    if type_ == "string":
        if not isinstance(value, str):
            # Only JSON gives anything else (shorthand values are text): botocore refuses it.
            raise ParamError(None, f"Parameter validation failed:\nInvalid type for parameter {path}, value: {value}, "
                                   f"type: {type(value)}, valid types: <class 'str'>")
        return value
    return value


def convert(flag: str, type_: Any, raw: str | list[str], *, binary_format: str = "raw-in-base64-out",
            fileb_only: bool = False, member: str = "") -> Any:
    """One flag's text (or texts, for lists) -> the API value."""
    if isinstance(type_, dict) and "list" in type_:
        texts = raw if isinstance(raw, list) else [raw]
        if len(texts) == 1:
            loaded = read_file_value(flag, texts[0])
            text = loaded.decode() if isinstance(loaded, bytes) else loaded
            if text.lstrip().startswith("["):
                return coerce(_json(flag, text), type_, flag, member)
            texts = [text]
        inner = type_["list"]
        return [convert(flag, inner, t, binary_format=binary_format) for t in texts]
    assert isinstance(raw, str)
    if type_ == "blob":
        if fileb_only and not raw.startswith("fileb://"):
            raise ParamError(None, f"{flag} must be a zip file with the fileb:// prefix.\nExample usage:  {flag} fileb://path/to/file.zip")
        from ..limits import MAX_ZIPPED_UPLOAD_BYTES

        loaded = read_file_value(flag, raw, limit=_blob_limit(member, fileb_only))
        if fileb_only and len(loaded) <= MAX_ZIPPED_UPLOAD_BYTES:
            _check_is_zip(flag, loaded)  # a larger one is the service's to refuse, by its size
        if isinstance(loaded, bytes):
            return loaded
        if binary_format == "base64" and not raw.startswith("file://"):
            import base64

            try:
                return base64.b64decode(loaded, validate=True)
            except (binascii.Error, ValueError):
                raise ParamError(None, f'Invalid base64: "{loaded}"', usage=False) from None
        return text_bytes(loaded)
    loaded = read_file_value(flag, raw)
    text = loaded.decode("utf-8", "replace") if isinstance(loaded, bytes) else loaded
    if isinstance(type_, dict) and ("structure" in type_ or "map" in type_):
        stripped = text.lstrip()
        value = _json(flag, text) if stripped.startswith("{") else parse_shorthand(text, flag)
        return coerce(value, type_, flag, member)
    return coerce(text, type_, flag)


def _blob_limit(member: str, zip_file: bool) -> int:
    """How much of a blob's file to read: one byte past the most the service takes."""
    from ..limits import MAX_CREATE_BODY_BYTES, MAX_SYNC_PAYLOAD_BYTES, MAX_ZIPPED_UPLOAD_BYTES

    if zip_file or member.endswith("ZipFile"):
        return MAX_ZIPPED_UPLOAD_BYTES
    if member == "Payload":
        return MAX_SYNC_PAYLOAD_BYTES
    return MAX_CREATE_BODY_BYTES


def text_bytes(text: str) -> bytes:
    """A blob given as text -> its bytes: UTF-8, and an argument's bytes that were not UTF-8
    (which Python carries as surrogate escapes) as they were given, for the service to judge."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ParamError(None, "Parameter validation failed:\nInvalid text for a blob parameter: "
                               "it holds a lone surrogate, which is not UTF-8", usage=False) from None


def _check_is_zip(flag: str, content: str | bytes) -> None:
    """The AWS CLI opens a --zip-file itself and refuses what is no zip archive at all; a zip
    that is merely broken is still the service's to refuse."""
    from ..packaging.zipscan import CorruptZipError, NotAZipError, scan

    try:
        scan(content if isinstance(content, bytes) else content.encode("utf-8"))
    except NotAZipError:
        raise ParamError(None, f"{flag} must be a zip file with the fileb:// prefix.\nExample usage:  {flag} fileb://path/to/file.zip") from None
    except CorruptZipError:
        pass


def _json(flag: str, text: str) -> Any:
    from .._jsontext import loads

    try:
        return loads(text)
    except ValueError as exc:
        raise ParamError(flag, f"Invalid JSON: {exc}\nJSON received: {text}") from None
