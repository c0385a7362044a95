"""The layers hold: every module of bot/ has its place in the import contract, and a reversed import fails it."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
LINT = Path(sys.executable).with_name("lint-imports")


def layered_modules() -> set[str]:
    [layers] = [c["layers"] for c in CONFIG["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in layers for part in layer.split("|") for name in part.split(":")}


def test_every_module_of_bot_has_a_layer() -> None:
    modules = {f"bot.{path.stem}" for path in (ROOT / "bot").glob("*.py") if path.stem != "__init__"}
    assert modules - layered_modules() == set()
    assert {"handlers", "storage"} <= layered_modules()


def test_a_reversed_import_breaks_the_contract(tmp_path: Path) -> None:
    for package in ("bot", "handlers", "storage"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    def lint() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LINT), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, check=False, env={"PATH": ""}
        )

    assert lint().returncode == 0, lint().stdout
    chat = tmp_path / "handlers" / "chat.py"
    chat.write_text(chat.read_text(encoding="utf-8") + "\nimport bot.telegram_channel  # noqa\n", encoding="utf-8")
    broken = lint()
    assert broken.returncode != 0
    assert "handlers is not allowed to import bot.telegram_channel" in broken.stdout
    assert "- handlers.chat -> bot.telegram_channel" in broken.stdout
