"""Options every `aws lambda`-style command accepts, wherever they appear on the line."""

from __future__ import annotations

from dataclasses import dataclass, fields

# flag -> attribute; these take a value
VALUE_OPTIONS: dict[str, str] = {
    "--output": "output",
    "--query": "query",
    "--region": "region",
    "--profile": "profile",
    "--home": "home",
    "--cli-binary-format": "cli_binary_format",
    "--color": "color",
    "--cli-input-json": "cli_input_json",
    "--cli-input-yaml": "cli_input_yaml",
    "--starting-token": "starting_token",
    "--max-items": "max_items",
    "--page-size": "page_size",
    "--cli-read-timeout": "cli_read_timeout",
    "--cli-connect-timeout": "cli_connect_timeout",
}
# flag -> attribute; these are switches
FLAG_OPTIONS: dict[str, str] = {
    "--debug": "debug",
    "--no-paginate": "no_paginate",
    "--no-cli-pager": "no_cli_pager",
    "--version": "version",
}
# takes an optional value (input | output | yaml-input)
SKELETON = "--generate-cli-skeleton"
SKELETON_CHOICES = ("input", "yaml-input", "output")
BINARY_FORMATS = ("base64", "raw-in-base64-out")
COLORS = ("on", "off", "auto")


@dataclass
class GlobalOptions:
    output: str | None = None
    query: str | None = None
    region: str | None = None
    profile: str | None = None
    home: str | None = None
    cli_binary_format: str | None = None
    color: str = "auto"
    cli_input_json: str | None = None
    cli_input_yaml: str | None = None
    starting_token: str | None = None
    max_items: str | None = None
    page_size: str | None = None
    cli_read_timeout: str | None = None
    cli_connect_timeout: str | None = None
    debug: bool = False
    no_paginate: bool = False
    no_cli_pager: bool = False
    version: bool = False
    generate_cli_skeleton: str | None = None

    def merged(self, other: GlobalOptions) -> GlobalOptions:
        """Options given after the command win over the same given before it."""
        out = GlobalOptions()
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            default = f.default
            setattr(out, f.name, theirs if theirs not in (None, False, default) else mine)
        return out
