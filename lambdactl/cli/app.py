"""The Typer application: every `aws lambda`-style command generated from its spec, plus the
lambdactl commands (package, lint, serve, logs, doctor) registered by their own modules.

It serves help, usage errors and completion; valid command lines usually take the fast path
(`fast.py`) and never load this module. Both end in the same `_run.execute`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Annotated, Any

import typer

from . import version_string
from ._options import GlobalOptions
from ._run import execute
from ._spec import CommandSpec, all_commands, all_waiters

# Modules that add their own commands with `register(app)`; missing ones are skipped so a
# partial install still starts.
COMMAND_MODULES: tuple[str, ...] = (
    "lambdactl.cli.packaging_cmds",
    "lambdactl.cli.local_cmds",
    "lambdactl.cli.serve_cmds",
)

APP_HELP = (
    "AWS Lambda on your own machine. The commands, flags, JSON shapes and error codes are those "
    "of `aws lambda`; state lives in LAMBDACTL_HOME."
)


def _global_params() -> list[inspect.Parameter]:
    """The AWS CLI's global options, accepted after the command as well as before it."""
    kw = inspect.Parameter.KEYWORD_ONLY

    def opt(name: str, flag: str, help_text: str, typ: Any = str | None, default: Any = None) -> inspect.Parameter:
        return inspect.Parameter(
            name, kw, default=default, annotation=Annotated[typ, typer.Option(flag, help=help_text, rich_help_panel="Global options")]
        )

    return [
        opt("output", "--output", "json, text, table, yaml, yaml-stream or off."),
        opt("query", "--query", "A JMESPath query applied to the response."),
        opt("region", "--region", "Region used in ARNs (default from config.toml, else us-east-1)."),
        opt("profile", "--profile", "Accepted for AWS CLI compatibility; ignored."),
        opt("home", "--home", "The registry directory (default LAMBDACTL_HOME or the user data dir)."),
        opt("endpoint_url", "--endpoint-url", "Send the command to this lambdactl server (default: the one in server.json, if running)."),
        opt("cli_binary_format", "--cli-binary-format", "raw-in-base64-out (default) or base64 for blob text."),
        opt("color", "--color", "on, off or auto.", str, "auto"),
        opt("cli_input_json", "--cli-input-json", "The whole request as JSON (file:// allowed); flags override it."),
        opt("cli_input_yaml", "--cli-input-yaml", "The whole request as YAML (file:// allowed); flags override it."),
        opt("generate_cli_skeleton", "--generate-cli-skeleton", "Print a request skeleton: input, yaml-input."),
        opt("debug", "--debug", "Log what the command does to stderr.", bool, False),
        opt("no_paginate", "--no-paginate", "Make a single call instead of following NextMarker.", bool, False),
        opt("no_cli_pager", "--no-cli-pager", "Accepted for AWS CLI compatibility (lambdactl never pages).", bool, False),
        opt("cli_read_timeout", "--cli-read-timeout", "Seconds to wait for the server's answer (0: no limit)."),
        opt("cli_connect_timeout", "--cli-connect-timeout", "Seconds to wait for a connection to the server (0: no limit)."),
        opt("cli_error_format", "--cli-error-format", "Accepted for AWS CLI compatibility; errors use the legacy format."),
        opt("ca_bundle", "--ca-bundle", "Accepted for AWS CLI compatibility (the local endpoint is plain HTTP)."),
        opt("no_verify_ssl", "--no-verify-ssl", "Accepted for AWS CLI compatibility (the local endpoint is plain HTTP).", bool, False),
        opt("no_sign_request", "--no-sign-request", "Accepted for AWS CLI compatibility.", bool, False),
    ]


def _command_callback(spec: CommandSpec) -> Any:
    kw = inspect.Parameter.KEYWORD_ONLY
    params: list[inspect.Parameter] = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    ]
    if spec.outfile:
        params.append(
            inspect.Parameter(
                "outfile",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[str, typer.Argument(help="Where to write the response payload ('-' for stdout).")],
            )
        )
    for p in spec.params:
        help_text = p.help + (" [required]" if p.required else "")
        if p.is_bool:
            typ: Any = bool | None
            option = typer.Option(f"{p.flag}/--no-{p.flag[2:]}", help=help_text, show_default=False)
        elif p.is_list:
            typ = list[str] | None
            option = typer.Option(p.flag, help=help_text, show_default=False)
        else:
            typ = str | None
            option = typer.Option(p.flag, help=help_text, show_default=False)
        params.append(inspect.Parameter(p.dest, kw, default=None, annotation=Annotated[typ, option]))
    if spec.paginator:
        for name, flag, text in (
            ("starting_token", "--starting-token", "Resume from a NextToken of an earlier call."),
            ("max_items", "--max-items", "Stop after this many items (prints NextToken)."),
            ("page_size", "--page-size", "Items per underlying API call."),
        ):
            params.append(
                inspect.Parameter(
                    name, kw, default=None, annotation=Annotated[str | None, typer.Option(flag, help=text, rich_help_panel="Pagination")]
                )
            )
    params.extend(_global_params())

    def callback(ctx: typer.Context, **kwargs: Any) -> None:
        root: GlobalOptions = ctx.obj or GlobalOptions()
        mine = GlobalOptions(
            **{k: kwargs.pop(k) for k in list(kwargs) if k in GlobalOptions.DEFAULTS}
        )
        outfile = kwargs.pop("outfile", None)
        raw = {k: v for k, v in kwargs.items() if v is not None}
        raise typer.Exit(execute(spec, raw, root.merged(mine), outfile))

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in params}
    callback.__name__ = spec.name.replace("-", "_")
    callback.__doc__ = spec.help
    return callback


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="lambdactl",
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def root(
        ctx: typer.Context,
        version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
        **kwargs: Any,
    ) -> None:
        if version:
            typer.echo(version_string())
            raise typer.Exit(0)
        ctx.obj = GlobalOptions(**kwargs)
        if kwargs.get("home"):
            # `lambdactl --home H logs tail F`: lambdactl's own command groups read the home
            # from LAMBDACTL_HOME unless given --home themselves (which still wins).
            import os

            os.environ["LAMBDACTL_HOME"] = os.path.abspath(os.path.expanduser(kwargs["home"]))

    root_params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter(
            "version", inspect.Parameter.KEYWORD_ONLY, default=False,
            annotation=Annotated[bool, typer.Option("--version", help="Print the version and exit.")],
        ),
        *_global_params(),
    ]
    root.__signature__ = inspect.Signature(root_params)  # type: ignore[attr-defined]
    root.__annotations__ = {p.name: p.annotation for p in root_params}
    app.callback(invoke_without_command=True)(root)

    for spec in all_commands():
        app.command(spec.name, help=spec.help, rich_help_panel="Lambda API")(_command_callback(spec))
    wait_app = typer.Typer(
        help="Wait until a function reaches a state, polling as the AWS CLI's waiters do "
             "(silent on success; exit 255 on failure or after the last attempt).",
        no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
    )
    for spec in all_waiters():
        wait_app.command(spec.name, help=spec.help)(_command_callback(spec))
    app.add_typer(wait_app, name="wait", rich_help_panel="Lambda API")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)
    return app


def api_command_names() -> set[str]:
    return {spec.name for spec in all_commands()}
