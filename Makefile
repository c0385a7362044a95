# From a fresh clone: `make run` starts the bot (console chat without a token), `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PO := $(wildcard locales/*/LC_MESSAGES/phucvu.po)
MO := $(PO:.po=.mo)

.PHONY: run test lint typecheck pytest locales extract bench clean

run: $(STAMP) $(MO)
	$(BIN)/phucvu run

test: $(STAMP) $(MO) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# Three workers on the two cores: most tests wait on sockets and subprocesses (3.5 min instead of 5 with two).
pytest: $(STAMP) $(MO)
	$(BIN)/pytest -q -n 3

locales: $(MO)

locales/%/LC_MESSAGES/phucvu.mo: locales/%/LC_MESSAGES/phucvu.po $(STAMP)
	$(BIN)/pybabel compile -D phucvu -d locales -l $* >/dev/null

# Refresh the catalogs from the code (vi is filled from the source strings; translate the new entries in en).
extract: $(STAMP)
	$(BIN)/pybabel extract -k gettext -k ngettext:1,2 -k N_ -k say -o locales/phucvu.pot --no-location --sort-output bot handlers
	$(BIN)/pybabel update -i locales/phucvu.pot -D phucvu -d locales --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python locales/fill_vietnamese.py

bench: $(STAMP) $(MO)
	$(BIN)/python -m bench

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) $(MO) .mypy_cache .ruff_cache .pytest_cache
