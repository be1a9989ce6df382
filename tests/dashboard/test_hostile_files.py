"""One bad file never takes the board down: FIFOs, symlink loops, binaries, junk tails (#17, #11).

Every case uses the real thing (a FIFO made with ``os.mkfifo``, a real symlink loop, real bytes on
disk); calls that could block run in a thread with a deadline.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest

from carbonboard.data import store as store_module
from carbonboard.data.paths import PathError, file_problem, open_regular, resolve_paths
from carbonboard.data.store import HistoryStore, read_bounded

from .conftest import REPO

DEADLINE_S = 20.0
BINARY_LINES = b"\x00\x01binary\xff\n" * 3  # lines the row parser cannot take


def within_deadline(function, *args, **kwargs):
    """``function(*args, **kwargs)``, failing the test (instead of hanging it) if it blocks."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised in the test's thread
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"{function.__name__} blocked for {DEADLINE_S} s"
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]


def run_ids(history) -> set[str]:
    return set(history.runs["run_id"].astype(str))


@pytest.fixture
def folder(tmp_path, make_row, csv_writer) -> Path:
    """A watched folder with one good emissions CSV (runs g1, g2)."""
    directory = tmp_path / "runs"
    directory.mkdir()
    csv_writer(directory / "good.csv", [make_row(run_id="g1"), make_row(run_id="g2")])
    return directory


# --- one bad file among good ones -----------------------------------------------------------


def failing_parse_for(monkeypatch, name: str, error: BaseException, *, from_offset: int = 0):
    """Make reading the file called ``name`` raise ``error`` from ``from_offset`` on: a fault
    injected where the row parser would fail (the parser's own bugs come and go; the store's
    promise to isolate them must hold for any exception)."""
    real_parse = store_module.parse

    def parse(path, **kwargs):
        if Path(path).name == name and kwargs.get("start_offset", 0) >= from_offset:
            raise error
        return real_parse(path, **kwargs)

    monkeypatch.setattr(store_module, "parse", parse)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (pd.errors.ParserError("EOF inside string"), "ParserError: EOF inside string"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "UnicodeDecodeError"),
        (ValueError("assignment destination is read-only"), "ValueError: assignment"),
        (MemoryError(), "MemoryError"),
    ],
)
def test_any_error_reading_a_file_marks_it_and_the_rest_is_served(
    folder, make_row, csv_writer, caplog, monkeypatch, error, reason
) -> None:
    broken = csv_writer(folder / "broken.csv", [make_row(run_id="b1")])
    store = HistoryStore.from_arguments([str(folder)], disk_cache=False)
    assert run_ids(store.history()) == {"g1", "g2", "b1"}
    failing_parse_for(monkeypatch, "broken.csv", error, from_offset=1)
    csv_writer(broken, [make_row(run_id="b2")], mode="a")
    csv_writer(folder / "good.csv", [make_row(run_id="g3")], mode="a")
    with caplog.at_level(logging.WARNING, logger=store_module.__name__):
        history = store.history()
        store.history()
    # its rows before the failure stay, the rest of the board is served and follows changes
    assert run_ids(history) == {"g1", "g2", "g3", "b1"}
    [info] = history.unreadable
    assert info.path.endswith("broken.csv")
    assert info.error.startswith(f"unreadable from line 3: {reason}")
    assert len([r for r in caplog.records if "broken.csv" in r.getMessage()]) == 1
    # a whole file that fails is listed with the reason, its runs leave the totals
    broken.write_text(broken.read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(broken, ns=(0, broken.stat().st_mtime_ns + 10**9))
    failing_parse_for(monkeypatch, "broken.csv", error)
    history = store.history()
    assert run_ids(history) == {"g1", "g2", "g3"}
    assert history.unreadable[0].error.startswith(reason)


def test_a_file_swapped_for_a_binary_is_marked_with_the_reason(
    folder, make_row, csv_writer
) -> None:
    other = csv_writer(folder / "other.csv", [make_row(run_id="o1")])
    store = HistoryStore.from_arguments([str(other), str(folder / "good.csv")], disk_cache=False)
    assert run_ids(store.history()) == {"o1", "g1", "g2"}
    other.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 100)
    history = store.history()
    assert run_ids(history) == {"g1", "g2"}
    assert [f.error for f in history.unreadable] == ["not a CSV file (binary or not UTF-8 text)"]


