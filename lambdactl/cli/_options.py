"""Options every `aws lambda`-style command accepts, wherever they appear on the line."""

from __future__ import annotations

# flag -> attribute; these take a value
VALUE_OPTIONS: dict[str, str] = {
    "--output": "output",
    "--query": "query",
    "--region": "region",
    "--profile": "profile",
    "--home": "home",
    "--endpoint-url": "endpoint_url",
    "--cli-binary-format": "cli_binary_format",
    "--color": "color",
    "--cli-input-json": "cli_input_json",
    "--cli-input-yaml": "cli_input_yaml",
    "--starting-token": "starting_token",
    "--max-items": "max_items",
    "--page-size": "page_size",
    "--cli-read-timeout": "cli_read_timeout",
    "--cli-connect-timeout": "cli_connect_timeout",
    "--ca-bundle": "ca_bundle",
    "--cli-error-format": "cli_error_format",
}
# flag -> attribute; these are switches
FLAG_OPTIONS: dict[str, str] = {
    "--debug": "debug",
    "--no-paginate": "no_paginate",
    "--no-cli-pager": "no_cli_pager",
    "--version": "version",
    "--no-verify-ssl": "no_verify_ssl",
    "--no-sign-request": "no_sign_request",
}
# takes an optional value (input | output | yaml-input)
SKELETON = "--generate-cli-skeleton"
SKELETON_CHOICES = ("input", "yaml-input", "output")
BINARY_FORMATS = ("base64", "raw-in-base64-out")
COLORS = ("on", "off", "auto")


class GlobalOptions:
    """The global options of one command line (a plain class: dataclasses cost ~7 ms to import)."""

    DEFAULTS: dict[str, object] = {
        "output": None, "query": None, "region": None, "profile": None, "home": None, "endpoint_url": None,
        "cli_binary_format": None, "color": "auto", "cli_input_json": None, "cli_input_yaml": None,
        "starting_token": None, "max_items": None, "page_size": None, "cli_read_timeout": None,
        "cli_connect_timeout": None, "debug": False, "no_paginate": False, "no_cli_pager": False,
        "version": False, "generate_cli_skeleton": None, "ca_bundle": None, "cli_error_format": None,
        "no_verify_ssl": False, "no_sign_request": False,
    }
    output: str | None
    query: str | None
    region: str | None
    profile: str | None
    home: str | None
    endpoint_url: str | None
    cli_binary_format: str | None
    color: str
    cli_input_json: str | None
    cli_input_yaml: str | None
    starting_token: str | None
    max_items: str | None
    page_size: str | None
    debug: bool
    no_paginate: bool
    version: bool
    generate_cli_skeleton: str | None
    cli_read_timeout: str | None
    cli_connect_timeout: str | None
    ca_bundle: str | None
    cli_error_format: str | None
    no_verify_ssl: bool
    no_sign_request: bool

    def __init__(self, **values: object) -> None:
        for name, default in self.DEFAULTS.items():
            setattr(self, name, values.pop(name, default))
        if values:
            raise TypeError(f"unknown options: {', '.join(values)}")

    def merged(self, other: GlobalOptions) -> GlobalOptions:
        """Options given after the command win over the same given before it."""
        out = GlobalOptions()
        for name, default in self.DEFAULTS.items():
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(out, name, theirs if theirs not in (None, False, default) else mine)
        return out


# What each global option does: the Typer app, `lambdactl help` and the man pages read this.
GLOBAL_HELP: dict[str, str] = {
    "--output": "json, text, table, yaml, yaml-stream or off.",
    "--query": "A JMESPath query applied to the response.",
    "--region": "Region used in ARNs (default from config.toml, else us-east-1).",
    "--profile": "Accepted for AWS CLI compatibility; ignored.",
    "--home": "The registry directory (default LAMBDACTL_HOME or the user data dir).",
    "--endpoint-url": "Send the command to this lambdactl server (default: the one in server.json, if running).",
    "--cli-binary-format": "raw-in-base64-out (default) or base64 for blob text.",
    "--color": "on, off or auto.",
    "--cli-input-json": "The whole request as JSON (file:// allowed); flags override it.",
    "--cli-input-yaml": "The whole request as YAML (file:// allowed); flags override it.",
    "--generate-cli-skeleton": "Print a request skeleton: input, yaml-input.",
    "--debug": "Log what the command does to stderr.",
    "--no-paginate": "Make a single call instead of following NextMarker.",
    "--no-cli-pager": "Accepted for AWS CLI compatibility (lambdactl never pages).",
    "--cli-read-timeout": "Seconds to wait for the server's answer (0: no limit).",
    "--cli-connect-timeout": "Seconds to wait for a connection to the server (0: no limit).",
    "--cli-error-format": "Accepted for AWS CLI compatibility; errors use the legacy format.",
    "--ca-bundle": "Accepted for AWS CLI compatibility (the local endpoint is plain HTTP).",
    "--no-verify-ssl": "Accepted for AWS CLI compatibility (the local endpoint is plain HTTP).",
    "--no-sign-request": "Accepted for AWS CLI compatibility.",
}
PAGINATION_HELP: dict[str, str] = {
    "--starting-token": "Resume from a NextToken of an earlier call.",
    "--max-items": "Stop after this many items (prints NextToken).",
    "--page-size": "Items per underlying API call.",
}
