"""Layers onto bit-serial IMC macros: tiles, block-diagonal packing, replication, residency and reloads."""

from imcsim.mapping.layer import LayerMapping, map_layer, step_cycles
from imcsim.mapping.network import RELOAD_POLICY, NetworkMapping, map_network

__all__ = ["LayerMapping", "NetworkMapping", "RELOAD_POLICY", "map_layer", "map_network", "step_cycles"]