def test_a_codecarbon_file_copied_into_a_watched_folder_keeps_the_page_up(
    folder, make_row, csv_writer
) -> None:
    """#11: copying a CodeCarbon file into a watched folder must not break the open page."""
    from carbonboard.app import create_app

    from .conftest import CODECARBON_FIXTURES

    store = HistoryStore.from_arguments([str(folder)], disk_cache=False)
    app = create_app(store, refresh_interval_s=0)
    client = app.server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    (folder / "cc.csv").write_bytes((CODECARBON_FIXTURES / "codecarbon-3.3.2.csv").read_bytes())
    (folder / "junk.csv").write_bytes(
        (folder / "good.csv").read_bytes().splitlines(keepends=True)[0] + BINARY_LINES
    )
    assert client.get("/_dash-layout").status_code == 200
    history = store.history()
    assert {"g1", "g2"} <= run_ids(history)
    assert len(history.runs) == 4  # the CodeCarbon file's two runs too


def test_an_explicit_bad_file_among_good_ones_is_listed_not_fatal(
    folder, tmp_path, make_row, csv_writer
) -> None:
    other = tmp_path / "other.csv"
    other.write_text("name,value\nx,1\n", encoding="utf-8")
    good = str(folder / "good.csv")
    assert resolve_paths([good, str(other)]) == [Path(good).resolve()]
    store = HistoryStore.from_arguments([good, str(other)], disk_cache=False)
    history = store.history()
    assert run_ids(history) == {"g1", "g2"}
    [info] = history.unreadable
    assert Path(info.path).name == "other.csv"
    assert info.error.startswith("not an emissions CSV: its header lacks timestamp, project_name")
    # alone, it is still a clear one-line error
    with pytest.raises(PathError, match=r"other\.csv is not an emissions CSV"):
        resolve_paths([str(other)])


def test_a_glob_skips_a_bad_match_as_a_folder_does(folder, make_row, csv_writer) -> None:
    (folder / "weights.csv").write_bytes(bytes(range(256)) * 4)
    pattern = str(folder / "*.csv")
    assert [p.name for p in resolve_paths([pattern])] == ["good.csv"]
    assert run_ids(HistoryStore.from_arguments([pattern], disk_cache=False).history()) == {
        "g1",
        "g2",
    }
    (folder / "good.csv").unlink()
    with pytest.raises(PathError, match="no emissions CSV in the files matching"):
        resolve_paths([pattern])


# --- FIFOs, symlink loops, permissions ------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_a_watched_folder_never_blocks(folder, make_row, csv_writer) -> None:
    store = within_deadline(HistoryStore.from_arguments, [str(folder)], disk_cache=False)
    os.mkfifo(folder / "pipe.csv")
    history = within_deadline(store.history)
    assert run_ids(history) == {"g1", "g2"}
    assert [Path(f.path).name for f in history.files] == ["good.csv"]
    assert within_deadline(file_problem, folder / "pipe.csv") == "not a regular file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_given_as_a_file_never_blocks(folder) -> None:
    pipe = folder / "emissions.csv"
    os.mkfifo(pipe)
    with pytest.raises(PathError, match="is not a regular file"):
        within_deadline(resolve_paths, [str(pipe)])
    store = within_deadline(
        HistoryStore.from_arguments, [str(pipe), str(folder / "good.csv")], disk_cache=False
    )
    history = within_deadline(store.history)
    assert run_ids(history) == {"g1", "g2"}
    assert [f.error for f in history.unreadable] == ["not a regular file"]
    with pytest.raises(OSError, match="not a regular file"):
        within_deadline(open_regular, pipe)


