"""Trace files, the text corpus, razor() with short groups, RTN group-wise quantization, Figure 2 stats."""

import json
import shutil
import zipfile

import numpy as np
import pytest

from golden import quant, sdr
from llmstudy import analysis, text, traces


def _trace(rng):
    ts = traces.TraceSet({"model": "m", "text_source": "t", "seed": 3})
    ts.tensors["layer02.q_proj.weight"] = traces.make_tensor(
        "layer02.q_proj.weight", rng.integers(-127, 128, (8, 32), dtype=np.int8), rng.random(8) + 0.1,
        "per output channel")
    ts.tensors["layer02.attn_in.input"] = traces.make_tensor(
        "layer02.attn_in.input", rng.integers(-32767, 32768, (4, 32), dtype=np.int16), 0.01, "per tensor")
    ts.tensors["layer02.key"] = traces.make_tensor(
        "layer02.key", rng.integers(-127, 128, (3, 4, 16), dtype=np.int8), rng.random(3) + 0.1, "per head")
    return ts


def test_roundtrip(tmp_path):
    ts = _trace(np.random.default_rng(0))
    back = traces.load(traces.save(tmp_path / "a.npz", ts), expect={"model": "m"})
    assert back.meta["seed"] == 3 and back.meta["version"] == traces.VERSION and back.layers == [2]
    for name, t in ts.tensors.items():
        np.testing.assert_array_equal(back.tensors[name].data, t.data)
        np.testing.assert_array_equal(back.tensors[name].scale, t.scale)
    k = back.tensors["layer02.key"]
    np.testing.assert_allclose(k.dequantized()[1], k.data[1] * k.scale[1])


def test_rejects_corrupt_truncated_and_mismatched(tmp_path):
    path = traces.save(tmp_path / "a.npz", _trace(np.random.default_rng(1)))
    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(traces.TraceError, match="corrupt or truncated"):
        traces.load(tmp_path / "trunc.npz")
    with zipfile.ZipFile(path) as zf:
        members = [i.header_offset + 30 + len(i.filename) + i.compress_size // 2 for i in zf.infolist()]
    for pos in members:                               # one flipped byte inside each member's data
        flipped = bytearray(raw)
        flipped[pos] ^= 0x55
        (tmp_path / "flip.npz").write_bytes(bytes(flipped))
        with pytest.raises(traces.TraceError, match="CRC|corrupt"):
            traces.load(tmp_path / "flip.npz")
    with pytest.raises(traces.TraceError, match="metadata model='m', expected 'other'"):
        traces.load(path, expect={"model": "other"})
    with pytest.raises(traces.TraceError, match="does not exist"):
        traces.load(tmp_path / "missing.npz")


def _rewrite(src, dst, edit_meta=None, edit_arrays=None):
    with np.load(src) as z:
        arrays = {n: z[n] for n in z.files}
    meta = json.loads(bytes(arrays.pop("__meta__")).decode())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)
    return dst


def test_rejects_inconsistent_contents(tmp_path):
    path = traces.save(tmp_path / "a.npz", _trace(np.random.default_rng(2)))
    cases = [
        (lambda m: m.update(version=99), None, "format version 99"),
        (lambda m: m.update(format="other"), None, "format 'other'"),
        (lambda m: m["tensors"]["layer02.key"].update(shape=[3, 4, 8]), None, "has shape"),
        (None, lambda a: a.__setitem__("layer02.key", a["layer02.key"][::-1].copy()), "SHA-256"),
        (None, lambda a: a.pop("layer02.key.scale"), "missing"),
        (None, lambda a: a.__setitem__("stray", np.zeros(1)), "not described"),
    ]
    for i, (em, ea, msg) in enumerate(cases):
        bad = _rewrite(path, tmp_path / f"bad{i}.npz", em, ea)
        with pytest.raises(traces.TraceError, match=msg):
            traces.load(bad)


def test_rejects_values_outside_absmax_range(tmp_path):
    ts = _trace(np.random.default_rng(3))
    ts.tensors["layer02.q_proj.weight"].data[0, 0] = -128
    with pytest.raises(traces.TraceError, match="outside"):
        traces.load(traces.save(tmp_path / "a.npz", ts))


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(traces.TraceError):
        traces.load(p)
    assert not zipfile.is_zipfile(p)


