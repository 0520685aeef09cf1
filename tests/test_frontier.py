"""The accuracy-cost frontier (llmstudy.frontier) and the accuracy report's comparisons (llmstudy.accuracy), on
hand-made report files: which hardware stands for which scheme, the per-lane arithmetic, the Pareto front, and
clear errors when a report is missing. No model and no synthesis needed."""

import json

import pytest

from llmstudy import accuracy, frontier, llm


def _unit(name, area, per, mw, timed=None):
    r = {"name": name, "area_um2": area, "per": per, "power_mw": mw}
    if timed is not None:
        r["gate_level_timed"] = {"power_mw": timed}
    return r


def _reports():
    units = [_unit("dot16_w4a4", 1600.0, 16, 1.6, timed=0.8),
             _unit("sdr_encoder_a16k4_g16", 3200.0, 16, 0.32, timed=0.16),
             _unit("dot16_w4a4_g8", 2000.0, 16, 2.0), _unit("sdr_encoder_a16k4_g8", 1600.0, 8, 0.16),
             _unit("dot16_int8x8", 8000.0, 16, 4.0), _unit("dot16_int8x8_merged", 6400.0, 16, 3.2),
             _unit("sdr_encoder_a16k4_g32", 6400.0, 32, 0.64)]
    res = {"W4A4 g16": {"perplexity": 40.0}, "W4A4 g8": {"perplexity": 30.0, "last_word_acc": 0.25},
           "W4A4 g32": {"perplexity": 60.0}, "W8A8": {"perplexity": 35.0}, "W4A8 g16": {"perplexity": 20.0}}
    return {"meta": {}, "results": res}, {"meta": {"clock_ns": 10.0}, "units": units}


def test_points_per_lane_arithmetic_and_stand_ins():
    acc, syn = _reports()
    pts = {p["scheme"]: p for p in frontier.points(acc, syn)}
    assert set(pts) == {"W4A4 g16", "W4A4 g8", "W4A4 g32", "W8A8"}      # W4A8 g16 has no unit here: left out
    p = pts["W4A4 g16"]
    assert p["area_per_lane"] == pytest.approx(1600 / 16 + 3200 / 16 / 16)
    assert p["energy_pj_per_mac"] == pytest.approx(0.8 * 10 / 16 + 0.16 * 10 / 16 / 16)   # timed power preferred
    assert p["power_source"] == "gate-level timed" and not p["stand_in"]                  # for both parts
    assert pts["W4A4 g32"]["power_source"] == "gate-level timed; quantizer OpenSTA"       # its encoder: no sim
    assert pts["W4A4 g32"]["unit"] == "dot16_w4a4" and pts["W4A4 g32"]["stand_in"]      # same circuit for g >= 16
    assert pts["W4A4 g8"]["unit"] == "dot16_w4a4_g8" and pts["W4A4 g8"]["power_source"] == "OpenSTA"
    assert pts["W8A8"]["unit"] == "dot16_int8x8_merged" and pts["W8A8"]["quantizer_area_per_lane"] == 0


def test_pareto_front():
    pts = [dict(scheme="a", perplexity=10.0, c=5.0), dict(scheme="b", perplexity=20.0, c=1.0),
           dict(scheme="c", perplexity=25.0, c=2.0), dict(scheme="d", perplexity=10.0, c=6.0),
           dict(scheme="e", perplexity=9.0, c=9.0)]
    assert frontier.pareto(pts, "c") == {"a", "b", "e"}


def test_main_writes_the_report(tmp_path):
    acc, syn = _reports()
    (tmp_path / "a.json").write_text(json.dumps(acc))
    (tmp_path / "s.json").write_text(json.dumps(syn))
    frontier.main(["--accuracy", str(tmp_path / "a.json"), "--synth", str(tmp_path / "s.json"),
                   "--out", str(tmp_path / "out")])
    md = (tmp_path / "out" / "frontier.md").read_text()
    assert "Pareto front, perplexity against area" in md and "W4A4 g8" in md
    assert (tmp_path / "out" / "frontier.png").stat().st_size > 1000
    got = json.loads((tmp_path / "out" / "frontier.json").read_text())
    assert set(got["pareto_area"]) <= {p["scheme"] for p in got["points"]}


