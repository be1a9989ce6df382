"""A large file's chunks parsed at once in worker processes, so a first start on a million rows
uses every core.

``read_bounded`` (:mod:`carbonboard.data.store`) reads a file chunk by chunk; each chunk starts
just after the last line end of the one before, so where every chunk starts depends only on the
file's bytes. ``plan_chunks`` finds those starts with a memory map (a search for one byte per
chunk, no parsing), and ``Prefetch`` has worker processes ``parse`` the chunks ahead of the read,
each numbered from its own first line; the read takes each part in turn, renumbered to the lines
before it, and merges it exactly as a part it parsed itself. The parts are therefore the same
whatever the number of processes; a chunk the plan did not foresee (a line longer than a chunk)
is parsed by the read itself.

Workers are forked, which costs milliseconds and no import, and only while no other thread runs
(``can_fork``): a fork copies the calling thread alone, and a lock another thread held would
stay locked in the child. Elsewhere (a server answering pages, macOS and Windows, which do not
fork safely) a file is parsed in the calling process, as before.
"""

from __future__ import annotations

import ctypes
import mmap
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from carbonboard.data.loader import LINE_DTYPE, Parsed, parse, split_header
from carbonboard.data.paths import open_regular

MAX_WORKERS = 8  # each holds a chunk and its parse (a few times the chunk) while it works
# A read is cut into parts of an eighth of what it reads, none over the chunk size nor under
# MIN_PART_BYTES (smaller parts cost more to hand out than their parse): a 50 MB history is
# parsed on every core too. The cuts depend only on the bytes read, never on how many
# processes parse them, so every read of the same bytes gives the same rows.
PARTS_PER_READ = 8
MIN_PART_BYTES = 8 * 1024 * 1024


