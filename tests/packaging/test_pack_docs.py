"""The docs cannot lag the code: the rules page is generated, the usage page names every option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from lambdactl.cli.packaging_cmds import register
from lambdactl.packaging.rules import RULES, Rule, render_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_lint_rules_page_is_fresh() -> None:
    assert (DOCS / "lint-rules.md").read_text() == render_markdown(), (
        "regenerate: python -m lambdactl.packaging.rules > docs/lint-rules.md")


def test_every_rule_is_documented_with_why_and_fix() -> None:
    page = (DOCS / "lint-rules.md").read_text()
    for rule in RULES.values():
        assert f"## {rule.id} {rule.name}" in page
        assert rule.why and rule.fix and rule.summary
        assert len(rule.fix.splitlines()) == 1


def test_rule_ids_and_names_are_unique_and_stable() -> None:
    names = [r.name for r in RULES.values()]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)
    assert list(RULES) == sorted(RULES)


def test_registry_refuses_duplicates_and_undocumented_rules() -> None:
    from lambdactl.packaging import rules

    with pytest.raises(ValueError, match="duplicate"):
        rules.rule("LZ001", "again", "error", "x", "y")(lambda ctx: iter(()))

    def undocumented(ctx):  # type: ignore[no-untyped-def]
        return iter(())

    with pytest.raises(ValueError, match="docstring"):
        rules.rule("LZ999", "undocumented", "error", "x", "y")(undocumented)
    assert "LZ999" not in RULES and isinstance(RULES["LZ001"], Rule)


def test_usage_page_names_every_command_and_option() -> None:
    app = typer.Typer()
    register(app)
    group = typer.main.get_command(app)
    page = (DOCS.parent / "README.md").read_text()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"lambdactl {name}" in page, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert re.search(re.escape(opt) + r"(?![\w-])", page), (
                        f"{name} {opt} is not documented in README.md")
