"""Maintainer tools: regenerate the API model, man pages, completions and docs from the CLI."""
