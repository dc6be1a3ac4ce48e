"""The committed man pages, completions and README keep up with the CLI."""

from __future__ import annotations

from pathlib import Path

from lambdactl.cli._spec import all_commands
from lambdactl.tools import gen_docs

ROOT = Path(__file__).resolve().parent.parent


def test_man_pages_and_completions_are_fresh() -> None:
    problems = gen_docs.stale(gen_docs.generated())
    assert not problems, "run `python -m lambdactl.tools.gen_docs`; stale: " + ", ".join(problems)


def test_every_command_has_a_man_page_and_completion() -> None:
    bash = (ROOT / "completions" / "lambdactl.bash").read_text()
    for spec in all_commands():
        assert (ROOT / "man" / f"lambdactl-{spec.name}.1").exists()
        assert f" {spec.name}) " in bash
        for p in spec.params:
            assert p.flag in bash


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for spec in all_commands():
        assert f"`{spec.name}`" in readme, f"README does not mention {spec.name}"


def test_readme_opens_with_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```", 2)[1]
    lines = [line for line in first_block.splitlines()[1:] if line.strip() and not line.startswith("#")]
    assert len(lines) == 2
    assert "lambdactl" in lines[0] and "pytest" in lines[1]
