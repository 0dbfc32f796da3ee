# Two entry points: `make demo` runs the whole thing, `make test` runs every test.
# Both create .venv and install the project into it first; nothing else is assumed.
# `make check` is the fast tier: lint, then the tests that need no broker, in well under two minutes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Debian packages that the tests run for real: Prometheus and promtool (alert rules, dashboard
# queries), Alertmanager's amtool (routing config), Chromium (the wallboard, through Playwright)
# and docker-compose (validates docker-compose.yml; no Docker engine is needed).
SYSTEM_PACKAGES := prometheus prometheus-alertmanager chromium docker-compose
SYSTEM_TOOLS := prometheus promtool amtool chromium docker-compose
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check lint install system-packages clean

demo: $(STAMP)
	$(PY) -m stream demo

# Two pytest-xdist processes; the tests that run several workers through large inputs run one at a
# time in one of them (tests/conftest.py).
test: lint system-packages $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup

check: lint $(STAMP)
	$(PY) -m pytest -q tests/unit tests/agents

# Ruff, pinned in the lint extra so that a new release cannot start failing the check.
lint: $(VENV)/.lint-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

system-packages:
	@for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) data .pytest_cache

# The benchmark (BENCHMARKS.md); phony because bench/ is also a directory.
.PHONY: bench bench-month
bench: $(VENV)/.bench-installed
	$(PY) -m bench.run

# A month of a 5,000-seat centre at default retention (about 40 minutes here): bench/results/month.png.
bench-month: $(VENV)/.bench-installed
	$(PY) -m bench.run --only month

$(VENV)/.bench-installed: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

$(VENV)/.lint-installed: $(STAMP)
	$(PY) -m pip install --quiet -e '.[lint]'
	touch $@
