# Qingyuan: two commands on a fresh machine.
#   make run    set up .venv (CPU torch first, then the project) and run the main job on bundled data
#   make test   set up .venv and run the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup browser postgres run test lint bench bench-pmf clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU wheel of torch lies in the machine's find-links; install it before anything can pull CUDA.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# compile the PMF kernels into numba's cache once, not on a user's first `trace pmf` (~10 s)
	$(BIN)/python -m models.pmf.warmup
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/qingyuan run

# The browser tests drive the OS chromium (Playwright, executable_path) with CJK fonts;
# installed from the package manager when missing (CI runs as root; elsewhere it needs sudo).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# The PostgreSQL tests (server mode, issue #15) start a throw-away cluster from the OS package's
# binaries (tests/qy_postgres.py); installed when missing. The embedded default never needs it.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: setup browser postgres
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_forecast.py
	$(BIN)/python benchmarks/bench_replay.py
	$(BIN)/python benchmarks/bench_water_forecast.py
	$(BIN)/python benchmarks/bench_tracing.py
	$(BIN)/python benchmarks/bench_source_twin.py
	$(MAKE) bench-pmf

# PMF side by side with US EPA ESAT (a benchmark-only dependency, never needed to run Qingyuan)
bench-pmf: setup
	@test -x .venv-esat/bin/python || $(PY) -m venv .venv-esat
	.venv-esat/bin/python -m pip install --quiet "esat==2025.0.1"
	$(BIN)/python benchmarks/bench_pmf.py --esat-python .venv-esat/bin/python

clean:
	rm -rf store outputs
