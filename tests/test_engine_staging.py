"""Where forward activations wait (engine/staging.py): the one allocation rule, by hand."""

from __future__ import annotations

from imcsim.engine.staging import EdgeNeed, stage_edges, staged_bytes


def test_stage_edges_by_hand():
    # tile buffer 100 B, global buffer 150 B. e3 crosses a pool epoch: its whole map, 10 B x 8 rows = 80 B,
    # goes to the global buffer first (70 B left). Tile 0, smallest need first: e2 (1 x 50 = 50 B) fits
    # (50 B left), e0 (2 x 30 = 60 B) does not -> global (10 B left), e1 (3 x 20 = 60 B) fits neither -> DRAM.
    # e2 then gets the tile's 50 B left as extra rows: 50 // 50 = 1 -> 2 rows. e4 crosses a barrier.
    needs = [EdgeNeed(2, 30.0, 4, 0), EdgeNeed(3, 20.0, 6, 0), EdgeNeed(1, 50.0, 2, 0),
             EdgeNeed(1, 10.0, 8, 1, later_epoch=True), EdgeNeed(1, 5.0, 1, 0, same_segment=False)]
    levels = stage_edges(needs, 100.0, 150.0)
    assert levels == [("global", 2), ("dram", 0), ("tile", 2), ("global-whole", 0), ("barrier", 0)]
    # traffic: DRAM e1 20 B x 6 rows = 120 B; global e0 30 x 4 + e3 10 x 8 = 200 B
    assert staged_bytes(needs, levels) == (120.0, 200.0)
