"""The one output sink: json, text, table or yaml from the same response dict, after --query.

Formats follow the AWS CLI: json indented by 4, `text` as tab-separated rows named by their key,
`table` laid out as the AWS CLI's, `yaml` block style. Heavy modules load only for
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


# ---- table: laid out as the AWS CLI lays it out: the operation name as the title row, `+---+`
# borders, nested structures and lists as sections indented by one `|` a level, a dict's
# scalars as a header row and a value row (key/value rows when the table is wider than the
# terminal),
# lists of dicts as columns. Every section is stretched to the widest; nothing is truncated.


class _Section:
    __slots__ = ("indent", "title", "headers", "rows")

    def __init__(self, indent: int, title: str | None) -> None:
        self.indent = indent
        self.title = title
        self.headers: list[str] = []
        self.rows: list[list[str]] = []


def _table(data: Any, out: IO[str], title: str, color: str) -> None:
    del color  # plain borders whatever the terminal, like the AWS CLI's `--color off`
    sections: list[_Section] = []
    _build(sections, title, data, 0)
    if sections:
        out.write("\n".join(_render(sections, _width())) + "\n")


def _width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def _current(sections: list[_Section], indent: int) -> _Section:
    if not sections:
        sections.append(_Section(indent, None))
    return sections[-1]


def _build(sections: list[_Section], title: str | None, value: Any, indent: int) -> None:
    if value in (None, {}, [], ""):
        return
    if title is not None:
        sections.append(_Section(indent, title))
    if isinstance(value, dict):
        scalars = sorted(k for k, v in value.items() if not _is_complex(v))
        section = _current(sections, indent)
        if len(scalars) == 1:
            section.rows.append([scalars[0], _scalar(value[scalars[0]])])
        elif scalars:
            section.headers = scalars
            section.rows.append([_scalar(value[k]) for k in scalars])
        for k in sorted(k for k, v in value.items() if _is_complex(v)):
            _build(sections, k, value[k], indent + 1)
    elif isinstance(value, list):
        if isinstance(value[0], dict):
            _build_list(sections, title, value, indent)
            return
        for item in value:
            if not _is_complex(item):
                _current(sections, indent).rows.append([_scalar(item)])
            elif isinstance(item, list) and not any(_is_complex(e) for e in item):
                _current(sections, indent).rows.append([_scalar(e) for e in item])
            else:
                _build(sections, None, item, indent)
    else:
        _current(sections, indent).rows.append([_scalar(value)])


def _build_list(sections: list[_Section], title: str | None, items: list[Any], indent: int) -> None:
    """A list of dicts: one column per scalar key; an item with nested values gets its own
    section (repeating the title) so its nested sections follow it."""
    dicts = [e for e in items if isinstance(e, dict)]
    headers = sorted({k for e in dicts for k, v in e.items() if not _is_complex(v)})
    nested = sorted({k for e in dicts for k, v in e.items() if _is_complex(v)})
    section = _current(sections, indent)
    for n, item in enumerate(dicts):
        if n and nested:
            section = _Section(indent, title)
            sections.append(section)
        section.headers = headers
        section.rows.append([_scalar(item.get(h, "")) for h in headers])
        for k in nested:
            if k in item:
                _build(sections, k, item[k], indent + 1)


def _natural(section: _Section) -> list[int]:
    columns = [section.headers] if section.headers else []
    columns += section.rows
    n = max((len(r) for r in columns), default=0)
    return [max((len(r[i]) for r in columns if i < len(r)), default=0) + 2 for i in range(n)]


def _needed(section: _Section) -> int:
    cols = _natural(section)
    body = sum(cols) + max(len(cols) - 1, 0) if cols else 0
    return max(body, len(section.title or "") + 2) + 2 * (section.indent + 1)


def _render(sections: list[_Section], terminal: int) -> list[str]:
    if max(_needed(s) for s in sections) > terminal:
        # Too wide to read across: a dict's members become key/value rows.
        for s in sections:
            if s.headers and len(s.rows) == 1:
                s.rows = [[h, v] for h, v in zip(s.headers, s.rows[0], strict=False)]
                s.headers = []
    width = max(_needed(s) for s in sections)
    lines = ["-" * width]
    for s in sections:
        edge = "|" * (s.indent + 1)
        inner = width - 2 * len(edge)
        if s.title is not None:
            lines.append(edge + s.title.center(inner) + edge)
        cols = _natural(s)
        if not cols:
            lines.append("|" * s.indent + "+" + "-" * inner + "+" + "|" * s.indent)
            continue
        _fill(cols, inner - (len(cols) - 1))
        sep = "|" * s.indent + "+" + "+".join("-" * c for c in cols) + "+" + "|" * s.indent
        lines.append(sep)
        if s.headers:
            lines.append(edge + "|".join(h.center(c) for h, c in zip(s.headers, cols, strict=False)) + edge)
            lines.append(sep)
        for row in s.rows:
            cells = row + [""] * (len(cols) - len(row))
            lines.append(edge + "|".join((" " + v).ljust(c) for v, c in zip(cells, cols, strict=False)) + edge)
        lines.append(sep)
    return lines


def _fill(cols: list[int], total: int) -> None:
    """Widen the columns in proportion to their natural widths until they span `total`."""
    extra = total - sum(cols)
    if extra <= 0:
        return
    natural = sum(cols)
    added = 0
    for i, c in enumerate(cols[:-1]):
        share = extra * c // natural
        cols[i] += share
        added += share
    cols[-1] += extra - added
