"""IR extensions added for the zoo and importers: source nodes, layout ops, tied embeddings."""

import pytest

from imcsim.workload.graph import OPS, GraphBuilder


def test_new_ops_are_documented():
    for op in ("param", "rel_pos_bias", "tokens", "select", "reshape"):
        assert op in OPS


def test_param_and_tokens_and_select_vit_style():
    b = GraphBuilder("t", (3, 32, 32))
    x = b.conv(b.input, 8, 16, 16, padding=0, bias=True, name="proj")
    t = b.tokens(x, name="tok")
    cls = b.param("cls", (1, 8))
    x = b.concat(cls, t, name="cat")
    pos = b.param("pos", (5, 8))
    x = b.add(x, pos, name="pos_add")
    y = b.select(x, 0, name="cls_out")
    g = b.build()
    # (8, 2, 2) feature map -> 4 tokens of 8; + class token = (5, 8)
    assert g[t].out_shape == (4, 8) and g[x].out_shape == (5, 8) and g[y].out_shape == (8,)
    # parameters: conv 8*3*16*16 + 8 = 6152, class token 8, position embedding 5*8 = 40
    assert g.n_params == 6152 + 8 + 40
    assert g[cls].inputs == () and g[cls].in_shape == () and g[cls].macs == 0
    with pytest.raises(ValueError, match="index"):
        b.select(x, 5)


def test_rel_pos_bias_adds_to_scores():
    b = GraphBuilder("t", (6, 16))
    q = b.linear(b.input, 16, bias=False, name="q")
    k = b.linear(b.input, 16, bias=False, name="k")
    s = b.matmul(q, k, "qk", heads=2, name="scores")
    bias = b.rel_pos_bias(6, 6, buckets=32, heads=2, name="bias")
    a = b.add(s, bias, name="biased")
    g = b.build()
    # bias table is buckets x heads = 32 * 2 = 64 parameters, output (heads, T, S)
    assert g[bias].params == {"weight": 64} and g[bias].out_shape == (2, 6, 6)
    assert g[a].out_shape == (2, 6, 6)


def test_extra_input_and_tied_embedding():
    b = GraphBuilder("t", (7,))
    e1 = b.embedding(b.input, 100, 4, name="shared")
    d = b.extra_input("decoder_input_ids", (3,))
    e2 = b.embedding(d, 100, 4, name="dec_embed", tied_to="shared")
    g = b.build()
    # the table (100 * 4 = 400) is counted once
    assert g[e1].n_params == 400 and g[e2].n_params == 0 and g.n_params == 400
    assert g[e2].attrs["tied_to"] == "shared" and g[e2].out_shape == (3, 4)
    assert g[d].op == "input" and g[d].inputs == ()
    with pytest.raises(ValueError, match="tied_to"):
        b.embedding(d, 100, 4, name="bad", tied_to="decoder_input_ids")


def test_reshape_keeps_elements():
    b = GraphBuilder("t", (4, 3, 2))
    r = b.reshape(b.input, (6, 4), name="r")
    assert b.build()[r].out_shape == (6, 4)
    with pytest.raises(ValueError, match="cannot become"):
        b.reshape(b.input, (5, 5))


def test_source_nodes_join_open_blocks():
    b = GraphBuilder("t", (2, 8))
    with b.block("blk", "attention", b.input, "identity"):
        p = b.param("p", (2, 8))
        b.add(b.input, p, name="add")
    g = b.build()
    assert g.blocks["blk"].nodes == ("blk.p", "blk.add") and g["blk.p"].block == "blk"


def test_pool_that_empties_the_map_is_an_error():
    b = GraphBuilder("t", (4, 1, 1))
    # (1 + 0 - 2) // 2 + 1 = 0 rows
    with pytest.raises(ValueError, match="output 0x0"):
        b.pool(b.input, "max", 2, 2)
