"""engine/rowtime.py: the one formula for a forward row's stages, worked by hand."""

import numpy as np

from imcsim.engine.rowtime import GEMM, MVM, OTHER, row_mode, row_times, whole_cycles


def test_row_times_worked_by_hand():
    # depth 40 cycles, tile port 4 B/cycle, global port 50 B/cycle, 8 tiles
    # 0 MVM, 1000 cycles, 8 rows, 256 port bytes: fill 40 (1000 >= 40 + 8); port 256 / 8 / 4 = 8; unit (1000 - 40) / 8 = 120
    # 1 MVM, 45 cycles, 8 rows, no bytes: fill 0 (45 < 48); no port stage; unit 45 / 8 = 5.625
    # 2 GEMM, 300 cycles, 6 rows, 1200 bytes: port 1200 / 6 / 50 = 4; unit 300 / 6 = 50; no fill
    # 3 other, 100 cycles, 4 rows, 6400 bytes through every tile's port: max(100, 6400 / (4 x 8) = 200) / 4 = 50
    # 4 other, the same bytes not through the tiles' ports: 100 / 4 = 25
    t = row_times(np.array([1000.0, 45.0, 300.0, 100.0, 100.0]), np.array([8, 8, 6, 4, 4]),
                  np.array([MVM, MVM, GEMM, OTHER, OTHER]), np.array([256.0, 0.0, 1200.0, 6400.0, 6400.0]),
                  np.array([False, False, False, True, False]),
                  depth=40, tile_bytes_per_cycle=4, global_bytes_per_cycle=50, tiles=8)
    assert t.has_pre.tolist() == [True, False, True, False, False]
    assert t.pre[[0, 2]].tolist() == [8.0, 4.0]
    assert t.unit.tolist() == [120.0, 5.625, 50.0, 50.0, 25.0]
    assert t.fill.tolist() == [40, 0, 0, 0, 0]
    # whole cycles, at least one; a float a hair above a whole number (1e-9) stays that number
    assert whole_cycles(np.array([5.625, 0.2, 3.0 + 1e-10, 120.0, 0.0])).tolist() == [6, 1, 3, 120, 1]


def test_row_mode():
    assert row_mode("mvm", "macros") == MVM
    assert row_mode("mvm", "digital") == OTHER   # an MVM off the macros is timed like any digital op
    assert row_mode("gemm", "digital") == GEMM
    assert row_mode("vector", "digital") == OTHER
