# The two commands of the README: `make run` and `make test`. Each installs
# what it needs (Debian packages, a virtualenv, the Python packages) first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint bench system-deps clean

run: system-deps $(VENV)/.installed
	$(BIN)/threads-desktop $(ARGS)

# The suite on TEST_WORKERS processes (pytest-xdist): most of a test's time is
# spent waiting on peers, sockets, timers and subprocesses, not on the CPU.
# --dist loadfile keeps each file's tests on one worker (the bundle is built
# once; module fixtures are made once); files go out in collection order, in
# which tests/conftest.py puts the files of the `slow` tests first.
# `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2
test: system-deps $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		$(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check threads_desktop tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(VENV)/.installed
	$(BIN)/threads-desktop bench log --events 10000 --json

# Real screenshots for docs/screenshots/ and the README: the app's own windows
# under Xvfb, over sample profiles made in a temporary folder (about 15 s).
.PHONY: screenshots
screenshots: system-deps $(VENV)/.installed
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python scripts/screenshots.py docs/screenshots

system-deps:
	@PYTHON=$(PYTHON) scripts/install-system-deps.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[test,dist]'
	touch $@ $(VENV)/.installed

# A one-folder bundle that runs without Python: dist/threads-desktop/threads-desktop
# (packaging/threads-desktop.spec; about 70 s and 190 MB). Ship the whole folder.
.PHONY: dist
dist: $(VENV)/.installed-dist
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/threads-desktop.spec
	dist/threads-desktop/threads-desktop --version

$(VENV)/.installed-dist: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[dist]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build dist *.egg-info
