"""SDR encoder and decoder families."""


import numpy as np

import golden as G
from golden.streams import from_signmag, signmag

from ..sdr_decoder import SDRDecoder
from ..sdr_encoder import SDREncoder
from ..unit import Table, Unit, register
from .common import A4, A8, SHIFT, W4, headline, placed, product_grid, serves

# the kinds of component `python -m hdl.export --custom` builds from this family
KINDS = {"encoder": SDREncoder, "decoder": SDRDecoder}

ENCODER_TABLE = Table("encoder", "SDR encoders, one group per cycle", 30, per="element",
                      note="Combinational: one group per cycle; per-element figures divide by the group size.")
DECODER_TABLE = Table("decoder", "SDR decoders", 40)


# ---------------------------------------------------------------- SDR encoder and decoder

def encoder_corner_groups(fmt):
    """All zero, most negative value, all maximum, all -1, an all-ones kept field (the overflow guard), and
    every value against every razoring point (element 0 the leader ``2**p``, the rest sweeping ``|x| < 2**(p+1)``)."""
    g, hi = fmt.group_size, (1 << (fmt.base_bits - 1)) - 1
    groups = [np.clip(np.array([[0] * g, [-(hi + 1)] + [1] * (g - 1), [hi] * g, [-1] * g,
                                [(1 << fmt.mag_bits) - 1 << 4] + [0x8] * (g - 1)]), -(hi + 1), hi)]
    if g > 1:
        for p in range(-1, fmt.base_bits - 1):
            span = np.arange(-((1 << (p + 1)) - 1), 1 << (p + 1))
            span = span[: (span.size // (g - 1)) * (g - 1)] if span.size >= g - 1 else np.resize(span, g - 1)
            rows = span.reshape(-1, g - 1)
            groups.append(np.concatenate([np.full((rows.shape[0], 1), (1 << p) if p >= 0 else 0), rows], axis=1))
    return np.concatenate(groups).astype(np.int64)


def group_quantizer(name, component, params, fmt, role, compress, side, corners, label, doc, **unit):
    """A unit that quantizes one group of ``fmt.group_size`` base integers of ``role`` per cycle (``x``,
    ``i_valid`` -> ``codes``, its per-group ``side`` output, ``o_valid``): the SDR encoder (side ``flag``) and the
    DMQ quantizer (side ``scale``). ``compress(x, fmt, axis)`` is its golden function and returns a tensor whose
    ``codes`` and per-group side array (the attribute ``side + "s"``) are the outputs; ``corners(fmt)`` its corner
    groups; ``unit`` further ``Unit`` fields."""
    g = fmt.group_size

    def golden(d):
        t = compress(d["x"], fmt, axis=1)
        return {"codes": signmag(t.codes, fmt), side: getattr(t, side + "s")[:, 0].astype(np.int64),
                "o_valid": d["i_valid"]}

    def stimulus(source, cycles, seed):
        x = source.groups(role, g, cycles, seed)
        return {"x": x, "i_valid": np.ones(len(x), np.int64)}

    def segments(seed):
        x = corners(fmt)
        return [{"x": x, "i_valid": np.ones(len(x), np.int64)}]

    return Unit(name, component, dict(group_size=g, base_bits=fmt.base_bits, kept_bits=fmt.kept_bits, **params),
                golden=golden, stimulus=stimulus, segments=segments, doc=doc, label=label, table=ENCODER_TABLE,
                rest="encoder", per=g, bench_lanes=8, cycles_scale=4 / g, flows=frozenset({"ice40", "gate_level"}),
                **unit)


def encoder(name, fmt, role, label, doc, pipeline=False):
    """SDR encoder of one group of ``fmt.group_size`` base integers of ``role`` per cycle."""
    return group_quantizer(name, SDREncoder, dict(pipeline=pipeline), fmt, role, G.compress, "flag",
                           encoder_corner_groups, label, doc)


def decoder(name, fmt, role, label, doc, g=16):
    """SDR decoder of one razored element and its group's flag."""
    def golden(d):
        t = G.SDRTensor(from_signmag(d["code"], fmt)[:, None].astype(np.int8), d["flag"][:, None].astype(np.uint8),
                        fmt.with_group(1), 1)
        return {"value": G.decompress(t)[:, 0].astype(np.int64)}

    def stimulus(source, cycles, seed):
        x = source.groups(role, g, -(-cycles // g), seed).reshape(-1)
        t = G.compress(x, fmt.with_group(g))
        return {"code": signmag(t.codes, fmt), "flag": t.flags_per_element().astype(np.int64)}

    def segments(seed):
        grid = product_grid(range(-fmt.max_code, fmt.max_code + 1), range(fmt.max_flag + 1))
        return [{"code": signmag(grid[:, 0], fmt), "flag": grid[:, 1]}]

    return Unit(name, SDRDecoder, dict(base_bits=fmt.base_bits, kept_bits=fmt.kept_bits), golden=golden,
                stimulus=stimulus, segments=segments, doc=doc, label=label, table=DECODER_TABLE,
                parts={"shifter": SHIFT}, rest="sign and negate", bench_lanes=8, flows=frozenset({"ice40"}))


for _u in (decoder("sdr_decoder_a16k4", A4, "activation", "A16 -> 4 bits", "SDR decoder, A16 -> 4 bits"),
           decoder("sdr_decoder_w8k4", W4, "weight", "W8 -> 4 bits", "SDR decoder, W8 -> 4 bits")):
    register(placed(headline(_u)))
for _g in G.GROUP_SIZES:
    _u = serves(encoder(f"sdr_encoder_a16k4_g{_g}", A4.with_group(_g), "activation", f"A16 -> 4 bits, g={_g}",
                        f"SDR encoder, A16 -> 4 bits, group of {_g}"), f"W4A4 g{_g}")
    register(placed(headline(_u)) if _g == 16 else _u)
register(encoder("sdr_encoder_a16k4_g16_pipe", A4, "activation", "A16 -> 4 bits, g=16, registered",
                 "SDR encoder, A16 -> 4 bits, registered outputs", pipeline=True))
for _g in G.GROUP_SIZES:
    _u = serves(encoder(f"sdr_encoder_a16k8_g{_g}", A8.with_group(_g), "activation", f"A16 -> 8 bits, g={_g}",
                        f"SDR encoder, A16 -> 8 bits (W4A8), group of {_g}"), f"W4A8 g{_g}")
    register(headline(_u) if _g == 16 else _u)
register(headline(encoder("sdr_encoder_w8k4_g16", W4, "weight", "W8 -> 4 bits, g=16", "SDR encoder, W8/KV8 -> 4 bits")))
