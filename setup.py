"""The build step pyproject.toml cannot say: the wheel carries the gettext catalogs compiled
(`locales/<language>/LC_MESSAGES/phucvu.po` → `bot/locales/<language>/LC_MESSAGES/phucvu.mo`), so that an installed
`phucvu` speaks Vietnamese and English without `make locales`. An editable install reads the repository's `locales/`."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    """`build_py`, then every catalog compiled into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path(__file__).parent.glob("locales/*/LC_MESSAGES/phucvu.po")):
            language = po.parent.parent.name
            target = Path(self.build_lib) / "bot" / "locales" / language / "LC_MESSAGES" / "phucvu.mo"
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=language, domain="phucvu")
            with target.open("wb") as compiled:
                write_mo(compiled, catalog)


setup(cmdclass={"build_py": BuildWithCatalogs})
