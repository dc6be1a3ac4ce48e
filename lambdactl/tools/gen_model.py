"""Regenerate `lambdactl/api_model.py` from botocore's Lambda service model.

The generated module holds facts only (operation names, HTTP bindings, member names, types,
required flags, enums, paginators), so that the CLI's flags and the server's routes match
`aws lambda` exactly. Run `python -m lambdactl.tools.gen_model` with botocore installed.
"""

from __future__ import annotations

import json
import pprint
import sys
from pathlib import Path
from typing import Any

# Out of scope for a local Lambda (code signing, capacity providers, durable executions, ...).
EXCLUDED_PREFIXES = (
    "CheckpointDurable", "CreateCapacity", "DeleteCapacity", "GetCapacity", "ListCapacity",
    "UpdateCapacity", "ListFunctionVersionsByCapacityProvider", "DeleteDurable", "GetDurable",
    "ListDurable", "PauseDurable", "ResumeDurable", "SendDurable", "StopDurable",
    "CreateCodeSigning", "DeleteCodeSigning", "GetCodeSigning", "ListCodeSigning",
    "UpdateCodeSigning", "DeleteFunctionCodeSigning", "GetFunctionCodeSigning",
    "PutFunctionCodeSigning", "ListFunctionsByCodeSigning", "GetFunctionScaling",
    "PutFunctionScaling", "DeleteResourcePolicy", "GetResourcePolicy", "PutResourcePolicy",
)
# Members of in-scope operations that belong to out-of-scope features.
EXCLUDED_MEMBERS = frozenset({
    "CapacityProviderConfig", "DurableConfig", "TenancyConfig", "PublishTo", "ExecutionName",
    "DurableExecutionName", "TenantId", "AcceleratorConfig", "RuntimeConfig", "S3ObjectStorageMode",
})


def _shape(model: Any, shape: Any, depth: int = 0) -> Any:
    t = shape.type_name
    if t == "structure":
        if depth > 6:
            return "structure"
        return {
            "structure": {
                n: _shape(model, s, depth + 1)
                for n, s in shape.members.items()
                if n not in EXCLUDED_MEMBERS
            },
            "required": sorted(set(shape.required_members) - EXCLUDED_MEMBERS),
        }
    if t == "list":
        return {"list": _shape(model, shape.member, depth + 1)}
    if t == "map":
        return {"map": _shape(model, shape.value, depth + 1)}
    if t == "string" and shape.enum:
        return {"enum": list(shape.enum)}
    return t


def _mins(shape: Any, path: str = "", depth: int = 0) -> dict[str, int]:
    """The model's `min` constraints of a member and the structures inside it, by dotted path
    ("" for the member itself): what botocore checks on the client before sending a request."""
    out: dict[str, int] = {}
    if "min" in shape.metadata and (
        shape.type_name in ("integer", "long")  # a number can be below 0; a length cannot
        or (shape.type_name in ("string", "list") and shape.metadata["min"] > 0)  # botocore checks no map/blob length
    ):
        out[path] = int(shape.metadata["min"])
    if shape.type_name == "structure" and depth < 6:
        for name, member in shape.members.items():
            if name not in EXCLUDED_MEMBERS:
                out.update(_mins(member, f"{path}.{name}" if path else name, depth + 1))
    return out


