# QRazor hardware: `make synth` (main job) and `make test`. Both install what they need first.
PY      := .venv/bin/python
STAMP   := .venv/.installed
PYTEST_ARGS ?=

.PHONY: all setup test test-golden test-sim bench verilog synth lint clean

all: synth

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: $(STAMP)

## Run every test: golden model (tests/) and RTL against the golden model (sim/).
test: $(STAMP)
	$(PY) -m pytest tests sim $(PYTEST_ARGS)

test-golden: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-sim: $(STAMP)
	$(PY) -m pytest sim $(PYTEST_ARGS)

## Main job: synthesize every unit (area, timing, power) -> build/synth/report.{md,json}, area.png
synth: $(STAMP)
	$(PY) -m synth $(if $(LIBERTY),--liberty $(LIBERTY))

## Verilog of every unit -> build/verilog/
verilog: $(STAMP)
	$(PY) -m hdl.export --out build/verilog

## SDR compress + decompress throughput (benchmark, not a test).
bench: $(STAMP)
	$(PY) -m golden.bench

lint: $(STAMP)
	$(PY) -m ruff check golden hdl synth sim tests

clean:
	rm -rf build out sim_build .pytest_cache
