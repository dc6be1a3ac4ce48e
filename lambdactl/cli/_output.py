"""The one output sink: json, text, table or yaml from the same response dict, after --query.

Formats follow the AWS CLI: json indented by 4, `text` as tab-separated rows named by their key,
`table` as boxed sections (rendered with rich), `yaml` block style. Heavy modules load only for
the format asked for.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

FORMATS = ("json", "text", "table", "yaml", "yaml-stream", "off")


# Members the model types as timestamps (the API sends epoch seconds); string-typed members of the
# same name, such as a function's LastModified, are text already and left alone.
TIMESTAMP_MEMBERS = frozenset({
    "LastModified", "StartingPositionTimestamp", "StartTimestamp", "EndTimestamp", "EventTimestamp",
    "StopTimestamp", "ScheduledEndTimestamp", "NextAttemptTimestamp", "ExpectedExecutionTimeoutTimestamp",
    "PauseRequestTimestamp", "ResumeRequestTimestamp", "DeletionRequestTimestamp",
})


def iso_timestamps(data: Any) -> Any:
    """Epoch-second timestamps as the AWS CLI v2 prints them (ISO 8601, before --query sees
    them, as botocore parses them first): 2026-11-24T15:53:06.422000+00:00."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in TIMESTAMP_MEMBERS and isinstance(value, (int, float)) and not isinstance(value, bool):
                from datetime import datetime, timezone

                out[key] = datetime.fromtimestamp(value, timezone.utc).isoformat()
            else:
                out[key] = iso_timestamps(value) if isinstance(value, (dict, list)) else value
        return out
    if isinstance(data, list):
        return [iso_timestamps(v) if isinstance(v, (dict, list)) else v for v in data]
    return data


def apply_query(data: Any, query: str | None) -> Any:
    if not query:
        return data
    import jmespath

    return jmespath.search(query, data)


def render(data: Any, fmt: str, stream: IO[str] | None = None, *, title: str = "", color: str = "auto") -> None:
    out = stream or sys.stdout
    if fmt == "off":
        return
    if data is None or data == {} and fmt != "table":
        # The AWS CLI prints nothing for an empty response (delete-function, tag-resource, ...).
        if data is None and fmt == "json":
            out.write("null\n")
        return
    if fmt == "json":
        out.write(dumps_json(data) + "\n")
    elif fmt == "text":
        token = data.get("NextToken") if isinstance(data, dict) else None
        if isinstance(token, str):
            # The AWS CLI prints a --max-items resume token last, as its own NEXTTOKEN row.
            _text({k: v for k, v in data.items() if k != "NextToken"}, out, None)
            out.write(f"NEXTTOKEN\t{token}\n")
        else:
            _text(data, out, None)
    elif fmt in ("yaml", "yaml-stream"):
        import yaml

        out.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False))
    elif fmt == "table":
        _table(data, out, title, color)
    else:  # pragma: no cover - validated earlier
        raise ValueError(fmt)


def listing_json(key: str, items: list[str]) -> str:
    """What dumps_json prints for {key: [items]}, given each item already in that layout
    (functions.encode_list_item: indented by 4 at depth 0): items are only re-indented and joined."""
    head = '{\n    "' + key + '": ['
    if not items:
        return head + "]\n}"
    inner = ",\n        ".join(t.replace("\n", "\n        ") for t in items)
    return head + "\n        " + inner + "\n    ]\n}"


def dumps_json(data: Any) -> str:
    """JSON indented by 4, as the AWS CLI prints it.

    The standard library's encoder drops to pure Python once `indent` is set (~120 ms for 10,000
    functions). orjson indents by 2 in C; JSON text has no raw newline or tab inside strings, so the
    spaces after a newline are indentation and can be widened without touching any value.
    """
    if not _large(data):
        # Importing orjson costs ~8 ms; the standard encoder is quicker for one configuration.
        return json.dumps(data, indent=4, ensure_ascii=False, default=_default)
    try:
        import orjson
    except ModuleNotFoundError:  # pragma: no cover - orjson is a dependency
        return json.dumps(data, indent=4, ensure_ascii=False, default=_default)
    try:
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2, default=_default).decode("utf-8")
        compact = orjson.dumps(data, default=_default)
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(data, indent=4, ensure_ascii=False, default=_default)
    if b"  " not in compact:
        # No value holds two spaces in a row, so every "  " is indentation: one pass doubles it.
        return text.replace("  ", "    ")
    depth = 0
    while "\n" + "  " * (depth + 1) in text:
        depth += 1
    for level in range(depth, 0, -1):
        text = text.replace("\n" + "  " * level, "\n" + "\t" * level)
    return text.replace("\t", "    ")


