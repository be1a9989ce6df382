"""A large file's chunks parsed by worker processes give exactly the read one process gives: the
same rows, dtypes, categories and line numbers, the same bad rows listed and counted (#16).

Workers are forked only while no other thread runs, so each comparison runs in a fresh
interpreter (a real subprocess), where the parallel read must happen: it says how many
processes parsed the file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pandas as pd

from carbonboard.data.loader import Parsed, Skipped, concat
from carbonboard.data.parallel import (
    MIN_PART_BYTES,
    PARTS_PER_READ,
    part_bytes,
    plan_chunks,
    renumbered,
)
from carbonboard.data.store import BoundedRead, read_bounded

from .conftest import FIELDNAMES, REPO, run_row, write_csv

COMPARE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.dashboard.test_parallel_parse import compare_reads
    path, chunk_bytes, listed_room, start, first_line, min_part = sys.argv[1:7]
    processes = compare_reads(
        Path(path), int(chunk_bytes), int(listed_room), int(start), int(first_line),
        int(min_part),
    )
    print(processes)
    """
)


def assert_same_read(one: BoundedRead, other: BoundedRead) -> None:
    pd.testing.assert_frame_equal(one.parsed.frame, other.parsed.frame, check_exact=True)
    for name, column in one.parsed.frame.items():
        if isinstance(column.dtype, pd.CategoricalDtype):  # same categories, same order
            assert list(column.cat.categories) == list(other.parsed.frame[name].cat.categories)
    assert one.parsed.skipped == other.parsed.skipped
    assert (one.unlisted, one.error) == (other.unlisted, other.error)
    assert (one.parsed.kind, one.parsed.header) == (other.parsed.kind, other.parsed.header)
    assert (one.parsed.end_offset, one.parsed.next_line) == (
        other.parsed.end_offset,
        other.parsed.next_line,
    )


def run_script(script: str, *arguments: object, **options: object) -> str:
    """Run ``script`` in a fresh Python (workers fork only while one thread runs, which a
    test process cannot promise); its standard output, once it succeeded."""
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        **options,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def compare_reads(
    path: Path,
    chunk_bytes: int,
    listed_room: int,
    start: int = 0,
    first_line: int = 2,
    min_part_bytes: int = MIN_PART_BYTES,
) -> int:
    """Read ``path`` in one process and with two workers, check both reads are the same and
    return how many processes the second used."""
    header = None if start == 0 else read_bounded(path, chunk_bytes=chunk_bytes).parsed.header
    common = {
        "start_offset": start,
        "header": header,
        "first_line": first_line,
        "chunk_bytes": chunk_bytes,
        "listed_room": listed_room,
        "min_part_bytes": min_part_bytes,
    }
    alone = read_bounded(path, **common)
    shared = read_bounded(path, **common, workers=2)
    assert alone.processes == 1
    assert_same_read(alone, shared)
    assert_same_read(alone, handed_out(path, **common, workers=2))  # workers kept few parts ahead
    return shared.processes


def handed_out(path: Path, **options: object) -> BoundedRead:
    """``read_bounded`` handing each part on as it is read, with the parts joined back."""
    parts: list[tuple[pd.DataFrame, str]] = []
    read = read_bounded(
        path, **options, take_part=lambda part: parts.append((part.frame, part.kind))
    )
    assert read.parsed.frame.empty
    kinds = {kind for frame, kind in parts if len(frame)}
    assert kinds <= {read.parsed.kind}
    frames = [frame for frame, _ in parts if len(frame)]
    frame = concat(frames, read.parsed.kind) if frames else read.parsed.frame
    return replace(read, parsed=replace(read.parsed, frame=frame))


def processes_comparing(
    path: Path,
    chunk_bytes: int,
    listed_room: int = 1000,
    start: int = 0,
    first_line: int = 2,
    min_part_bytes: int = MIN_PART_BYTES,
) -> int:
    arguments = [path, chunk_bytes, listed_room, start, first_line, min_part_bytes]
    return int(run_script(COMPARE_SCRIPT, *arguments).split()[-1])


def line(row: dict) -> str:
    return ",".join(str(row.get(name, "")) for name in FIELDNAMES)