def test_text_corpus_is_real_and_disjoint():
    novels = text.load_novels()
    cal, ev = novels[text.CALIBRATION], novels[text.EVALUATION]
    assert "Emma Woodhouse" in cal[:2000] and "Elizabeth" in ev and len(ev) > 500_000
    assert cal[:10_000] not in ev
    with pytest.raises(ValueError, match="novel must be one of"):
        text.novel_text("ulysses")


def test_text_corpus_rejects_damaged_files(tmp_path):
    src = text.find_rdb()
    rdb, rdx = tmp_path / "Rdata.rdb", tmp_path / "Rdata.rdx"
    shutil.copy(src.with_suffix(".rdx"), rdx)
    rdb.write_bytes(src.read_bytes()[:100_000])
    with pytest.raises(text.CorpusError, match="outside|truncated|decompress"):
        text.load_novels(rdb)
    rdx.write_bytes(b"not gzip")
    with pytest.raises(text.CorpusError, match="gzip"):
        text.load_novels(rdb)
    rdx.unlink()
    with pytest.raises(text.CorpusError, match="missing"):
        text.load_novels(rdb)


def test_razor_short_last_group_equals_group_of_its_own():
    rng = np.random.default_rng(4)
    x = rng.integers(-32767, 32768, (5, 40)).astype(np.int16)
    fmt = sdr.A16_K4.with_group(16)
    got = sdr.razor(x, fmt)
    np.testing.assert_array_equal(got[:, :32], sdr.decompress(sdr.compress(x[:, :32], fmt)))
    tail = x[:, 32:]                                   # 8 elements razored as one group of 8
    np.testing.assert_array_equal(got[:, 32:], sdr.decompress(sdr.compress(tail, sdr.A16_K4.with_group(8))))
    padded = np.concatenate([x, np.zeros((3, 40), np.int16)])  # the 5-row short group, as a group of 8
    np.testing.assert_array_equal(sdr.razor(x, fmt, axis=0),
                                  sdr.decompress(sdr.compress_reference(padded, fmt.with_group(8), 0))[:5])


def test_rtn_groupwise():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 200))
    q, s = quant.rtn_groupwise(x, 4, 128)
    assert q.shape == x.shape and s.shape == (3, 2) and np.abs(q).max() == 7
    y = quant.rtn_dequantize(q, s, 128)
    step = np.repeat(s, 128, axis=1)[:, :200]
    assert (np.abs(y - x) <= step / 2 + 1e-3 * step).all()   # half a step (the FP16 scale rounds slightly)
    q0, s0 = quant.rtn_groupwise(np.zeros((2, 4)), 4, 4)
    assert (q0 == 0).all() and (s0 == 1).all()
    with pytest.raises(ValueError, match="non-finite"):
        quant.rtn_groupwise(np.array([1.0, np.nan]), 4, 2)


def test_group_stats_counts():
    x = np.array([[0, 1, 2, 3, 0, 0, 0, 0], [1000, 3, 0, 0, -5000, 7, 8, 0]], dtype=np.int16)
    s = analysis.group_stats(x, sdr.A16_K4.with_group(4), -1)
    # group ORs: 3 -> bit 1; 0 -> none; 1003|... -> bit 9; 5000|15 -> bit 12
    assert s["groups"] == 4 and s["hist"][0] == 1 and s["hist"][2] == 1 and s["hist"][10] == 1 and s["hist"][13] == 1
    assert s["high"] == 1 and s["zero_before"] == 8
    assert s["zero_after"] == 8 + 1 + 2                # 3 -> 0 at flag 7; 7, 8 -> 0 at flag 10


def test_cli_argument_errors(capsys):
    from llmstudy import accuracy
    with pytest.raises(SystemExit):
        accuracy.main(["--schemes", "W2A2"])
    assert "unknown scheme 'W2A2'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        accuracy.main(["--windows", "0", "--schemes", "float"])
    assert "need at least 1 window" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="analysis: trace file no/such/file.npz does not exist"):
        analysis.main(["--trace", "no/such/file.npz"])


def _tiny_set():
    ts = traces.TraceSet({"model": "m"})
    ts.tensors["layer00.q_proj.weight"] = traces.make_tensor("layer00.q_proj.weight", np.ones((4, 8), np.int8),
                                                             np.ones(4), "per output channel")
    ts.tensors["layer00.attn_in.input"] = traces.make_tensor("layer00.attn_in.input", np.ones((3, 8), np.int16),
                                                             np.float64(0.5), "per tensor")
    return ts