def part_bytes(size: int, chunk_bytes: int, min_part_bytes: int = MIN_PART_BYTES) -> int:
    """The bytes of each part of a read of ``size`` bytes (see :data:`PARTS_PER_READ`)."""
    return min(chunk_bytes, max(min_part_bytes, -(-size // PARTS_PER_READ)))


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Worker processes can be forked now: the platform forks safely (not macOS, whose system
    libraries may crash a forked child), and no other thread runs."""
    return (
        sys.platform != "darwin"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def plan_chunks(
    path: Path, start_offset: int, end: int, chunk_bytes: int
) -> tuple[list[int], list[str] | None] | None:
    """Where a chunk-by-chunk read of ``path`` from ``start_offset`` to ``end`` (bytes) starts
    each chunk, and the header line's names when ``start_offset`` is 0 (the first chunk starts
    with it). None when a chunk holds no line end (a line longer than a chunk, read one chunk at
    a time) or the file is shorter than ``end`` now."""
    with open_regular(path) as handle:
        if os.fstat(handle.fileno()).st_size < max(end, 1):
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            header = None
            if start_offset == 0:
                found = split_header(view[:chunk_bytes])
                header = found[0] if found is not None else None
            offsets = [start_offset]
            while offsets[-1] + chunk_bytes < end:
                newline = view.rfind(b"\n", offsets[-1], offsets[-1] + chunk_bytes)
                if newline < 0:
                    return None
                offsets.append(newline + 1)
    return offsets, header


def parse_chunk(
    path: Path,
    offset: int,
    header: list[str] | None,
    first_line: int,
    chunk_bytes: int,
    listed_room: int,
) -> tuple[Parsed, int]:
    """``parse`` one chunk, in a worker: the part, with at most ``listed_room`` bad rows of whole
    lines listed (a chunk of junk would otherwise send back a reason per line), and how many
    more there were."""
    part = parse(
        path, start_offset=offset, header=header, first_line=first_line, max_bytes=chunk_bytes
    )
    whole = [s for s in part.skipped if s.line < part.next_line]
    if len(whole) <= listed_room:
        return part, 0
    cut = part.skipped[len(whole) :]  # the unfinished last line, sorted after the whole ones
    part.skipped = whole[:listed_room] + cut
    return part, len(whole) - listed_room


def renumbered(part: Parsed, lines: int) -> Parsed:
    """``part`` (parsed in a worker, its lines counted from 1) with ``lines`` added to every
    line number: the lines of the file before its chunk. Changes ``part``, which nothing else
    holds."""
    if lines:
        frame = part.frame
        if len(frame):
            frame["line_number"] = frame["line_number"].to_numpy(dtype=LINE_DTYPE) + lines
        part.skipped = [s._replace(line=s.line + lines) for s in part.skipped]
        part.next_line += lines
    return part


class Prefetch:
    """Chunks of one file parsed ahead of the read by worker processes; ``take`` returns each
    part once the read reaches its offset. By default every chunk is handed out at once: the
    parts that come back are the rows the read keeps anyway, and each lists a bounded number of
    bad rows. A read that hands its parts on as it goes (an import) sets ``ahead``: at most that
    many chunks are handed out beyond those taken, so the parts waiting stay few however large
    the file. ``close`` stops the workers (the chunks not yet taken are dropped)."""

    def __init__(
        self,
        path: Path,
        offsets: list[int],
        *,
        header: list[str] | None,
        planned_header: list[str] | None,
        first_line: int,
        chunk_bytes: int,
        listed_room: int,
        workers: int,
        ahead: int | None = None,
    ) -> None:
        self.workers = workers  # one once they stopped and the read went on without them
        self.chunk_bytes = chunk_bytes
        self._path, self._first_line, self._listed_room = path, first_line, listed_room
        self._start = offsets[0]
        self._header = header  # the first chunk's: None when it starts with the header line
        self._later_header = header if header is not None else planned_header
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_leave_interrupts_to_the_parent,
        )
        self._futures: dict[int, Future] = {}
        self._waiting = list(reversed(offsets))  # not handed out yet, the next one last
        for _ in range(len(offsets) if ahead is None else ahead):
            self._hand_out()

    def _hand_out(self) -> None:
        """Have a worker parse the next chunk not handed out yet, if any."""
        if not self._waiting or self._executor is None:
            return
        offset = self._waiting.pop()
        first = offset == self._start
        self._futures[offset] = self._executor.submit(
            parse_chunk,
            self._path,
            offset,
            self._header if first else self._later_header,
            self._first_line if first else 1,
            self.chunk_bytes,
            self._listed_room,
        )

    @classmethod
    def start(
        cls,
        path: Path,
        *,
        start_offset: int,
        header: list[str] | None,
        first_line: int,
        chunk_bytes: int,
        listed_room: int,
        workers: int,
        ahead: int | None = None,
    ) -> Prefetch | None:
        """Workers parsing ``path`` from ``start_offset`` to its current end, as
        ``read_bounded`` reads it (``ahead``: see the class); None when it is one chunk, cannot
        be planned, or workers cannot be forked now."""
        workers = min(workers, MAX_WORKERS)
        end = os.stat(path).st_size
        if workers < 2 or end - start_offset <= chunk_bytes or not can_fork():
            return None
        plan = plan_chunks(path, start_offset, end, chunk_bytes)
        if plan is None:
            return None
        offsets, planned_header = plan
        return cls(
            path,
            offsets,
            header=header,
            planned_header=planned_header,
            first_line=first_line,
            chunk_bytes=chunk_bytes,
            listed_room=listed_room,
            workers=min(workers, len(offsets)),
            ahead=ahead,
        )

    def take(self, offset: int, header: list[str] | None, line: int) -> tuple[Parsed, int] | None:
        """The part of the chunk at ``offset`` numbered from ``line``, and the bad rows not
        listed in it; None when no worker parsed that chunk with ``header`` (the read parses it
        itself). Raises what the parse raised."""
        future = self._futures.pop(offset, None)
        self._hand_out()
        first = offset == self._start
        expected = self._header if first else self._later_header
        if future is None or header != expected:
            return None
        try:
            part, unlisted = future.result()
        except BrokenProcessPool:  # a worker died (out of memory?): parse here from now on
            self.close()
            self.workers = 1
            return None
        return (part if first else renumbered(part, line - 1)), unlisted

    def close(self) -> None:
        """Stop the workers. A chunk still being parsed is not waited for: nothing wants it
        (the read stopped early, was interrupted, or the file changed), and on a large file
        waiting for every chunk already queued would hold up Ctrl+C for seconds."""
        if self._executor is not None:
            if any(not future.done() for future in self._futures.values()):
                _stop_workers(self._executor)
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._futures.clear()
        self._waiting.clear()


def _leave_interrupts_to_the_parent() -> None:
    """In a worker: Ctrl+C, which a terminal sends to every process of the command, is the
    parent's to handle (it stops the workers); a worker just goes on until stopped, or until
    its parent dies (a SIGTERM or a kill during start-up: on Linux, the kernel then ends it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_the_parent()


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _end_with_the_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl here: the worker ends with its pipe instead
        return
    if os.getppid() == 1:  # the parent died before the call above took effect
        os._exit(1)


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """End ``executor``'s worker processes now, whatever they are parsing: with the public
    call where Python has one (3.14), else by terminating each process (the executor then
    finds its pool broken and shuts down without waiting for the chunks queued)."""
    terminate = getattr(executor, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.terminate()
