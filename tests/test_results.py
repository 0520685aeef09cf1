"""The generated blocks of README.md and docs/results.md (``python -m synth.results``): every kind of block from
hand-made reports, each with its command and date, missing reports named and their blocks left alone, and the
documents written only once all of them were generated."""

import json

import pytest

from synth import results

ROW = dict(parts={"multiplier": 100.0}, per=1, cells=10, power_mw=1.0, critical_path_ns=5.0, fmax_mhz=200.0,
           gate_level_timed={"power_mw": 0.5})


def _synth(tmp_path):
    units = [dict(ROW, name="mac_int16x8", label="INT 16x8", area_um2=400.0),
             dict(ROW, name="mac_int8x8", label="INT 8x8", area_um2=200.0),
             dict(ROW, name="mac_dfree_w4a4", label="QRazor W4A4 dfree", area_um2=100.0,
                  gate_level_timed={"power_mw": 0.25})]
    path = tmp_path / "build" / "synth-all" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"meta": {"liberty": "/x/cells.lib", "clock_ns": 10.0}, "units": units}))
    return path


def test_every_block_kind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    syn = _synth(tmp_path)
    (tmp_path / "build" / "infer").mkdir(parents=True)
    (tmp_path / "build" / "infer" / "system.md").write_text("# Title\n\n| a |\n|---|\n| 1 |\n\n## Other\n\nmore\n"
                                                            "![pic](x.png)\n")
    doc = ("intro\n<!-- generated: headline -->\nold\n<!-- end generated -->\n"
           "<!-- generated: synth mac -->\n<!-- end generated -->\n"
           "<!-- generated: file build/infer/system.md#Other -->\n<!-- end generated -->\n"
           "<!-- generated: file build/formal/report.md -->\nkept\n<!-- end generated -->\nend\n")
    out, missing = results.rewrite(doc, "build/synth-all/report.json")
    assert missing == ["build/formal/report.md"] and "kept" in out and "old" not in out
    assert "`make synth-all` -> `build/synth-all/report.json`" in out and "| QRazor W4A4 dfree | mac | INT 8x8 | " \
        "**0.500x** | **0.500x** | timed gate-level, real traces | 200 |" in out
    assert "*`make infer-all` -> `build/infer/system.md`, " in out and "more" in out and "| 1 |" not in out
    assert "![pic]" not in out and out.endswith("end\n") and syn.exists()


def test_bad_blocks_and_reports_are_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(results.ResultsError, match="unknown generated block kind 'nope'"):
        results.rewrite("<!-- generated: nope -->\n<!-- end generated -->\n", "none.json")
    (tmp_path / "r.md").write_text("x\n")
    with pytest.raises(results.ResultsError, match="no command is known to make r.md"):
        results.rewrite("<!-- generated: file r.md -->\n<!-- end generated -->\n", "none.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    (tmp_path / "doc.md").write_text("<!-- generated: synth mac -->\n<!-- end generated -->\n")
    (tmp_path / "other.md").write_text("<!-- generated: nope -->\n<!-- end generated -->\n")
    with pytest.raises(SystemExit, match="bad.json is not a synthesis report"):
        results.main(["--synth", "bad.json", "doc.md"])
    with pytest.raises(SystemExit, match="other.md: unknown generated block kind"):
        results.main(["--synth", str(_synth(tmp_path)), "doc.md", "other.md"])
    assert (tmp_path / "doc.md").read_text() == "<!-- generated: synth mac -->\n<!-- end generated -->\n"
