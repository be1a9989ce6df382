"""The 1 Hz GPU power thread's own CPU cost, for GPUs without an energy counter.

    python benchmarks/bench_gpu_poller.py [--gpus N] [--rounds N]

The GPUs are an in-process NVML stand-in that answers at once, so the figure is the tracker's
work per poll (locking, the trapezoid, bookkeeping), not the driver's: each real power read adds
one NVML query. Prints the figure with its target; exits 1 when it misses. Run by hand
(``make bench``), never as a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.power.nvml import POLL_PERIOD_S, NvmlGpu, PowerPoller  # noqa: E402

TARGET_PERCENT_OF_ONE_CORE = 0.1


class InstantNvml:
    """GPUs without the energy counter whose power reads return at once."""

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    def __init__(self, gpus: int) -> None:
        self.gpus = gpus

    def nvmlInit(self) -> None:
        return None

    def nvmlShutdown(self) -> None:
        return None

    def nvmlDeviceGetCount(self) -> int:
        return self.gpus

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return "benchmark GPU"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        raise self.NVMLError_NotSupported("Not Supported")

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return 250_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20_000)
    args, _others = parser.parse_known_args()  # run_all.py passes every script the same options
    poller = PowerPoller(wait=lambda _seconds: True)  # this script drives the polls itself
    sources = NvmlGpu.probe(nvml=InstantNvml(args.gpus), environ={}, poller=poller)
    started = time.perf_counter()
    for round_index in range(args.rounds):
        for source in sources:
            source.poll(float(round_index))
    round_s = (time.perf_counter() - started) / args.rounds
    for source in sources:
        source.close()
    percent = round_s * (1 / POLL_PERIOD_S) * 100  # one round per poll period
    ok = percent <= TARGET_PERCENT_OF_ONE_CORE
    print(
        f"{f'GPU power polls, {args.gpus} GPUs, % of one core':<52} {percent:8.4f} %   "
        f"(target <= {TARGET_PERCENT_OF_ONE_CORE:g} %, {round_s * 1e6:.1f} us a round) "
        f"{'ok' if ok else 'MISS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
