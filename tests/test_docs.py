"""The README stays true: it opens with the two commands, and its command table is the one the bot registers."""

import re
from pathlib import Path

from bot.commands import COMMANDS, ROLE_COMMANDS
from bot.i18n import translator
from bot.reports import Step

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_make_run_and_make_test() -> None:
    head = "\n".join(README.splitlines()[:10])
    assert "make run" in head
    assert "make test" in head


def test_readme_command_table_is_the_registered_commands() -> None:
    block = README.split("<!-- commands:start -->")[1].split("<!-- commands:end -->")[0]
    rows = re.findall(r"^\| `/(\w+)` \| `/(\w+)` \| (.+?) \|$", block, flags=re.MULTILINE)
    vi = translator("vi")
    assert rows == [(c.name, c.alias, vi.gettext(c.description)) for c in COMMANDS]


def test_readme_role_command_table_is_each_roles_menu() -> None:
    block = README.split("<!-- role-commands:start -->")[1].split("<!-- role-commands:end -->")[0]
    rows = re.findall(r"^\| `/(\w+)` \| `/(\w+)` \| (\w+) \| (.+?) \|$", block, flags=re.MULTILINE)
    vi = translator("vi")
    expected = [
        (c.name, c.alias, role.value, vi.gettext(c.description))
        for role, commands in ROLE_COMMANDS.items()
        for c in commands
    ]
    assert rows == expected


def test_command_names_are_valid_for_telegram() -> None:
    for command in COMMANDS + tuple(c for commands in ROLE_COMMANDS.values() for c in commands):
        for name in command.names:
            assert re.fullmatch(r"[a-z0-9_]{1,32}", name)


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_report_conversation_diagram_has_every_step() -> None:
    diagram = (ROOT / "handlers" / "reports.mmd").read_text(encoding="utf-8")
    states = set(re.findall(r"^\s+(?:\[\*\]|(\w+)) --> (?:\[\*\]|(\w+))", diagram, flags=re.MULTILINE))
    named = {name for pair in states for name in pair if name}
    assert named == {step.value for step in Step}


def test_readme_actions_table_is_the_router_table() -> None:
    from handlers.router import ACTIONS

    block = README.split("<!-- actions:start -->")[1].split("<!-- actions:end -->")[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|$", block, flags=re.MULTILINE)
    expected = [(name, ", ".join(r.value for r in route.roles) or "everyone") for name, route in ACTIONS.items()]
    assert rows == expected