def tricky_file(path: Path) -> Path:
    """Runs of several projects (a CodeCarbon-style row without status among them), flushed
    twice, with every kind of bad line between them: junk, blank, a wrong-typed value, an
    absurd value, a quoted comma, a quoted line break, a cut quoted cell, non-UTF-8 bytes, a
    line with too many fields, and an unfinished last line."""
    write_csv(path, [])
    rows = []
    for index in range(400):
        row = run_row(
            run_id=f"run-{index % 350}",
            project=f"project-{index % 7}",
            experiment=f"e{index % 3}",
            emissions_kg=0.001 * (index + 1),
            country=("Poland", "POL") if index % 5 else ("France", "FRA"),
        )
        if index % 11 == 0:
            row["status"] = ""
        rows.append(line(row))
    bad = {
        13: "junk without commas",
        29: "",
        41: line({**run_row(run_id="typed"), "energy_consumed": "lots"}),
        57: line({**run_row(run_id="absurd"), "duration": 1e99}),
        73: line(run_row(run_id="comma")).replace("nlp-bert", '"nlp, bert"', 1),
        89: line(run_row(run_id="newline")).replace("nlp-bert", '"nlp\nbert"', 1),
        120: line(run_row(run_id="cut")).replace("nlp-bert", '"nlp', 1),
        151: line(run_row(run_id="wide")) + ",x,y,z",
        222: line(run_row(run_id="latin", project="caf\udce9")),
    }
    lines = []
    for index, text in enumerate(rows):
        lines.append(text)
        if index in bad:
            lines.append(bad[index])
    body = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    with path.open("ab") as handle:
        handle.write(body + line(run_row(run_id="unfinished")).encode()[:40])
    return path


def test_two_workers_read_a_tricky_file_as_one_process_does(tmp_path) -> None:
    path = tricky_file(tmp_path / "tricky.csv")
    assert processes_comparing(path, chunk_bytes=4096) == 2


def test_a_read_handed_out_part_by_part_gives_the_rows_of_the_kept_read(tmp_path) -> None:
    """An import takes each part as it is read: the parts, in order and joined, are the rows of
    a read that keeps them, with the same bad rows and end; the read keeps none itself."""
    path = tricky_file(tmp_path / "tricky.csv")
    options = {"chunk_bytes": 4096, "min_part_bytes": 1024}
    assert_same_read(read_bounded(path, **options), handed_out(path, **options))


def test_bad_rows_beyond_those_listed_are_counted_the_same(tmp_path) -> None:
    path = write_csv(tmp_path / "junk.csv", [run_row(run_id="first")])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("junk,with,too,few,fields\n" * 2000)
    write_csv(path, [run_row(run_id="last")], mode="a")
    assert processes_comparing(path, chunk_bytes=2048, listed_room=25) == 2


def test_a_read_from_an_offset_is_numbered_from_its_first_line(tmp_path) -> None:
    path = tricky_file(tmp_path / "tricky.csv")
    data = path.read_bytes()
    start = data.index(b"\n", len(data) // 3) + 1  # the first whole line after a third
    first_line = data[:start].count(b"\n") + 1
    assert processes_comparing(path, chunk_bytes=4096, start=start, first_line=first_line) == 2


def test_a_line_longer_than_a_chunk_is_read_by_one_process(tmp_path) -> None:
    path = write_csv(tmp_path / "long.csv", [run_row(run_id=str(i)) for i in range(40)])
    with path.open("ab") as handle:
        handle.write(b"x" * 20_000 + b"\n")
    write_csv(path, [run_row(run_id="after")], mode="a")
    assert plan_chunks(path, 0, path.stat().st_size, 4096) is None
    assert processes_comparing(path, chunk_bytes=4096) == 1


def test_a_file_of_one_chunk_is_read_in_parts_by_every_worker(tmp_path) -> None:
    path = tricky_file(tmp_path / "emissions.csv")
    size = path.stat().st_size
    assert size < 1_000_000  # one chunk
    assert processes_comparing(path, chunk_bytes=1_000_000, min_part_bytes=4096) == 2
    assert processes_comparing(path, chunk_bytes=1_000_000, min_part_bytes=size) == 1


def test_a_part_is_an_eighth_of_the_read_within_the_chunk_and_never_tiny() -> None:
    assert PARTS_PER_READ == 8
    assert part_bytes(8000, chunk_bytes=640, min_part_bytes=8) == 640  # large: whole chunks
    assert part_bytes(800, chunk_bytes=640, min_part_bytes=8) == 100  # an eighth
    assert part_bytes(801, chunk_bytes=640, min_part_bytes=8) == 101  # rounded up
    assert part_bytes(40, chunk_bytes=640, min_part_bytes=8) == 8  # never tiny


def test_the_plan_starts_each_chunk_after_the_last_line_end_of_the_one_before(tmp_path) -> None:
    path = tmp_path / "lines.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 10 + b"3,")  # 4 bytes a line
    assert plan_chunks(path, 0, path.stat().st_size, 10) == (
        [0, 8, 16, 24, 32, 40],
        ["a", "b"],
    )
    assert plan_chunks(path, 8, path.stat().st_size, 10) == ([8, 16, 24, 32, 40], None)


def test_renumbering_moves_every_line_number() -> None:
    frame = pd.DataFrame({"line_number": pd.Series([1, 3], dtype="int64")})
    moved = renumbered(Parsed("runs", ["a"], frame, [Skipped("f", 2, "junk")], 10, 4), 100)
    assert list(moved.frame["line_number"]) == [101, 103]
    assert moved.skipped == [Skipped("f", 102, "junk")]
    assert moved.next_line == 104


LOAD_AHEAD_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import pandas as pd
    from carbonboard.data import store as store_module
    from carbonboard.data.store import HistoryStore
    from tests.dashboard.conftest import run_row, write_csv
    store_module.DISK_CACHE_MIN_BYTES = 1
    path, cache, append = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "append"
    store = HistoryStore([path], cache_dir=cache, chunk_bytes=4096, parse_workers=2)
    store.load_ahead()
    ahead = len(store._ahead)
    if append:  # the file changes while it is parsed ahead: what history() shows is the new file
        write_csv(path, [run_row(run_id="appended")], mode="a")
    alone = HistoryStore([path], disk_cache=False, chunk_bytes=4096, parse_workers=1).history()
    history = store.history()
    pd.testing.assert_frame_equal(history.runs, alone.runs, check_exact=True)
    assert history.skipped == alone.skipped and history.files == alone.files
    print(ahead, int((history.runs["run_id"] == "appended").sum()))
    """
)


def load_ahead(path: Path, cache: Path, append: bool) -> list[int]:
    output = run_script(LOAD_AHEAD_SCRIPT, path, cache, "append" if append else "keep")
    return [int(word) for word in output.split()]


def test_a_file_parsed_ahead_gives_the_history_one_process_reads(tmp_path) -> None:
    path = tricky_file(tmp_path / "tricky.csv")
    assert load_ahead(path, tmp_path / "cache", append=False) == [1, 0]


def test_a_file_changed_while_parsed_ahead_is_read_as_it_is_now(tmp_path) -> None:
    path = write_csv(tmp_path / "runs.csv", [run_row(run_id=str(i)) for i in range(200)])
    assert load_ahead(path, tmp_path / "cache", append=True) == [1, 1]


DYING_WORKER_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from carbonboard.data import parallel
    from tests.dashboard.test_parallel_parse import assert_same_read
    from carbonboard.data.store import read_bounded
    path = Path(sys.argv[1])
    alone = read_bounded(path, chunk_bytes=4096)
    real = parallel.parse_chunk

    def dying(path, offset, *rest):  # a worker killed (out of memory) on its second chunk
        if offset > 0:
            os._exit(1)
        return real(path, offset, *rest)

    parallel.parse_chunk = dying
    shared = read_bounded(path, chunk_bytes=4096, workers=2)
    assert_same_read(alone, shared)
    print(shared.processes)
    """
)


