# QRazor hardware: `make synth` (main job) and `make test`. Both install what they need first.
PY      := .venv/bin/python
STAMP   := .venv/.installed
PYTEST_ARGS ?= -n 2 --durations=25

.PHONY: all setup test test-full test-golden test-sim bench verilog synth results readme lint clean traces traces-full synth-all analysis accuracy frontier formal fpga pnr infer infer-all tile-steps synth-tiles pnr-tile

all: synth

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: $(STAMP)

## Run the tests: golden model, registry, in-process RTL, real LLM, flow (tests/) and the exported RTL against
## the golden model under cocotb (sim/); lint first. Tests marked slow (long runs with a smaller sibling here, such
## as the proofs that take over half a minute) are left to make test-full and make formal.
test: $(STAMP) traces lint
	$(PY) -m pytest tests sim -m "not slow" $(PYTEST_ARGS)

## The golden model, the registry and in-process RTL simulation: no traces, no synthesis tools needed.
test-golden: $(STAMP)
	$(PY) -m pytest tests -m "not trace and not tools" $(PYTEST_ARGS)

test-sim: $(STAMP) traces
	$(PY) -m pytest sim $(PYTEST_ARGS)

## Every test, slow ones included, then every RTL bench again under Verilator (CI runs that second pass on the
## headline units' benches only: see .ci/run)
test-full: $(STAMP) traces lint
	$(PY) -m pytest tests sim $(PYTEST_ARGS)
	SIM=verilator $(PY) -m pytest sim --ignore=sim/test_lint.py $(PYTEST_ARGS)

## Small default trace set of the real LLM (3 layers, 256 tokens) -> build/traces/default.npz (once).
traces: $(STAMP)
	$(PY) -m llmstudy.capture --if-missing

## Every layer, 1024 tokens -> build/traces/full.npz
traces-full: $(STAMP)
	$(PY) -m llmstudy.capture --full --if-missing

## The paper's Figure 2 on the full trace -> build/analysis/figure2.{md,json,png}
analysis: traces-full
	$(PY) -m llmstudy.analysis --trace build/traces/full.npz

## The paper's Table 8 and more: every scheme on the real LLM, perplexity and last-word accuracy
## -> build/accuracy/table8.{md,json,png}; QUICK=1 for a smoke run (1 window, 10 schemes)
accuracy: $(STAMP)
	$(PY) -m llmstudy.accuracy $(if $(QUICK),--quick) $(ACCURACY_ARGS)

## Accuracy against silicon (perplexity vs area per lane and energy per MAC, Pareto front)
## from build/accuracy/table8.json and build/synth-all/report.json (build/synth/report.json if there is no
## make synth-all report) -> build/frontier/frontier.{md,json,png}
frontier: $(STAMP)
	$(PY) -m llmstudy.frontier $(if $(wildcard build/synth-all/report.json),--synth build/synth-all/report.json)

## The model on the hardware: one 512-token window, all 30 layers, every linear layer and Q x K^T on the Verilated
## tile, against the integer golden path -> build/infer/<scheme>-<tile>/report.{md,json}; INFER_ARGS for more
infer: $(STAMP)
	$(PY) -m llmstudy.infer $(INFER_ARGS)

## The system table: QRazor W4A4, W4A8 and INT 8x8 on the 4x4x16 and 8x8x16 tiles, with the tiles' synthesis
## (python -m synth --table tile) -> build/infer/system.md
infer-all: $(STAMP)
	$(PY) -m synth --no-fpga --table tile --out build/synth_tile
	$(PY) -m llmstudy.infer --tile tile4x4_w4a4 --scheme "W4A4KV4 g16"
	$(PY) -m llmstudy.infer --tile tile4x4_w4a8 --scheme "W4A8KV4 g16"
	$(PY) -m llmstudy.infer --tile tile4x4_int8x8 --scheme W8A8KV8
	$(PY) -m llmstudy.infer --tile tile8x8_w4a4 --scheme "W4A4KV4 g16"
	$(PY) -m llmstudy.infer --tile tile8x8_int8x8 --scheme W8A8KV8
	$(PY) -m llmstudy.infer --system --synth build/synth_tile/report.json

## Main job: synthesize the headline units (area, timing, power; descriptors with headline=True) on every core
## -> build/synth/report.{md,json}, area_*.png. Results are cached per unit (build/cache/synth): a rerun or a killed
## run continues where it stopped. SYNTH_ARGS for more (e.g. --no-fpga, --jobs 1, unit names).
synth: $(STAMP) traces
	$(PY) -m synth $(if $(LIBERTY),--liberty $(LIBERTY)) $(SYNTH_ARGS)

## Every registered unit -> build/synth-all/report.{md,json} (shares the cache with make synth)
synth-all: $(STAMP) traces
	$(PY) -m synth --all --out build/synth-all $(if $(LIBERTY),--liberty $(LIBERTY)) $(SYNTH_ARGS)

## What each design change of the GEMM tile bought: the 4x4x16 W4A4 and INT 8x8 tiles synthesized once per step
## (area, f_max, TOPS/mm^2; cached per step) -> build/tile_steps/report.{md,json}
tile-steps: $(STAMP)
	$(PY) -m synth.tile_steps

## The 4x4x16 tiles (QRazor W4A4, W4A8, INT 8x8) and the 2x2x16 W4A4 tile with timed gate-level power on real
## traces (the tiles' TOPS/W) -> build/synth_tile/report.{md,json}; TILE_UNITS for others
TILE_UNITS ?= tile4x4_w4a4 tile4x4_w4a8 tile4x4_int8x8 tile2x2_w4a4
synth-tiles: $(STAMP) traces
	$(PY) -m synth --no-fpga --out build/synth_tile $(TILE_UNITS)

## Place and route of the largest GEMM tile that finishes here (2x2x16 W4A4; the 4x4x16 tile's placement alone
## runs for hours) -> build/pnr_tile/report.{md,json}
pnr-tile: $(STAMP)
	$(PY) -m synth.pnr tile2x2_w4a4 --out build/pnr_tile --cache build/cache/pnr_tile --timeout 10800

## FPGA figures: iCE40 and ECP5 (with DSP inference and -nodsp) -> build/fpga/report.{md,json}
fpga: $(STAMP)
	$(PY) -m synth.fpga

## Place and route with qflow on OSU 0.18 (graywolf, qrouter, vesta post-route, magic DRC, netgen LVS, GDS,
## PNG) -> build/pnr/report.{md,json}; PNR_UNITS="a b" for other units
pnr: $(STAMP)
	$(PY) -m synth.pnr $(PNR_UNITS)

## Formal proofs with Yosys' SAT solver, every group size 8..128 -> build/formal/report.{md,json}
## (make test runs the CI set: tests/test_formal.py)
formal: $(STAMP)
	$(PY) -m formal --full

## The generated tables of README.md and docs/results.md from the reports under build/ (synth-all, infer-all,
## formal, accuracy, frontier, pnr, analysis: the blocks marked <!-- generated: ... -->; python -m synth.results --help)
results: $(STAMP)
	$(PY) -m synth.results

readme: results

## Verilog of every registered unit -> build/verilog/ (python -m hdl.export --list names them)
verilog: $(STAMP)
	$(PY) -m hdl.export --out build/verilog

## SDR compress + decompress throughput (benchmark, not a test).
bench: $(STAMP)
	$(PY) -m llmstudy.bench

lint: $(STAMP)
	$(PY) -m ruff check golden hdl llmstudy synth sim tests formal

clean:
	rm -rf build out sim_build .pytest_cache
