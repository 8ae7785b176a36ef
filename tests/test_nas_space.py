"""Search-space cards: grids, sizes, candidates that the engine can price, and bad input."""

import pytest
import yaml

from imcsim.config.study import Study
from imcsim.engine.evaluation import evaluate
from imcsim.errors import SpecError
from imcsim.nas.space import load_space


def test_builtin_space_sizes():
    s = load_space("skipnet-digits")
    # per cell: depth 1..6 (6) x width 8/16/24/32 (4) x skips 0..3 (4) = 96; 3 cells, 1 kernel -> 96^3
    assert s.n_networks == 96 ** 3 == 884_736
    # 2 devices x 4 rows x 4 cols x 4 rows_parallel = 128
    assert s.n_arrays == 128
    t = load_space("skipnet-tiny")
    assert (t.n_networks, t.n_arrays) == (2 ** 6, 8)


def test_index_vectors_map_to_candidates():
    s = load_space("skipnet-digits")
    net = s.network([0, 1, 2, 3, 2, 1, 0, 1, 2, 0])
    assert (net.depth, net.width, net.skips, net.kernel) == ((1, 2, 3), (32, 24, 16), (0, 1, 2), 3)
    arr = s.array([1, 2, 3, 0])
    assert (arr.device, arr.rows, arr.cols, arr.rows_parallel) == ("reram", 256, 512, 8)


def test_a_candidate_is_a_workload_the_engine_prices():
    s = load_space("skipnet-tiny")
    net = s.network([1, 1, 1, 1, 1, 1, 0])
    study = Study(device="sas-mram", workload={"name": "skipnet", "options": s.workload_options(net)},
                  macro={"rows": 64, "cols": 64, "rows_parallel": 16})
    r = evaluate(study, engine="analytic").summary()
    assert r["energy_pj"] > 0 and r["latency_ns"] > 0


def _card(tmp_path, **changes):
    data = yaml.safe_load(open(load_space("skipnet-tiny").path))
    for dotted, value in changes.items():
        node = data
        *head, last = dotted.split(".")
        for k in head:
            node = node[k]
        node[last] = value
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("change, field", [
    ({"network.depth": {"min": 4, "max": 2}}, "network.depth"),
    ({"network.width": []}, "network.width"),
    ({"network.kernel": [4]}, "network.kernel"),
    ({"network.skips": [-1]}, "network.skips"),
    ({"array.rows_parallel": [256]}, "array.rows_parallel"),
    ({"array.devices": ["unobtainium"]}, "array.devices"),
    ({"network.colour": 3}, "network.colour"),
])
def test_bad_cards_name_the_field(tmp_path, change, field):
    with pytest.raises(SpecError) as exc:
        load_space(_card(tmp_path, **change))
    assert field in str(exc.value)


def test_unknown_space_name():
    with pytest.raises(SpecError, match="unknown search space"):
        load_space("no-such-space")