def test_a_worker_that_dies_leaves_the_read_to_this_process(tmp_path) -> None:
    path = tricky_file(tmp_path / "tricky.csv")
    output = run_script(DYING_WORKER_SCRIPT, path)
    assert output.split() == ["1"]  # the workers broke: the rest was parsed here


INTERRUPTED_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from carbonboard.data import parallel
    from carbonboard.data.store import read_bounded

    def slow(*arguments):  # every chunk takes a minute to parse
        time.sleep(60)

    parallel.parse_chunk = slow
    # Ctrl+C from a terminal in a second: every process of the command gets SIGINT (an alarm,
    # not a thread: workers are forked only while one thread runs)
    signal.signal(signal.SIGALRM, lambda *_: os.killpg(0, signal.SIGINT))
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    started = time.monotonic()
    try:
        read_bounded(Path(sys.argv[1]), chunk_bytes=4096, min_part_bytes=1024, workers=2)
    except KeyboardInterrupt:
        print(round(time.monotonic() - started, 1))
    """
)


def test_ctrl_c_during_a_parallel_read_does_not_wait_for_the_chunks_queued(tmp_path) -> None:
    """The read stops with Ctrl+C at once: the workers' chunks are not waited for (each would
    take a minute here), and the workers leave the interrupt to the parent."""
    path = tricky_file(tmp_path / "tricky.csv")
    # in its own process group, which the script interrupts
    output = run_script(INTERRUPTED_SCRIPT, path, start_new_session=True)
    assert float(output.split()[-1]) < 10


KILLED_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from carbonboard.data import parallel
    from carbonboard.data.store import read_bounded

    def slow(*arguments):  # every chunk takes a minute to parse: the workers are busy
        time.sleep(60)

    parallel.parse_chunk = slow
    if os.fork() == 0:  # the board, killed during its first read (SIGKILL: no clean-up at all)
        read_bounded(Path(sys.argv[1]), chunk_bytes=4096, min_part_bytes=1024, workers=2)
        os._exit(0)
    time.sleep(1.5)
    import psutil
    board = [p for p in psutil.Process().children() if p.pid != os.getpid()][0]
    workers = board.children()
    board.kill()
    board.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    print(len(workers), len(alive))
    """
)


def test_workers_end_when_the_board_is_killed_during_a_read(tmp_path) -> None:
    """A SIGTERM or a kill during a first start must not leave parsing workers behind, each
    holding its chunk's memory: the kernel ends them with their parent."""
    path = tricky_file(tmp_path / "tricky.csv")
    started, left = run_script(KILLED_SCRIPT, path).split()
    assert int(started) == 2 and int(left) == 0
