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
from ._help import APP_HELP, WAIT_HELP
from ._options import FLAG_OPTIONS, GLOBAL_HELP, GlobalOptions
from ._spec import CommandSpec, all_commands, all_waiters

# Modules that add their own commands with `register(app)`; missing ones are skipped so a
# partial install still starts.
COMMAND_MODULES: tuple[str, ...] = (
    "lambdactl.cli.packaging_cmds",
    "lambdactl.cli.local_cmds",
    "lambdactl.cli.serve_cmds",
)

def _global_params() -> list[inspect.Parameter]:
    """The AWS CLI's global options, accepted after the command as well as before it."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = []
    for flag, help_text in GLOBAL_HELP.items():
        name = flag[2:].replace("-", "_")
        switch = flag in FLAG_OPTIONS
        typ: Any = bool if switch else str | None
        default = GlobalOptions.DEFAULTS[name]
        params.append(inspect.Parameter(
            name, kw, default=default,
            annotation=Annotated[typ, typer.Option(flag, help=help_text, rich_help_panel="Global options")]))
    return params


def _command_callback(spec: CommandSpec) -> Any:
    """An API command whose arguments the spec-driven parser reads (`fast.parse_command`), so
    this entry point accepts and refuses exactly what the fast path does."""

    def callback(ctx: typer.Context) -> None:
        from .fast import Help, Usage, help_topic, parse_command, refuse, run_parsed

        root: GlobalOptions = ctx.obj or GlobalOptions()
        words = ["wait", spec.name] if spec.waiter else [spec.name]
        args = [DOUBLE_DASH if a == HIDDEN_DOUBLE_DASH else a for a in ctx.args]
        try:
            if help_topic([*words, *args]) is not None:
                raise typer.Exit(run_parsed(Help(words)))
            parsed = parse_command(spec, args, root)
        except Usage as exc:
            raise typer.Exit(refuse(exc)) from None
        raise typer.Exit(run_parsed(parsed))

    callback.__name__ = spec.name.replace("-", "_")
    callback.__doc__ = spec.help
    return callback


# The API commands take their arguments unparsed: `fast.parse_command` reads them. Click would
# drop a `--` from them, so the caller hides it (`hide_double_dash`) until they reach the parser.
RAW_ARGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
DOUBLE_DASH = "--"
HIDDEN_DOUBLE_DASH = "\0--"


def hide_double_dash(args: list[str]) -> list[str]:
    return [HIDDEN_DOUBLE_DASH if a == DOUBLE_DASH else a for a in args]


def build_own_app() -> typer.Typer:
    """The root with the global options and lambdactl's own commands."""
    app = typer.Typer(
        name="lambdactl",
        help=APP_HELP,
        add_completion=False,
        pretty_exceptions_enable=False,
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
        if ctx.invoked_subcommand is None:
            from .fast import Usage, refuse

            raise typer.Exit(refuse(Usage("the following arguments are required: command")))
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
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)
    return app


def build_app() -> typer.Typer:
    app = build_own_app()
    for spec in all_commands():
        app.command(spec.name, help=spec.help, rich_help_panel="Lambda API", context_settings=RAW_ARGS,
                    add_help_option=False)(_command_callback(spec))
    wait_app = typer.Typer(help=WAIT_HELP, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
    for spec in all_waiters():
        wait_app.command(spec.name, help=spec.help, context_settings=RAW_ARGS, add_help_option=False)(_command_callback(spec))
    app.add_typer(wait_app, name="wait", rich_help_panel="Lambda API")
    return app


def api_command_names() -> set[str]:
    return {spec.name for spec in all_commands()}
