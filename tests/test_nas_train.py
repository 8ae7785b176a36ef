"""The sample trainer: its backward pass against finite differences, and a short run that learns."""

import numpy as np
import pytest

from imcsim.nas.train import TrainConfig, _Net, train_accuracy
from imcsim.workload import zoo


@pytest.mark.parametrize("kind", ["densenet", "resnet", "mobilenet"])
def test_backward_matches_finite_differences(kind):
    # float64 copy of a tiny candidate (conv, depthwise, BN, ReLU/ReLU6, concat/add, pool, linear)
    g = zoo.build("skipnet", kind=kind, resolution=4, cells=2, depth=2, channels=2, skips=1, stem=2, expand=2)
    net = _Net(g, np.random.default_rng(0))
    for d in net.p.values():
        for r in d:
            d[r] = d[r].astype(np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 3, 4, 4)), rng.integers(0, 10, 5)

    def loss() -> float:
        logits = net.forward(x, train=True)
        z = logits - logits.max(1, keepdims=True)
        return float(-(z[np.arange(5), y] - np.log(np.exp(z).sum(1))).mean())

    captured = {}
    net._adam = lambda pgrad, lr: captured.update(pgrad)      # keep the gradients, skip the update
    net.step(x, y, 0.0)
    checked = 0
    for name in [n.name for n in g if n.op in ("conv", "linear", "norm")][::3]:
        for role, w in net.p[name].items():
            i = tuple(rng.integers(s) for s in w.shape)
            old = w[i]
            w[i] = old + 1e-6
            up = loss()
            w[i] = old - 1e-6
            down = loss()
            w[i] = old
            assert captured[name][role][i] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-7), (name, role)
            checked += 1
    assert checked >= 4


def test_short_training_beats_chance():
    g = zoo.build("skipnet", kind="densenet", resolution=8, cells=1, depth=1, channels=8, skips=0, stem=8)
    acc = train_accuracy(g, TrainConfig(epochs=4))
    assert acc > 0.4          # 10 classes: chance is 0.1 (this seeded run gives 0.573)
