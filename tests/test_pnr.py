"""Place and route (synth.pnr): a smoke run of qflow on the smallest MAC (about 15 s), the DEF parser on the
routed result, and clear errors for bad options. ``make pnr`` runs the full set."""

import pytest

from hdl.catalog import get
from synth import pnr


@pytest.mark.tools
def test_mac_places_routes_and_passes_drc_and_lvs(tmp_path, capsys):
    """Through the CLI: the run, then a rerun from the cache (same figures, nothing placed again), and a run of
    another selection that keeps this unit's row."""
    import json
    args = ["--out", str(tmp_path), "--cache", str(tmp_path / "cache"), "--timeout", "900", "--jobs", "1"]
    assert pnr.main([*args, "mac_dfree_w4a4"]) == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    (r,) = rep["units"]
    assert r["drc_errors"] == 0 and r["lvs_match"] and r["lvs_errors"] == 0 and not r["cached"]
    assert 0.3 < r["utilization"] < 0.8                      # placed near the asked density
    assert r["cells"] > 100 and r["cell_area_um2"] < r["die_um2"]
    assert r["wire_um"] > 1000                                # it is routed
    assert r["fmax_post_route_mhz"] and r["fmax_post_route_mhz"] <= 1.2 * r["fmax_pre_route_mhz"]
    assert (tmp_path / "mac_dfree_w4a4" / "mac_dfree_w4a4_layout.png").stat().st_size > 5000
    assert r["gds"] and r["drc_rules"] == []
    again = pnr.parse_def(tmp_path / "mac_dfree_w4a4" / "mac_dfree_w4a4.def")
    assert again["die_um2"] == r["die_um2"]
    capsys.readouterr()
    assert pnr.main([*args, "mac_dfree_w4a4"]) == 0
    assert "(1 from the cache)" in capsys.readouterr().err
    (c,) = json.loads((tmp_path / "report.json").read_text())["units"]
    assert c["cached"] and {k: v for k, v in c.items() if k != "cached"} == \
        {k: v for k, v in r.items() if k != "cached"}
    rows = pnr._earlier_rows(tmp_path / "report.json", {"mac_int8x8"})
    assert [x["name"] for x in rows] == ["mac_dfree_w4a4"] and rows[0]["kept_from_earlier_run"]


@pytest.mark.tools
@pytest.mark.slow                                   # about a minute; the clean MAC route above runs in make test
def test_drc_violation_and_lvs_mismatch_are_reported(tmp_path):
    """At density 0.6 qrouter ends one route of the conventional W4A4 MAC with a via beside NAND3X1_130's pin A
    (qflow 1.3.17, qrouter 1.4 here): its lone 0.4 x 0.4 um Metal1 pad is below the minimum area, and the pin is
    left unconnected. qflow stops at the DRC violation; the flow names the rule, still runs LVS, reports the
    unmatched pin, writes no GDS and draws the picture from the DEF. (``make pnr`` then places it again at 0.58,
    which routes clean: ``test_a_run_that_is_not_clean_is_placed_again``.)"""
    r = pnr.place_and_route(get("mac_conv_w4a4"), tmp_path / "conv", density=0.6, timeout=900, retries=0)
    assert r["drc_errors"] >= 1 and sum(n for _, n in r["drc_rules"]) == r["drc_errors"]
    assert any("Metal1" in rule for rule, _ in r["drc_rules"])
    assert not r["lvs_match"] and r["lvs_errors"] >= 1 and any("/" in n for n in r["lvs_unmatched"])
    assert not r["gds"] and r["attempts"][0]["lvs_unmatched"] == r["lvs_unmatched"]
    assert (tmp_path / "conv" / "mac_conv_w4a4_layout.png").stat().st_size > 5000
    md = pnr.report_markdown([r], [], dict(density=0.6, retries=0))
    assert "no GDS" in md and "unmatched: " in md


def test_bad_options_are_usage_errors(tmp_path, capsys):
    for argv, msg in ((["--density", "2"], "--density must be within"), (["no_such_unit"], "no_such_unit"),
                      (["--retries", "-1"], "--retries must be within"),
                      (["--timeout", "0"], "--timeout must be at least")):
        with pytest.raises(SystemExit) as e:
            pnr.main([*argv, "--out", str(tmp_path)])
        assert e.value.code == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()          # nothing written before the options are checked
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(SystemExit, match="is not a synthesis report"):
        pnr.main(["--synth", str(tmp_path / "bad.json"), "--out", str(tmp_path), "mac_int8x8"])


def test_report_ratios_from_results():
    base = dict(lvs_match=True, lvs_errors=0, drc_errors=0, seconds=1.0, density=0.6, fmax_pre_route_mhz=100.0,
                fmax_post_route_mhz=90.0, die_w_um=10, die_h_um=10, cells=10, utilization=0.5, wire_um=100.0)
    rs = [dict(base, name="mac_dfree_w4a4", label="a", die_um2=50.0, cell_area_um2=25.0),
          dict(base, name="mac_int16x8", label="b", die_um2=100.0, cell_area_um2=50.0)]
    synth = {"units": [{"name": "mac_dfree_w4a4", "area_um2": 30.0}, {"name": "mac_int16x8", "area_um2": 60.0}]}
    md = pnr.report_markdown(rs, [], dict(density=0.6), synth)
    assert "| a | b | 0.500 | 0.500 | 0.500 |" in md