@pytest.mark.parametrize("break_it, msg", [
    (lambda ts: setattr(ts.tensors["layer00.attn_in.input"], "data", np.ones((3, 8)) * 0.5),
     "has dtype float64; a trace holds 16-bit base integers"),
    (lambda ts: setattr(ts.tensors["layer00.attn_in.input"], "data", np.full((3, 8), 40000)),
     r"holds 40000..40000, outside the 16-bit absmax range \+-32767"),
    (lambda ts: setattr(ts.tensors["layer00.q_proj.weight"], "scale", np.ones(3)),
     r"has a scale of shape \(3,\), expected \(4,\) \(per output channel\)"),
    (lambda ts: setattr(ts.tensors["layer00.attn_in.input"], "data", np.ones((3, 6), np.int16)),
     "has 6 features but layer00.q_proj.weight reduces over 8"),
])
def test_save_and_load_reject_what_the_format_forbids(tmp_path, break_it, msg):
    ts = _tiny_set()
    traces.load(traces.save(tmp_path / "ok.npz", ts))
    break_it(ts)
    with pytest.raises(traces.TraceError, match=msg):
        traces.load(traces.save(tmp_path / "bad.npz", ts))


def test_rejects_what_the_consumers_would_trip_on(tmp_path):
    """Metadata that is not an object, entries that are not objects, names the loader cannot parse, unknown
    modules, token counts or layer lists the file does not hold, a weight without its input site, Q/K/V in the
    wrong axis order: each one line naming the problem (these used to load and fail later with a bare KeyError)."""
    path = traces.save(tmp_path / "a.npz", _trace(np.random.default_rng(4)))

    def put(arrays, old, new):
        arrays[new], arrays[new + ".scale"] = arrays.pop(old), arrays.pop(old + ".scale")

    def rename(old, new):
        def em(m):
            m["tensors"][new] = m["tensors"].pop(old)
        return em, lambda a: put(a, old, new)
    cases = [
        (lambda m: m.update(tensors=[1]), None, "metadata lists no tensors"),
        (lambda m: m["tensors"].update({"layer02.key": 5}), None,
         "metadata entry of tensor 'layer02.key' is a JSON int"),
        (*rename("layer02.key", "layerXX.key"), "tensor name 'layerXX.key' is not layerLL"),
        (*rename("layer02.q_proj.weight", "layer02.qq_proj.weight"), "unknown module 'qq_proj'"),
        (lambda m: m.update(tokens=256), None, "holds 4 tokens, the metadata says 256"),
        (lambda m: m.update(layers=[0, 2, 5]), None, "the metadata lists layers [0, 2, 5], the file holds layers [2]"),
    ]
    for i, (em, ea, msg) in enumerate(cases):
        bad = _rewrite(path, tmp_path / f"c{i}.npz", em, ea)
        with pytest.raises(traces.TraceError, match=msg.replace("[", r"\[").replace("]", r"\]")):
            traces.load(bad)
    (tmp_path / "list.npz").write_bytes(b"")
    np.savez(tmp_path / "list.npz", __meta__=np.frombuffer(b"[1, 2]", dtype=np.uint8))
    with pytest.raises(traces.TraceError, match="metadata is a JSON list, expected an object"):
        traces.load(tmp_path / "list.npz")
    ts = _trace(np.random.default_rng(5))
    del ts.tensors["layer02.attn_in.input"]
    with pytest.raises(traces.TraceError, match="weight 'layer02.q_proj.weight' comes without its input"):
        traces.load(traces.save(tmp_path / "nosite.npz", ts))
    ts = _trace(np.random.default_rng(6))
    k = ts.tensors["layer02.key"]
    ts.tensors["layer02.key"] = traces.make_tensor("layer02.key", k.data.transpose(1, 0, 2).copy(),
                                                   k.scale, "per head")        # one scale per head
    with pytest.raises(traces.TraceError, match=r"is the tensor in \(tokens, heads, head_dim\) order"):
        traces.load(traces.save(tmp_path / "axes.npz", ts))


def test_save_writes_whole_or_nothing(tmp_path, monkeypatch):
    """A trace is written through a temporary file and a rename: a failure mid-write leaves neither a partial trace
    nor the temporary file; a folder given as the file is refused."""
    ts = _trace(np.random.default_rng(7))
    with pytest.raises(traces.TraceError, match="is a folder; give the trace file's path"):
        traces.save(tmp_path, ts)

    def boom(path, **arrays):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        traces.save(tmp_path / "t.npz", ts)
    assert list(tmp_path.iterdir()) == []