def test_missing_or_bad_reports_are_named(tmp_path):
    with pytest.raises(SystemExit, match="run `make accuracy` first"):
        frontier.main(["--accuracy", str(tmp_path / "none.json"), "--synth", str(tmp_path / "none2.json")])
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(SystemExit, match="not valid JSON"):
        frontier.main(["--accuracy", str(tmp_path / "a.json")])
    acc, syn = _reports()
    syn["units"] = []
    (tmp_path / "a.json").write_text(json.dumps(acc))
    (tmp_path / "s.json").write_text(json.dumps(syn))
    with pytest.raises(SystemExit, match="no scheme has both"):
        frontier.main(["--accuracy", str(tmp_path / "a.json"), "--synth", str(tmp_path / "s.json"),
                       "--out", str(tmp_path / "o")])


def test_accuracy_report_comparisons():
    """Equal g, equal bits (QRazor g against RTN 4g), and the decomposition, from made-up results."""
    res = {"float": {"perplexity": 20.0}, "W8A16": {"perplexity": 20.5}}
    for g in accuracy.GROUPS:
        res[f"W4A4 g{g}"] = {"perplexity": 30.0 + g, "last_word_acc": 0.2, "last_word_ppl": 50.0, "last_words": 10}
        res[f"W4A16 g{g}"] = {"perplexity": 22.0 + g / 10}
        res[f"W8A4 g{g}"] = {"perplexity": 25.0 + g}
    for g in llm.RTN_GROUPS:
        res[f"RTN W4A4 g{g}"] = {"perplexity": 29.0 + g / 2}
    t = " ".join(accuracy.trends(res))
    assert "RTN INT4 W4A4 is more accurate than QRazor W4A4 at 5 of 5 g" in t
    assert "QRazor W4A4 is more accurate at 5 of 5 points" in t         # 30+g < 29+2g
    assert "costs more than razoring the weights (W4A16) at 5 of 5" in t
    meta = dict(model="m", eval_tokens=10, evaluation="e", windows=1, seq_len=10, calibration_tokens=5,
                calibration="c", source="s")
    md = accuracy.report_markdown(res, meta)
    assert "Q4_1-dequantized reference" in md and "LAMBADA" in md and "QuaRot" in md
    assert "| 4.25 | g16 | 46.00 | 20.0 % | g64 | 61.00 | - |" in md


def test_accuracy_report_states_the_noise():
    """The report gives last-word accuracy's binomial standard error and the windows' perplexity spread."""
    res = {"float": {"perplexity": 20.0, "last_word_acc": 0.25, "last_word_ppl": 100.0, "last_words": 100,
                     "window_perplexity": [18.0, 23.5]}}
    meta = dict(model="m", eval_tokens=1000, evaluation="e", windows=2, seq_len=500, calibration_tokens=5,
                calibration="c", source="s", last_words=100)
    md = accuracy.report_markdown(res, meta)
    assert "rests on 100 words: one word is 1.0 points" in md and "standard error at the reference's 25.0 % is " \
        "4.3 points" in md
    assert "18.0 to 23.5 across the 2 windows" in md


@pytest.mark.parametrize("change, msg", [
    (lambda a, s: a["results"]["W8A8"].update(perplexity=float("nan")), "scheme 'W8A8': perplexity nan"),
    (lambda a, s: a["results"]["W8A8"].update(perplexity=-3.0), "scheme 'W8A8': perplexity -3.0"),
    (lambda a, s: s["units"][0].update(area_um2=-1.0), "unit dot16_w4a4: area_um2 -1.0"),
    (lambda a, s: s["meta"].update(clock_ns=0), "clock_ns 0 is not a finite positive number"),
    (lambda a, s: a.pop("results"), "the accuracy report is not an object with 'results'"),
])
def test_reports_with_impossible_values_are_refused(change, msg, tmp_path):
    acc, syn = _reports()
    change(acc, syn)
    (tmp_path / "a.json").write_text(json.dumps(acc))
    (tmp_path / "s.json").write_text(json.dumps(syn))
    with pytest.raises(SystemExit, match=msg):
        frontier.main(["--accuracy", str(tmp_path / "a.json"), "--synth", str(tmp_path / "s.json"),
                       "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o" / "frontier.md").exists()