def build() -> dict[str, Any]:
    import botocore.session

    session = botocore.session.get_session()
    model = session.get_service_model("lambda")
    loader = session.get_component("data_loader")
    paginators = loader.load_service_model("lambda", "paginators-1")["pagination"]
    ops: dict[str, Any] = {}
    for name in model.operation_names:
        if name.startswith(EXCLUDED_PREFIXES):
            continue
        op = model.operation_model(name)
        members: dict[str, Any] = {}
        if op.input_shape is not None:
            required = set(op.input_shape.required_members)
            for mname, mshape in op.input_shape.members.items():
                if mname in EXCLUDED_MEMBERS:
                    continue
                members[mname] = {
                    "type": _shape(model, mshape),
                    "required": mname in required,
                    "location": mshape.serialization.get("location", "body"),
                    "location_name": mshape.serialization.get("name", mname),
                }
                if op.input_shape.serialization.get("payload") == mname:
                    members[mname]["location"] = "payload"
                mins = _mins(mshape)
                if mins:
                    members[mname]["mins"] = mins
        outputs: dict[str, Any] = {}
        if op.output_shape is not None:
            for mname, mshape in op.output_shape.members.items():
                if mname in EXCLUDED_MEMBERS:
                    continue
                loc = mshape.serialization.get("location", "body")
                if op.output_shape.serialization.get("payload") == mname:
                    loc = "payload"
                outputs[mname] = {"location": loc, "location_name": mshape.serialization.get("name", mname), "type": mshape.type_name}
        entry: dict[str, Any] = {
            "method": op.http["method"],
            "uri": op.http["requestUri"],
            "status": op.http.get("responseCode", 200),
            "input": members,
            "output": outputs,
        }
        if op.deprecated:
            entry["deprecated"] = True
        if name in paginators:
            p = paginators[name]
            entry["paginator"] = {
                "input_token": p["input_token"],
                "output_token": p["output_token"],
                "limit_key": p["limit_key"],
                "result_key": p["result_key"],
            }
        ops[name] = entry
    return ops


def build_waiters(ops: dict[str, Any]) -> dict[str, Any]:
    """botocore's waiters for operations in scope: operation, delay, attempts and acceptors."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    waiters = loader.load_service_model("lambda", "waiters-2")["waiters"]
    return {name: w for name, w in waiters.items() if w["operation"] in ops}


def render(ops: dict[str, Any], waiters: dict[str, Any]) -> str:
    # One JSON string per operation: string constants load from the .pyc at no cost, and a CLI call
    # parses only the operation it runs (a dict literal of the whole model costs ~30 ms to build).
    raw = {name: json.dumps(op, sort_keys=True, separators=(",", ":")) for name, op in sorted(ops.items())}
    body = pprint.pformat(raw, width=100)
    waiter_body = pprint.pformat(
        {name: json.dumps(w, sort_keys=True, separators=(",", ":")) for name, w in sorted(waiters.items())},
        width=100)
    return (
        '"""The Lambda API model (2015-03-31): operations, HTTP bindings, members, paginators and\n'
        'waiters.\n\n'
        "Generated by `python -m lambdactl.tools.gen_model` from botocore's service model; do not\n"
        'edit by hand. Facts only: member names, types, required flags, enums and locations.\n"""\n\n'
        "from __future__ import annotations\n\n"
        "import json\n"
        "from functools import cache\n\n"
        "TYPE_CHECKING = False\n"
        "if TYPE_CHECKING:\n"
        "    from typing import Any\n\n"
        "# fmt: off\n"
        f"_RAW: dict[str, str] = {body}\n"
        f"_WAITERS: dict[str, str] = {waiter_body}\n"
        "# fmt: on\n\n"
        "NAMES: tuple[str, ...] = tuple(_RAW)\n"
        "WAITER_NAMES: tuple[str, ...] = tuple(_WAITERS)\n\n\n"
        "@cache\n"
        "def operation(name: str) -> dict[str, Any]:\n"
        "    op: dict[str, Any] = json.loads(_RAW[name])\n"
        "    return op\n\n\n"
        "@cache\n"
        "def waiter(name: str) -> dict[str, Any]:\n"
        "    w: dict[str, Any] = json.loads(_WAITERS[name])\n"
        "    return w\n"
    )


def main(argv: list[str] | None = None) -> int:
    target = Path(__file__).resolve().parent.parent / "api_model.py"
    ops = build()
    target.write_text(render(ops, build_waiters(ops)), encoding="utf-8")
    print(f"wrote {target.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
