"""The NAS fast path (imcsim/nas/fastcost.py) gives the analytic engine's numbers.

Every candidate of a small space is priced twice: through the whole-device tables and through
``evaluate`` one study at a time (``HardwareModel(fast=False)``). The fast path adds the same terms in
the same order as the engine, so the records are equal; floats are compared to 1e-12 relative, which
allows only for the order of additions, and every integer and flag exactly.
"""

import numpy as np
import pytest

from imcsim.nas.hardware import HardwareModel
from imcsim.nas.space import load_space

CARD = """kind: nas-space
name: fast-check
network: {{family: {family}, resolution: 8, classes: 10, cells: 2, stem: 8, depth: [1, 3], width: [8, 24],
          skips: [0, 2]}}
array: {{devices: [sas-mram, reram], rows: [32, 128], cols: [64, 256], rows_parallel: [8, 64]}}
"""


def _same(fast: dict | None, ref: dict | None) -> None:
    if ref is None:
        assert fast is None
        return
    assert fast is not None and fast.keys() == ref.keys()
    for k, v in ref.items():
        if isinstance(v, float):
            assert fast[k] == pytest.approx(v, rel=1e-12, abs=0.0), k
        else:
            assert fast[k] == v and type(fast[k]) is type(v), k


@pytest.mark.parametrize("family", ["densenet", "resnet", "mobilenet"])
def test_fast_tables_equal_evaluate_on_sampled_points(tmp_path, family):
    card = tmp_path / "space.yaml"
    card.write_text(CARD.format(family=family))
    space = load_space(card)
    fast, ref = HardwareModel(space), HardwareModel(space, fast=False)
    rng = np.random.default_rng(7)
    nets = {space.network([rng.integers(s) for s in space.network_sizes()]) for _ in range(3)}
    for net in nets:
        for dev in space.card.array.devices:
            for arr in fast.arrays(dev):
                _same(fast.price(net, arr), ref.price(net, arr))
            assert fast.table(net, dev) is not None          # the fast path did price them
    # every candidate counted once either way (the two with rows_parallel 64 > rows 32 price as None)
    assert fast.calls == ref.calls == len(nets) * 2 * 8


def test_a_network_that_does_not_fit_goes_through_evaluate(tmp_path):
    # 6 layers of 512 channels with 3 long-range links: ~40 M weights, more than the chip's 16 Mi
    # 8-bit weights (128 Mibit of cells), so layers are streamed and the table leaves it to evaluate
    card = tmp_path / "big.yaml"
    card.write_text("kind: nas-space\nname: big\nnetwork: {family: densenet, resolution: 8, classes: 10, cells: 1, "
                    "stem: 16, depth: [6], width: [512], skips: [3]}\n"
                    "array: {devices: [sas-mram], rows: [64], cols: [64], rows_parallel: [16]}\n")
    space = load_space(card)
    fast, ref = HardwareModel(space), HardwareModel(space, fast=False)
    net, arr = space.network([0, 0, 0, 0]), fast.arrays("sas-mram")[0]
    rec = fast.price(net, arr)
    assert not fast.table(net, "sas-mram").values["map_fits"][0]
    assert rec["map_fits"] is False and rec["weights_written"] > 0       # reloads priced by the engine
    _same(rec, ref.price(net, arr))
    assert fast.calls == 1