def test_a_symlink_loop_is_skipped_with_one_warning(folder, caplog) -> None:
    loop = folder / "loop.csv"
    loop.symlink_to(loop)
    with caplog.at_level(logging.WARNING):
        assert [p.name for p in resolve_paths([str(folder)])] == ["good.csv"]
        store = HistoryStore.from_arguments([str(folder)], disk_cache=False)
        history = store.history()
        store.history()
    assert run_ids(history) == {"g1", "g2"}
    assert len([r for r in caplog.records if "loop.csv" in r.getMessage()]) == 1
    # given by name: one line alone, listed as unreadable among good files
    with pytest.raises(PathError, match="symlink loop"):
        resolve_paths([str(loop)])
    history = HistoryStore.from_arguments(
        [str(loop), str(folder / "good.csv")], disk_cache=False
    ).history()
    assert run_ids(history) == {"g1", "g2"}
    assert [Path(f.path).name for f in history.unreadable] == ["loop.csv"]
    assert "symbolic links" in history.unreadable[0].error


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads a file whatever its mode: permission cannot be denied",
)
def test_a_permission_denied_file_is_reported_as_such(folder, make_row, csv_writer) -> None:
    locked = csv_writer(folder / "locked.csv", [make_row(run_id="l1")])
    locked.chmod(0)
    try:
        history = HistoryStore.from_arguments([str(folder)], disk_cache=False).history()
        assert run_ids(history) == {"g1", "g2"}
        assert [(Path(f.path).name, f.error) for f in history.unreadable] == [
            ("locked.csv", "Permission denied")
        ]
        assert file_problem(locked) == "Permission denied"
    finally:
        locked.chmod(0o600)


# --- bounded reading ------------------------------------------------------------------------


def test_junk_lines_are_read_in_chunks_counted_and_the_rows_after_them_loaded(
    tmp_path, make_row, csv_writer
) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="before")])
    junk_lines = 3000
    with path.open("a", encoding="utf-8") as handle:
        handle.write("junk,with,too,few,fields\n" * junk_lines)
    csv_writer(path, [make_row(run_id="after")], mode="a")
    store = HistoryStore([path], disk_cache=False, chunk_bytes=4096)
    history = store.history()
    assert run_ids(history) == {"before", "after"}
    assert history.skipped_rows == junk_lines
    assert len(history.skipped) == store_module.MAX_LISTED_SKIPPED
    assert history.skipped[0].line == 3
    # an append is read from where the last read stopped, and counted on top
    with path.open("a", encoding="utf-8") as handle:
        handle.write("more,junk\n")
    csv_writer(path, [make_row(run_id="later")], mode="a")
    history = store.history()
    assert run_ids(history) == {"before", "after", "later"}
    assert history.skipped_rows == junk_lines + 1


def test_a_line_longer_than_a_chunk_is_skipped_and_reported(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="before")])
    with path.open("ab") as handle:
        handle.write(b"x" * 50_000 + b"\n")
    csv_writer(path, [make_row(run_id="after")], mode="a")
    read = read_bounded(path, chunk_bytes=4096)
    assert set(read.parsed.frame["run_id"].astype(str)) == {"before", "after"}
    assert [(s.line, s.reason) for s in read.parsed.skipped] == [
        (3, "line longer than 4,096 bytes, skipped")
    ]
    # without a newline, it is a last line still being written: not read, reported
    with path.open("ab") as handle:
        handle.write(b"y" * 50_000)
    read = read_bounded(path, chunk_bytes=4096)
    assert read.parsed.skipped[-1].line == 5
    assert read.parsed.skipped[-1].reason.startswith("last line longer than 4,096 bytes")


