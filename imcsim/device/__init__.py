"""Cell models: read/compute energy, write schemes, wear and area of each device technology.

Public API: :func:`load_device`, :func:`list_devices`, :func:`load_card`, :class:`DeviceModel`,
:class:`WriteCost`. Nothing here knows about workloads, mappings or engines.
"""

from imcsim.device.base import DeviceModel, WriteCost
from imcsim.device.library import list_devices, load_card, load_device

__all__ = ["DeviceModel", "WriteCost", "list_devices", "load_card", "load_device"]
