"""The package as a province installs it: the wheel is built from the sources, installed into a fresh virtual
environment (its dependencies taken from this one's, so nothing is fetched), and `phucvu run` from that environment,
away from the repository, answers `/start` through the fake Bot API in Vietnamese and `/lang` in English: the
compiled catalogs are in the wheel."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.fakebotapi import TOKEN, FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "handlers", "storage", "locales", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def build_and_install(tmp_path: Path) -> Path:
    """The fresh environment's `phucvu`."""
    source = tmp_path / "source"
    for name in SOURCES:  # a copy: the build writes build/ and *.egg-info next to the sources
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    build = [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(source)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    [wheel] = wheels.glob("phucvu-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    target = venv / "bin" / "python"
    site = subprocess.run(
        [str(target), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies are this environment's (no network in tests); the project itself only from the wheel.
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    install = [*pip, "--python", str(target), "install", "--quiet", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    return venv / "bin" / "phucvu"


async def test_the_wheel_installed_elsewhere_answers_in_both_languages(api: FakeBotAPI, tmp_path: Path) -> None:
    phucvu = await asyncio.to_thread(build_and_install, tmp_path)
    python = phucvu.parent / "python"
    probe = await asyncio.create_subprocess_exec(
        str(python), "-c", "import bot.i18n as i; print(i.__file__); print(i.LOCALE_DIR)",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    where = (await probe.communicate())[0].decode().split()
    assert all(str(tmp_path / "venv") in path for path in where)  # the wheel's code and catalogs, not the sources'
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PHUCVU_", "ZALO_", "TELEGRAM_"))} | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "PHUCVU_DB": str(tmp_path / "installed.db"),
        "PTB_TIMEDELTA": "true",
    }
    env.pop("PYTHONPATH", None)
    process = await asyncio.create_subprocess_exec(
        str(phucvu), "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        [welcome] = await api.say(8101, "/start", timeout=60)
        assert welcome.text is not None and welcome.text.startswith("Kính chào Ông/Bà!")
        [choice] = await api.say(8101, "/lang", timeout=30)
        assert choice.text == "Switched to English." and "Look up a dossier" in str(choice.reply_markup)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()[-3000:]
