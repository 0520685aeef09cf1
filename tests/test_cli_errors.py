"""Command-line tools answer a user's mistake with one clear line (the value and what is accepted), never a
traceback, and before any work starts where the mistake can be seen."""

import pytest


def _exit_message(main, argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    code = e.value.code
    return code if isinstance(code, str) else capsys.readouterr().err


@pytest.mark.parametrize("module,argv,msg", [
    ("hdl.export", ["nope"], "export: unknown unit 'nope'; known units: "),
    ("hdl.export", ["--out", "/proc/qrazor", "mac_int8x8"], "export: cannot write to /proc/qrazor: "),
    ("hdl.export", ["--custom", "dot", "lanes=4", "lanes=8"], "parameter lanes given twice (lanes=4 and lanes=8)"),
    ("hdl.export", ["--custom", "dot", "lanes=-16"], "lanes must be in [1, 64], not -16"),
    ("hdl.export", ["--name", "x", "mac_fp16"], "--name names a --custom unit"),
    ("hdl.export", ["--list", "bogus"], "--list takes no unit names"),
    ("hdl.export", ["--custom", "tile", "rows=16", "cols=16", "lanes=64", "group_size=1"],
     "is large: elaborating it would take about 8 min here"),
    ("synth.__main__", ["--clock-ns", "abc"], "'abc' is not a number of nanoseconds"),
    ("synth.__main__", ["--clock-ns", "inf"], "inf ns is outside [0.5, 1000] ns"),
    ("synth.__main__", ["--jobs", "0"], "0 jobs is outside [1, 64]"),
    ("synth.__main__", ["--jobs", "two"], "'two' is not a whole number of jobs"),
    ("synth.__main__", ["--table", "nope"], "synth: unknown table(s) ['nope']"),
    ("synth.__main__", ["mac_int8x8", "nope"], "synth: unknown unit 'nope'"),
    ("synth.__main__", ["--table", "dot16", "mac_fp16"], "matches no unit; nothing to synthesize"),
    ("synth.__main__", ["--all", "mac_fp16"], "--all and unit names ['mac_fp16'] exclude each other"),
    ("synth.__main__", ["--out", "/proc/qrazor", "mac_int8x8"], "synth: cannot write to output folder /proc/qrazor"),
    ("synth.__main__", ["--out", "/dev/null", "mac_int8x8"], "synth: output folder /dev/null is a file"),
    ("synth.__main__", ["--liberty", "/tmp", "mac_int8x8"], "liberty file /tmp is a folder; give the .lib file"),
    ("synth.__main__", ["--liberty", "pyproject.toml", "mac_int8x8"],
     "liberty file pyproject.toml cannot be read as a liberty library"),
    ("synth.results", ["--synth", "pyproject.toml"], "cannot read the synthesis report pyproject.toml"),
    ("llmstudy.analysis", ["--out", "/dev/null"], "analysis: output folder /dev/null is a file"),
    ("llmstudy.frontier", ["--out", "/proc/qrazor"], "frontier: cannot write to output folder /proc/qrazor"),
    ("llmstudy.accuracy", ["--out", "/dev/null"], "--out: output folder /dev/null is a file"),
    ("synth.fpga", ["--out", "/proc/qrazor", "mac_int8x8"], "fpga: cannot write to output folder /proc/qrazor"),
    ("synth.fpga", ["--jobs", "0"], "--jobs 0 is outside [1, 64]"),
    ("synth.fpga", ["sdr_encoder_a16k4_g8x"], "fpga: unknown unit"),
    ("llmstudy.infer", ["--scheme", "RTN W4A4 g16"], "integer inference runs QRazor schemes"),
    ("llmstudy.infer", ["--tokens", "1"], "--tokens must be at least 2"),
    ("llmstudy.infer", ["--workers", "0"], "--workers must be at least 1, not 0"),
    ("llmstudy.infer", ["--out", "/proc/qrazor"], "--out /proc/qrazor: cannot write there"),
    ("formal.__main__", ["nope"], "formal: unknown proof(s) ['nope']"),
    ("formal.__main__", ["--jobs", "0"], "formal: --jobs 0: expected 1..64"),
    ("formal.__main__", ["enc_a16k4_g128"], "are in the full set: add --full"),
    ("formal.__main__", ["--out", "/proc/qrazor", "enc_a16k4_g8"], "formal: cannot write to output folder /proc"),
    ("llmstudy.analysis", ["--trace", "/nonexistent.npz"], "analysis: trace file /nonexistent.npz does not exist"),
    ("llmstudy.capture", ["--layers", "3", "-1"], "--layers -1: layer indices start at 0"),
    ("llmstudy.capture", ["--tokens", "0"], "--tokens 0: expected at least 1"),
    ("llmstudy.capture", ["--out", "/tmp"], "--out /tmp is a folder; give the trace file's path"),
    ("llmstudy.capture", ["--seed", "-1"], "--seed -1: window indices start at 0"),
    ("llmstudy.bench", ["--elements", "-5"], "--elements -5: expected a multiple of the group size 16"),
    ("llmstudy.bench", ["--elements", "100"], "--elements 100: expected a multiple of the group size 16"),
    ("llmstudy.bench", ["--group", "7"], "--group 7: group_size must be a power of two"),
    ("llmstudy.bench", ["--repeat", "0"], "--repeat 0: expected at least 1"),
    ("llmstudy.bench", ["--seed", "-3"], "--seed -3: expected a seed >= 0"),
    ("llmstudy.capture", ["--model", "/nonexistent.gguf"], "--model /nonexistent.gguf: no such file or folder"),
])
def test_cli_error_is_one_clear_line(module, argv, msg, capsys):
    import importlib
    main = importlib.import_module(module).main
    out = _exit_message(main, argv, capsys)
    assert msg in out and "Traceback" not in out


def test_outputs_are_written_whole_or_not_at_all(tmp_path):
    """An interrupted writer leaves neither the output nor its temporary file; a finished one leaves the output."""
    from llmstudy.settings import write_atomic
    out = tmp_path / "figure.png"

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_atomic(out, broken)
    assert list(tmp_path.iterdir()) == []
    write_atomic(out, lambda tmp: tmp.write_bytes(b"png"))
    write_atomic(tmp_path / "t.md", "text")
    assert out.read_bytes() == b"png" and (tmp_path / "t.md").read_text() == "text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png", "t.md"]