def _large(data: Any) -> bool:
    """A listing of more than a few hundred items, where orjson's speed pays for its import."""
    if isinstance(data, list):
        return len(data) > 200
    if isinstance(data, dict):
        return any(isinstance(v, list) and len(v) > 200 for v in data.values())
    return False


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return "None"
    return str(value)


def _is_complex(value: Any) -> bool:
    return isinstance(value, (dict, list))


# ---- text: each dict's scalars on one line (sorted by key), prefixed with the name it was found
# under, upper-cased; nested dicts and lists follow on their own lines.


def _text(item: Any, out: IO[str], name: str | None, columns: list[str] | None = None) -> None:
    if isinstance(item, dict):
        if columns is None:
            scalars = [_scalar(v) for k, v in sorted(item.items()) if not _is_complex(v)]
            nested = [(k, v) for k, v in sorted(item.items()) if _is_complex(v)]
        else:
            scalars = [_scalar(item.get(k, "")) for k in columns]
            nested = [(k, item[k]) for k in sorted(set(item) - set(columns))]
        if scalars:
            out.write("\t".join(([name.upper()] if name else []) + scalars) + "\n")
        for key, value in nested:
            _text(value, out, key)
    elif isinstance(item, list):
        if not item:
            return
        if any(isinstance(e, dict) for e in item):
            cols = sorted({k for e in item if isinstance(e, dict) for k, v in e.items() if not _is_complex(v)})
            for element in item:
                _text(element, out, name, cols if isinstance(element, dict) else None)
        else:
            plain = [e for e in item if not _is_complex(e)]
            if plain:
                if name:
                    for e in plain:
                        out.write(f"{name.upper()}\t{_scalar(e)}\n")
                else:
                    out.write("\t".join(_scalar(e) for e in plain) + "\n")
            for e in item:
                if _is_complex(e):
                    _text(e, out, name)
    else:
        out.write(_scalar(item) + "\n")


# ---- table: the operation name as title; scalars as key/value rows; lists of dicts as
# column tables; nested structures as their own titled sections.


def _table(data: Any, out: IO[str], title: str, color: str) -> None:
    from rich.console import Console

    force = {"on": True, "off": False}.get(color)
    console = Console(file=out, force_terminal=force, no_color=(color == "off"), width=max(100, _width()))
    for renderable in _sections(data, title):
        console.print(renderable)


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def _sections(data: Any, title: str) -> list[Any]:
    from rich import box
    from rich.table import Table

    sections: list[Any] = []
    if isinstance(data, dict):
        scalars = [(k, v) for k, v in data.items() if not _is_complex(v)]
        if scalars or not data:
            t = Table(title=title or None, min_width=len(title) + 4, box=box.ASCII2, show_header=False)
            t.add_column("key", style="bold")
            t.add_column("value")
            for k, v in scalars:
                t.add_row(k, _scalar(v))
            sections.append(t)
        elif title:
            sections.append(Table(title=title, box=box.ASCII2, show_header=False))
        for k, v in data.items():
            if _is_complex(v):
                sections.extend(_sections(v, k))
    elif isinstance(data, list):
        dicts = [e for e in data if isinstance(e, dict)]
        wide = dicts and len({k for e in dicts for k, v in e.items() if not _is_complex(v)}) > 6
        if wide:
            # Too many columns for a terminal: one key/value section per item, as a list reads.
            for e in dicts:
                sections.extend(_sections(e, title))
        elif dicts:
            cols = list(dict.fromkeys(k for e in dicts for k, v in e.items() if not _is_complex(v)))
            t = Table(title=title or None, min_width=len(title) + 4, box=box.ASCII2)
            for c in cols:
                t.add_column(c)
            for e in dicts:
                t.add_row(*[_scalar(e.get(c, "")) for c in cols])
            sections.append(t)
            for e in dicts:
                for k, v in e.items():
                    if _is_complex(v):
                        sections.extend(_sections(v, k))
        else:
            t = Table(title=title or None, min_width=len(title) + 4, box=box.ASCII2, show_header=False)
            t.add_column("value")
            for e in data:
                t.add_row(_scalar(e) if not _is_complex(e) else json.dumps(e))
            sections.append(t)
    else:
        t = Table(title=title or None, min_width=len(title) + 4, box=box.ASCII2, show_header=False)
        t.add_column("value")
        t.add_row(_scalar(data))
        sections.append(t)
    return sections
