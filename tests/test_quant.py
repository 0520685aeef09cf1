import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import golden as G


@given(hnp.arrays(np.float32, (4, 8), elements=st.floats(-1e4, 1e4, width=32)), st.sampled_from([8, 16]),
       st.sampled_from([None, 0, 1]))
def test_absmax_maps_extremes_to_qmax(x, bits, axis):
    s = G.absmax_scale(x, bits, channel_axis=axis)
    q = G.quantize(x, s, bits, channel_axis=axis)
    qm = (1 << (bits - 1)) - 1
    assert q.dtype == (np.int8 if bits == 8 else np.int16)
    assert np.abs(q).max() <= qm
    red = None if axis is None else tuple(i for i in range(2) if i != axis)
    amax = np.abs(x).max(axis=red)
    np.testing.assert_array_equal(np.abs(q).max(axis=red)[amax > 0], qm)
    err = np.abs(G.dequantize(q, s, channel_axis=axis) - x)
    assert (err <= np.broadcast_to(np.expand_dims(s, red) if red else s, x.shape) / 2 * (1 + 1e-9)).all()


def test_zero_channel_has_unit_scale_and_zero_codes():
    w = np.zeros((3, 4), np.float32)
    w[1] = [1.0, -2.0, 0.5, 0.0]
    s = G.absmax_scale(w, 8, channel_axis=0)
    assert s[0] == 1.0 and s[2] == 1.0 and s[1] == 2.0 / 127
    q = G.quantize(w, s, 8, channel_axis=0)
    assert q[0].tolist() == [0] * 4 and q[1].tolist() == [64, -127, 32, 0]


def test_rint_is_half_to_even_and_static_scale_saturates():
    q = G.quantize(np.array([0.5, 1.5, 2.5, -0.5, 1000.0]), 1.0, 8)
    assert q.tolist() == [0, 2, 2, 0, 127]


def test_calibrator_takes_the_max_over_batches():
    cal = G.Calibrator(16)
    cal.observe(np.array([1.0, -3.0]))
    cal.observe(np.array([2.0, 0.5]))
    assert cal.batches == 2 and cal.absmax == 3.0 and cal.scale == 3.0 / 32767
    per_head = G.Calibrator(8, channel_axis=1)
    per_head.observe(np.array([[1.0, -4.0], [2.0, 0.0]]))
    np.testing.assert_array_equal(per_head.absmax, [2.0, 4.0])
