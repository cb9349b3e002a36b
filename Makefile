# Each target creates .venv when it is missing and installs the package with what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)
# A second venv for the oldest Airflow the provider supports (2.11.x).
AIRFLOW2_VERSION ?= 2.11.*
VENV2 := .venv-airflow2
# Airflow 2.11 sets an attribute on cryptography's MultiFernet, which cryptography 47 and later refuse.
AIRFLOW2_PINS ?= "cryptography<47"
PY2 := $(VENV2)/bin/python
STAMP2 := $(VENV2)/.installed-airflow2

.PHONY: install test test-fast test-airflow2 lint typecheck docs package-check demo bench scale catalog clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]"
	touch $@

# The suites run on pytest-xdist workers; most tests wait on clocks (sped-up emulators, budget windows,
# Airflow start-up), not on the CPU, so more workers than cores pay. The work units (a file, or a single
# long test) are in tests/parallel_schedule.py. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 4
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(XDIST)

# The edit-test loop: everything but the end-to-end DAG runs and the slow suites (2,038 tests; 2 min 18 s
# on the 2-core machine while other work ran, 2 min of CPU).
test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(XDIST) -m "not e2e and not slow"

$(STAMP2): pyproject.toml
	test -x $(PY2) || $(PYTHON) -m venv $(VENV2)
	$(PY2) -m pip install -q --upgrade pip
	$(PY2) -m pip install -q "apache-airflow==$(AIRFLOW2_VERSION)" -e ".[test]" $(AIRFLOW2_PINS)
	touch $@

# Airflow 2.11 job: everything that touches Airflow (operators, sensors, triggers, hook, assets, lineage,
# imports, provider info, DAG runs) plus the cheap Airflow-free API and connector tests. Left to `make test`
# (Airflow 3): tests/emulator, tests/monitor and tests/reliability, which import no Airflow and take minutes.
# Tests that need Airflow 3 skip themselves with a reason.
AIRFLOW2_TESTS ?= tests/api tests/connectors tests/hooks tests/operators tests/sensors tests/triggers \
	tests/ecosystem tests/e2e tests/test_cli.py

test-airflow2: $(STAMP2)
	$(PY2) -m pytest -q -p no:cacheprovider $(XDIST) $(AIRFLOW2_TESTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check airflow_provider_stitch tests tools benchmarks example_dags
	$(VENV)/bin/ruff format --check airflow_provider_stitch tests tools benchmarks example_dags

# mypy on the whole package, strict on the Airflow-free core (api/ and connectors/).
typecheck: $(STAMP)
	$(PY) -m mypy airflow_provider_stitch
	$(PY) -m mypy --strict airflow_provider_stitch/api airflow_provider_stitch/connectors

# The documentation site, warnings as errors (docs/_build/html).
docs: $(STAMP)
	@$(PY) -c "import sphinx, myst_parser" 2>/dev/null || $(PY) -m pip install -q -e ".[docs]"
	$(PY) -m sphinx -E -W --keep-going -q -b html docs docs/_build/html

# Build the sdist and wheel, check their metadata, and install the wheel alone into a fresh venv with Airflow.
package-check: $(STAMP)
	@$(PY) -c "import build, twine" 2>/dev/null || $(PY) -m pip install -q -e ".[release]"
	$(PY) tools/package_check.py --airflow-version $(AIRFLOW_VERSION)

demo: $(STAMP)
	$(PY) tools/demo.py

bench: $(STAMP)
	@$(PY) -c "import airflow.providers.airbyte" 2>/dev/null || $(PY) -m pip install -q apache-airflow-providers-airbyte "apache-airflow==$(AIRFLOW_VERSION)"
	@# Modules of the benchmarks package, run from the repository root (some reuse the tests' scenarios as tests.<folder>).
	@for f in benchmarks/*.py; do name=$$(basename $$f .py); case $$name in __init__|scale) continue;; esac; \
		echo "== $$f"; $(PY) -m benchmarks.$$name || exit 1; done

# The multi-worker deployment (benchmarks/scale.py, docs/running-at-scale.md): CeleryExecutor, two Celery
# workers, two triggerers, Redis, the emulator; a measured run over N sources, then the failure drills.
# libfaketime (Debian's faketime) skews one worker's clock in the drills. The benchmark figure is N=200.
N ?= 20
scale: $(STAMP)
	@$(PY) -c "import airflow.providers.celery" 2>/dev/null || $(PY) -m pip install -q -e ".[scale]" "apache-airflow==$(AIRFLOW_VERSION)"
	@test -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; }
	$(PY) benchmarks/scale.py --sources $(N)

catalog: $(STAMP)
	$(PY) tools/build_catalog.py

clean:
	rm -rf $(VENV) $(VENV2) build dist *.egg-info
