# Each target creates .venv when it is missing and installs the package with what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

.PHONY: install test lint demo bench catalog clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]"
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check airflow_provider_stitch tests tools benchmarks example_dags
	$(VENV)/bin/ruff format --check airflow_provider_stitch tests tools benchmarks example_dags

demo: $(STAMP)
	$(PY) tools/demo.py

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

catalog: $(STAMP)
	$(PY) tools/build_catalog.py

clean:
	rm -rf $(VENV) build dist *.egg-info
