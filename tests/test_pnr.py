"""Place and route (synth.pnr): a smoke run of qflow on the smallest MAC (about 15 s), the DEF parser on the
routed result, and clear errors for bad options. ``make pnr`` runs the full set."""

import pytest

from hdl.unit import get
from synth import pnr


@pytest.mark.tools
def test_mac_places_routes_and_passes_drc_and_lvs(tmp_path):
    r = pnr.place_and_route(get("mac_dfree_w4a4"), tmp_path / "mac", density=0.6, timeout=900)
    assert r["drc_errors"] == 0 and r["lvs_match"] and r["lvs_errors"] == 0
    assert 0.3 < r["utilization"] < 0.8                      # placed near the asked density
    assert r["cells"] > 100 and r["cell_area_um2"] < r["die_um2"]
    assert r["wire_um"] > 1000                                # it is routed
    assert r["fmax_post_route_mhz"] and r["fmax_post_route_mhz"] <= 1.2 * r["fmax_pre_route_mhz"]
    assert (tmp_path / "mac" / "mac_dfree_w4a4_layout.png").stat().st_size > 5000
    assert r["gds"] and r["drc_rules"] == []
    again = pnr.parse_def(tmp_path / "mac" / "mac_dfree_w4a4.def")
    assert again["die_um2"] == r["die_um2"]


@pytest.mark.tools
def test_drc_violation_is_reported_by_rule_and_lvs_still_runs(tmp_path):
    """The W8 decoder's flag port is 4 bits wide but its flags need 3: the unused flag[3] stays an unrouted
    0.4 x 0.4 um Metal3 pin, below the layer's minimum area. qflow 1.3 stops at that DRC violation; the flow
    names it, still runs LVS, writes no GDS and draws the picture from the DEF."""
    r = pnr.place_and_route(get("sdr_decoder_w8k4"), tmp_path / "dec", density=0.6, timeout=900)
    assert r["drc_errors"] >= 1 and sum(n for _, n in r["drc_rules"]) == r["drc_errors"]
    assert any("Metal3" in rule for rule, _ in r["drc_rules"])
    assert r["lvs_match"] and r["lvs_errors"] == 0 and not r["gds"]
    assert (tmp_path / "dec" / "sdr_decoder_w8k4_layout.png").stat().st_size > 5000
    assert "no GDS" in pnr.report_markdown([r], [], dict(density=0.6))


def test_bad_options_are_usage_errors(tmp_path, capsys):
    for argv, msg in ((["--density", "2"], "--density must be within"), (["no_such_unit"], "no_such_unit"),
                      (["--timeout", "0"], "--timeout must be at least")):
        with pytest.raises(SystemExit) as e:
            pnr.main([*argv, "--out", str(tmp_path)])
        assert e.value.code == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()          # nothing written before the options are checked


def test_report_ratios_from_results():
    base = dict(lvs_match=True, lvs_errors=0, drc_errors=0, seconds=1.0, fmax_pre_route_mhz=100.0,
                fmax_post_route_mhz=90.0, die_w_um=10, die_h_um=10, cells=10, utilization=0.5, wire_um=100.0)
    rs = [dict(base, name="mac_dfree_w4a4", label="a", die_um2=50.0, cell_area_um2=25.0),
          dict(base, name="mac_int16x8", label="b", die_um2=100.0, cell_area_um2=50.0)]
    synth = {"units": [{"name": "mac_dfree_w4a4", "area_um2": 30.0}, {"name": "mac_int16x8", "area_um2": 60.0}]}
    md = pnr.report_markdown(rs, [], dict(density=0.6), synth)
    assert "| a | b | 0.500 | 0.500 | 0.500 |" in md
