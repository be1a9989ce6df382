"""Power sources: one class per source behind :class:`~tracker.power.base.PowerSource`."""

from tracker.power.base import (
    JOULES_PER_KWH,
    ConstantPower,
    DeviceInfo,
    PowerSource,
    PowerSourceError,
)

__all__ = ["JOULES_PER_KWH", "ConstantPower", "DeviceInfo", "PowerSource", "PowerSourceError"]