PEAK_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from carbonboard.data.store import HistoryStore
    store = HistoryStore([Path(sys.argv[1])], disk_cache=False, chunk_bytes=int(sys.argv[2]))
    history = store.history()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(history.runs), history.skipped_rows, peak_kib)
    """
)


def peak_memory(path: Path, chunk_bytes: int) -> tuple[int, int, int]:
    """Runs, skipped rows and peak RSS (KiB) of a fresh process that loads ``path``."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(path), str(chunk_bytes)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=300,
    )
    runs, skipped, peak_kib = (int(v) for v in done.stdout.split())
    return runs, skipped, peak_kib


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_a_large_junk_tail_is_not_read_into_memory(tmp_path, make_row, csv_writer) -> None:
    small = csv_writer(tmp_path / "small.csv", [make_row(run_id=str(i)) for i in range(20)])
    path = csv_writer(tmp_path / "junk.csv", [make_row(run_id=str(i)) for i in range(20)])
    junk_mib = 16  # read whole, this takes ~10 times as much memory
    line = b"garbage,with,too,few,fields," * 3 + b"\n"
    lines = junk_mib * 1024 * 1024 // len(line)
    with path.open("ab") as handle:
        for _ in range(lines // 1000):
            handle.write(line * 1000)
    chunk_bytes = 512 * 1024
    baseline = peak_memory(small, chunk_bytes)
    runs, skipped, peak_kib = peak_memory(path, chunk_bytes)
    assert (runs, skipped) == (20, lines // 1000 * 1000)
    grown_mib = (peak_kib - baseline[2]) / 1024
    assert grown_mib < junk_mib / 2, f"{grown_mib:.0f} MiB more than for a small file"


def test_the_report_lists_a_bad_file_and_is_written_from_the_others(
    folder, tmp_path, make_row, csv_writer, monkeypatch
) -> None:
    from click.testing import CliRunner

    from carbonboard.report_cli import report

    binary = tmp_path / "weights.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    broken = csv_writer(tmp_path / "broken.csv", [make_row(run_id="b1")])
    failing_parse_for(monkeypatch, "broken.csv", pd.errors.ParserError("EOF inside string"))
    out = tmp_path / "report.html"
    args = [f"--filepath={p}" for p in (folder / "good.csv", binary, broken)]
    result = CliRunner().invoke(report, [*args, f"--out={out}"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    left_out = result.stderr.strip().splitlines()
    assert len(left_out) == 2, result.stderr
    assert "weights.csv is not a CSV file" in left_out[0]
    assert "broken.csv: ParserError: EOF inside string" in left_out[1]
    assert "g1" in out.read_text(encoding="utf-8")


def test_a_bad_byte_in_the_body_costs_its_row_not_the_file(folder, make_row, csv_writer) -> None:
    """A Windows program's "Café" in cp1252, then the NULs a power cut leaves in an appended
    file: the header decides whether a file is a CSV, the rows' bytes are the loader's."""
    damaged = csv_writer(folder / "damaged.csv", [make_row(run_id="d1", project="Cafe")])
    data = damaged.read_bytes().replace(b"Cafe", b"Caf\xe9")
    damaged.write_bytes(data + b"\x00" * 4096 + b"\n")
    with damaged.open("a", newline="", encoding="utf-8") as handle:
        handle.write(",".join(str(v) for v in make_row(run_id="d2").values()) + "\n")
    assert file_problem(damaged) is None
    store = HistoryStore.from_arguments([str(folder)], disk_cache=False)
    history = store.history()
    assert run_ids(history) == {"g1", "g2", "d1", "d2"}
    projects = history.runs.set_index("run_id")["project_name"].astype(str)
    assert projects["d1"] == "Caf\ufffd"  # the byte read as the replacement character
    assert [s.line for s in history.skipped] == [3]  # the NULs' line, skipped and reported


@pytest.mark.skipif(sys.platform != "linux", reason="file names of any bytes")
def test_a_file_name_that_is_not_utf8_is_shown_with_a_replacement_character(
    folder, make_row, csv_writer
) -> None:
    name = os.fsdecode(b"emissions-\xe9t\xe9.csv")  # Latin-1 bytes kept as lone surrogates
    odd = csv_writer(folder / name, [make_row(run_id="l1")])
    store = HistoryStore.from_arguments([str(folder)], disk_cache=False)
    assert run_ids(store.history()) == {"g1", "g2", "l1"}
    csv_writer(odd, [make_row(run_id="l2")], mode="a")  # a live file: read again, appended
    history = store.history()
    assert run_ids(history) == {"g1", "g2", "l1", "l2"}
    shown = str(folder / "emissions-\ufffdt\ufffd.csv")
    assert shown in {f.path for f in history.files}
    assert store.run_detail("l2").run["source_file"] == shown
