"""The skipnet search-space networks and NN-Degree, against hand-worked values.

NN-Degree here is the interpretation documented in imcsim/nas/degree.py and docs/nas.md: the sum
over cells of the average degree 2|E|/|V| of the cell's channel graph.
"""

import numpy as np
import pytest

from imcsim.errors import SpecError
from imcsim.nas.degree import cell_degrees, long_range_links, nn_degree, nn_degree_closed
from imcsim.workload import zoo
from imcsim.workload.graph import GraphBuilder
from imcsim.workload.zoo.skipnet import skip_sources


def test_skip_sources_are_the_nearest_earlier_layers():
    assert skip_sources(1, 3) == []          # layer 1 reads only x_0 (its predecessor)
    assert skip_sources(2, 3) == [0]
    assert skip_sources(4, 2) == [2, 1]      # x_3 is the regular link; x_2, x_1 the long-range ones
    assert skip_sources(4, 0) == []


def test_tiny_densenet_params_and_macs_by_hand():
    # resolution 8, 1 cell, depth 2, width 4, skips 1, stem 2, 10 classes; every map stays 8x8 (64 px).
    # stem conv 2*3*9 = 54, bn 4; trans conv 4*2*9 = 72, bn 8; layer1 conv 4*4*9 = 144, bn 8;
    # layer2 conv on concat(x1, x0) = 8 channels: 4*8*9 = 288, bn 8; fc 4*10 + 10 = 50.
    # params 54+4+72+8+144+8+288+8+50 = 636
    # MACs (54+72+144+288)*64 + 40 = 35,712 + 40 = 35,752
    g = zoo.build("skipnet", kind="densenet", resolution=8, cells=1, depth=2, channels=4, skips=1, stem=2)
    assert g.n_params == 636
    assert g.macs == 35_752
    assert g["cell0.layer2.concat"].inputs == ("cell0.layer1.relu", "cell0.trans.relu")


@pytest.mark.parametrize("kind", ["densenet", "resnet", "mobilenet"])
def test_every_kind_builds_with_per_cell_lists(kind):
    g = zoo.build("skipnet", kind=kind, resolution=8, depth=[2, 3, 1], channels=[8, 16, 8], skips=[1, 2, 0])
    assert [len(c) for c in g.meta["cells"]] == [3, 4, 2]       # x_0 .. x_d per cell
    assert g["fc"].out_shape == (10,)
    assert g[g.meta["cells"][2][-1]].out_shape == (8, 2, 2)     # 8 -> 4 -> 2 through two stride-2 cells


@pytest.mark.parametrize("opts", [dict(kind="vgg"), dict(depth=[2, 2]), dict(channels=0), dict(skips=-1),
                                  dict(kernel=4), dict(resolution=0)])
def test_bad_skipnet_options_are_spec_errors(opts):
    with pytest.raises(SpecError):
        zoo.build("skipnet", **opts)


def test_long_range_link_count_by_hand():
    # d = 4, t = 2: layers 1..4 have min(2, 0), min(2, 1), min(2, 2), min(2, 3) = 0 + 1 + 2 + 2 = 5
    assert long_range_links(4, 2) == 5
    # t >= d - 1 links everything: d (d - 1) / 2 = 6 for d = 4
    assert long_range_links(4, 9) == 6
    assert long_range_links(1, 3) == 0
    np.testing.assert_array_equal(long_range_links(np.array([4, 4, 1]), np.array([2, 9, 3])), [5, 6, 0])


def test_nn_degree_one_dense_cell_by_hand():
    # one cell, d = 2, w = 4, t = 1: vertices x0, x1, x2 of 4 channels -> |V| = 12
    # links x0->x1, x1->x2, x0->x2 (long-range), 4*4 = 16 edges each -> |E| = 48
    # average degree 2*48/12 = 8
    g = zoo.build("skipnet", kind="densenet", resolution=8, cells=1, depth=2, channels=4, skips=1)
    (cell,) = cell_degrees(g)
    assert (cell.vertices, cell.edges, cell.links, cell.long_range_links) == (12, 48, 3, 1)
    assert nn_degree(g) == pytest.approx(8.0)


def test_nn_degree_without_skips_by_hand():
    # d = 3, w = 8, t = 0: |V| = 4*8 = 32, |E| = 3*64 = 192 -> 2*192/32 = 12
    g = zoo.build("skipnet", kind="resnet", resolution=8, cells=1, depth=3, channels=8, skips=0)
    assert nn_degree(g) == pytest.approx(12.0)


def test_nn_degree_two_cells_sum_by_hand():
    # cell 0: d = 2, w = 4, t = 1 -> 8 (above)
    # cell 1: d = 3, w = 8, t = 2: long-range links 0 + 1 + 2 = 3 -> |E| = (3 + 3)*64 = 384, |V| = 32,
    #         2*384/32 = 24;  NN-Degree = 8 + 24 = 32
    for kind in ("densenet", "resnet", "mobilenet"):
        g = zoo.build("skipnet", kind=kind, resolution=8, cells=2, depth=[2, 3], channels=[4, 8], skips=[1, 2])
        assert nn_degree(g) == pytest.approx(32.0), kind
    closed = nn_degree_closed(np.array([[2, 3]]), np.array([[4, 8]]), np.array([[1, 2]]))
    assert closed[0] == pytest.approx(32.0)


def test_nn_degree_weights_links_by_channels_on_a_hand_made_graph():
    # a (2 ch) -> b (4 ch); c (3 ch) reads concat(b, a):
    # edges a->b 2*4 = 8, b->c 4*3 = 12, a->c 2*3 = 6 -> |E| = 26; |V| = 2 + 4 + 3 = 9; 2*26/9 = 52/9
    b = GraphBuilder("hand", (3, 4, 4))
    a = b.conv(b.input, 2, 3, name="a")
    x = b.conv(b.act(a, "relu", name="r"), 4, 3, name="b")
    c = b.conv(b.concat(x, a, name="cat"), 3, 1, name="c")
    g = b.build()
    g.meta["cells"] = [[a, x, c]]
    assert nn_degree(g) == pytest.approx(52 / 9)


def test_nn_degree_needs_cells():
    with pytest.raises(ValueError, match="meta"):
        nn_degree(zoo.build("tiny-cnn"))


def test_closed_form_matches_the_graph_on_random_candidates():
    rng = np.random.default_rng(0)
    for _ in range(12):
        d, w, t = rng.integers(1, 5, 3), rng.integers(1, 4, 3) * 4, rng.integers(0, 4, 3)
        kind = ["densenet", "resnet", "mobilenet"][int(rng.integers(3))]
        g = zoo.build("skipnet", kind=kind, resolution=8, depth=d.tolist(), channels=w.tolist(), skips=t.tolist())
        assert nn_degree(g) == pytest.approx(float(nn_degree_closed(d, w, t)))
