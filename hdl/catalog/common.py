"""What every unit family shares: area groups, the registry's formats, stimulus pieces, the headline mark."""

import dataclasses
import itertools

import numpy as np

import golden as G

# Area groups of the paper's Table 5 (a submodule instance name -> its group).
MUL, SHIFT, FPADD, REGS = "multiplier", "shifters", "FP align/add/normalize/round", "registers + accumulator"
SCALE, DIVIDE = "scale multipliers", "dividers"

# ---------------------------------------------------------------- shared stimulus pieces

def accumulating(product, width=G.ACC_WIDTH):
    """Golden function of an accumulating unit from its per-cycle ``product(drive)``."""
    def golden(d):
        return {"acc": G.accumulate(product(d), d["load"], d["en"], width=width)}
    return golden


def en_gaps(drive, seed, p=0.1):
    """The same streams with ``en`` low on a random ``p`` of the cycles (stalls inside dot products)."""
    out = dict(drive)
    out["en"] = (np.random.default_rng(seed).random(len(drive["en"])) >= p).astype(np.int64)
    return out


def product_grid(*ranges):
    return np.array(list(itertools.product(*ranges)), np.int64)


def load_then_accumulate(n, every=16):
    """Each grid row once with load (acc = product), then the rows again accumulated (load every ``every``)."""
    return np.concatenate([np.ones(n, np.int64), (np.arange(n) % every == 0).astype(np.int64)])


# the formats of the registered units: activations A16 -> 4 or 8 bits, weights (and KV) 8 -> 4 bits
A4, A8, W4 = G.A16_K4, G.A16_K8, G.W8_K4


def headline(unit):
    """``unit`` marked as a headline unit: ``make synth`` covers it (the paper's Table 5 MACs, the g = 16 encoders and
    decoders, the L = 16 dot-product units and their baselines, the 4 x 4 tiles); ``make synth-all`` covers all."""
    return dataclasses.replace(unit, headline=True)


def placed(unit):
    """``unit`` in ``make pnr``'s default set (qflow place and route, ``synth.pnr``)."""
    return dataclasses.replace(unit, pnr=True)


def serves(unit, *schemes):
    """``unit`` marked as computing the accuracy-sweep ``schemes`` (see ``Unit.schemes``)."""
    return dataclasses.replace(unit, schemes=tuple(schemes))
