"""CPU load and memory of the machine or of a process tree, from cumulative counters.

Each figure is a delta between two successive calls, held per object: unlike
``psutil.cpu_percent(interval=None)``, whose state is shared with every other caller in the
process, two trackers (or the user's own code) cannot disturb each other's readings.
"""

from __future__ import annotations

import os

import psutil


def logical_cpu_count() -> int:
    """Logical CPUs of the machine: the capacity a process tree's CPU time is a share of."""
    return os.cpu_count() or 1


class MachineLoad:
    """Fraction of all logical CPUs' time spent busy between successive :meth:`update` calls."""

    def __init__(self) -> None:
        self._busy_s, self._total_s = _busy_and_total_s()
        self.fraction: float | None = None

    def update(self) -> float:
        busy_s, total_s = _busy_and_total_s()
        elapsed_s = total_s - self._total_s
        if elapsed_s > 0:  # two calls within one clock tick keep the previous figure
            self.fraction = min(1.0, max(0.0, (busy_s - self._busy_s) / elapsed_s))
            self._busy_s, self._total_s = busy_s, total_s
        return self.fraction or 0.0


def _busy_and_total_s() -> tuple[float, float]:
    times = psutil.cpu_times()
    # Linux counts guest time inside user and nice already: subtract it so it is not counted twice.
    total_s = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle_s = times.idle + getattr(times, "iowait", 0.0)
    return total_s - idle_s, total_s


class ProcessTree:
    """A process and its descendants, looked up afresh at each read (children come and go)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._root = psutil.Process(pid)

    def processes(self) -> list[psutil.Process]:
        """The root and its live descendants; an ended root has none."""
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_s(self) -> float:
        """CPU seconds used so far, including children already reaped, so that work done by
        short-lived subprocesses is not lost when they exit."""
        total_s = 0.0
        for process in self.processes():
            try:
                times = process.cpu_times()
            except psutil.Error:  # exited between listing and reading
                continue
            total_s += times.user + times.system + times.children_user + times.children_system
        return total_s

    def rss_bytes(self) -> int:
        """Resident memory of the tree now."""
        total = 0
        for process in self.processes():
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total


class ProcessTreeShare:
    """A process tree's share of the machine's CPU capacity between successive updates.

    share = CPU seconds used by the tree / (elapsed seconds x logical CPUs).
    """

    def __init__(self, tree: ProcessTree, now: float) -> None:
        self._tree = tree
        self._cpu_count = logical_cpu_count()
        self._cpu_s = tree.cpu_s()
        self._now = now
        self.fraction: float | None = None

    def update(self, now: float) -> float:
        cpu_s = self._tree.cpu_s()
        elapsed_s = now - self._now
        if elapsed_s > 0:
            # A descendant reaped outside the tree takes its time with it: never a negative share.
            used_s = max(0.0, cpu_s - self._cpu_s)
            self.fraction = min(1.0, used_s / (elapsed_s * self._cpu_count))
            self._cpu_s, self._now = cpu_s, now
        return self.fraction or 0.0


class CpuLoad:
    """Per read interval: the machine's busy fraction, and the share of the machine's CPU energy
    that belongs to what is tracked (1 in machine mode, the tree's CPU-time share in process mode).
    """

    def __init__(self, pid: int | None, now: float) -> None:
        self._machine = MachineLoad()
        self._tree = None if pid is None else ProcessTreeShare(ProcessTree(pid), now)

    def update(self, now: float) -> tuple[float, float]:
        """(machine busy fraction, share attributed) since the previous update."""
        busy = self._machine.update()
        return busy, 1.0 if self._tree is None else self._tree.update(now)

    def utilization_percent(self) -> float | None:
        """Machine busy share, or in process mode the tree's share, over the last interval."""
        load = self._machine if self._tree is None else self._tree
        return None if load.fraction is None else 100.0 * load.fraction