COMP_OUT = """Net: INVX2_32/A                            |Net: _1257_
  AOI21X1/C = 1                            |  NOR2X1/Y = 1

Net: NAND3X1_130/A                         |(no matching net)
  NAND3X1/A = 1                            |
(no matching net)                          |Net: _99_
"""


def test_lvs_unmatched_nets_are_named(tmp_path):
    (tmp_path / "comp.out").write_text(COMP_OUT)
    assert pnr.lvs_unmatched(tmp_path / "comp.out") == ["NAND3X1_130/A", "_99_"]
    assert pnr.lvs_unmatched(tmp_path / "missing.out") == []


def _fake_qflow(outcomes):
    """A stand-in for one qflow run: the run directory and figures with the next (drc, lvs errors) outcome."""
    calls = []

    def run(unit, work, density, timeout):
        drc, lvs = outcomes[len(calls)]
        calls.append(density)
        (work / "source").mkdir(parents=True)
        return dict(name=unit.name, label=unit.label, density=density, seconds=1.0, drc_errors=drc,
                    drc_rules=[("Metal1 area", drc)] if drc else [], lvs_errors=lvs, lvs_match=not lvs,
                    lvs_unmatched=["NAND3X1_130/A"] if lvs else [], die_um2=100.0 / density)
    return run, calls


@pytest.mark.parametrize("outcomes, kept, tried", [
    (((0, 0),), 0.6, [0.6]),                                  # clean first time: no retry
    (((1, 2), (0, 0)), 0.58, [0.6, 0.58]),                    # the first clean run is kept
    (((1, 2), (1, 0), (1, 0)), 0.6, [0.6, 0.58, 0.56]),       # none clean: the requested density's run is kept
])
def test_a_run_that_is_not_clean_is_placed_again(tmp_path, monkeypatch, outcomes, kept, tried):
    run, calls = _fake_qflow(outcomes)
    monkeypatch.setattr(pnr, "_qflow", run)
    monkeypatch.setattr(pnr, "render", lambda src, png: None)
    monkeypatch.setattr(pnr.shutil, "which", lambda tool: "/usr/bin/" + tool)
    r = pnr.place_and_route(get("mac_conv_w4a4"), tmp_path / "mac", density=0.6, retries=2)
    assert calls == tried and r["density"] == kept
    assert [a["density"] for a in r["attempts"]] == tried
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mac"]       # the other attempts are removed
    md = pnr.report_markdown([dict(r, cells=1, cell_area_um2=1.0, die_w_um=1, die_h_um=1, utilization=0.5,
                                   wire_um=1.0, fmax_pre_route_mhz=None, fmax_post_route_mhz=None)], [],
                             dict(density=0.6, retries=2))
    assert ("kept density" in md) == (len(tried) > 1)


def test_bad_retries_are_errors(tmp_path):
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="retries must be a whole number"):
            pnr.place_and_route(get("mac_dfree_w4a4"), tmp_path / "x", retries=bad)
    with pytest.raises(ValueError, match="would place below density 0.1"):
        pnr.place_and_route(get("mac_dfree_w4a4"), tmp_path / "x", density=0.12, retries=2)


def test_def_is_read_with_klayout(tmp_path):
    """A hand-written DEF over the real cell LEF: die, cells (fill and vias left out), cell area from the macros'
    SIZE, and the routed wire length of the centre lines (a 3-point path and a NEW segment)."""
    lef = pnr.TECH_DIR / "osu018_stdcells.lef"
    sizes = pnr.lef_sizes(str(lef))
    d = tmp_path / "t.def"
    d.write_text("""VERSION 5.6 ;
DIVIDERCHAR "/" ;
BUSBITCHARS "<>" ;
DESIGN t ;
UNITS DISTANCE MICRONS 100 ;
DIEAREA ( 0 0 ) ( 10000 5000 ) ;
COMPONENTS 3 ;
- u1 INVX1 + PLACED ( 1000 1000 ) N ;
- u2 NAND2X1 + PLACED ( 3000 1000 ) N ;
- f1 FILL + PLACED ( 5000 1000 ) N ;
END COMPONENTS
NETS 1 ;
- n1 ( u1 Y ) ( u2 A )
  + ROUTED metal1 ( 1000 2000 ) ( 3000 * ) ( * 4000 )
  NEW metal2 ( 3000 4000 ) ( 3500 * ) ;
END NETS
END DESIGN
""")
    r = pnr.parse_def(d, lef)
    assert r["die_w_um"] == pytest.approx(100) and r["die_h_um"] == pytest.approx(50) and r["cells"] == 2
    assert r["cell_area_um2"] == pytest.approx(sizes["INVX1"][0] * sizes["INVX1"][1]
                                               + sizes["NAND2X1"][0] * sizes["NAND2X1"][1])
    assert r["wire_um"] == pytest.approx(20 + 20 + 5)
    (tmp_path / "bad.def").write_text("not a def")
    with pytest.raises(ValueError, match="bad.def"):
        pnr.parse_def(tmp_path / "bad.def", lef)
