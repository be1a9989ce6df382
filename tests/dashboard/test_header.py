"""The page header's texts: files told apart by their folder, unreadable files and skipped rows
counted (#16, #17)."""

from __future__ import annotations

from carbonboard.data.history import FileInfo
from carbonboard.data.loader import Skipped
from carbonboard.data.source import Description
from carbonboard.data.store import HistoryStore
from carbonboard.sections.header import (
    display_names,
    files_text,
    problems_text,
    skipped_list,
)


def history_of(files: list[FileInfo], skipped: list[Skipped] | None = None) -> Description:
    listed = skipped or []
    return Description(tuple(files), tuple(listed), sum(f.skipped for f in files), 0, 0)


def test_files_of_the_same_name_show_their_folder() -> None:
    assert display_names(["/data/a/emissions.csv", "/data/b/emissions.csv", "/x/tasks.csv"]) == [
        "a/emissions.csv",
        "b/emissions.csv",
        "tasks.csv",
    ]
    # as many folders as it takes, and only for the names that clash
    assert display_names(["/p/run/emissions.csv", "/q/run/emissions.csv", "/q/other.csv"]) == [
        "p/run/emissions.csv",
        "q/run/emissions.csv",
        "other.csv",
    ]
    assert display_names(["C:\\runs\\a\\e.csv", "C:\\runs\\b\\e.csv"]) == ["a/e.csv", "b/e.csv"]
    assert display_names([]) == []


def test_the_header_names_repeated_files_by_folder(tmp_path, make_row, csv_writer) -> None:
    for folder in ("laptop", "cluster"):
        (tmp_path / folder).mkdir()
        csv_writer(tmp_path / folder / "emissions.csv", [make_row(run_id=folder)])
    store = HistoryStore.from_arguments(
        [str(tmp_path / "laptop"), str(tmp_path / "cluster")], disk_cache=False
    )
    assert files_text(store.describe()) == "2 files: laptop/emissions.csv, cluster/emissions.csv"


def test_unreadable_files_and_skipped_rows_are_counted_apart() -> None:
    files = [
        FileInfo("/a/emissions.csv", "runs", 10, 1200, 100),
        FileInfo("/b/emissions.csv", "unreadable", 0, 0, 5, "not a regular file"),
        FileInfo("/b/emissions_tasks.csv", "tasks", 3, 0, 100),
    ]
    skipped = [Skipped("/a/emissions.csv", line, "run_id missing") for line in range(2, 1002)]
    history = history_of(files, skipped)
    assert files_text(history) == (
        "3 files: a/emissions.csv; tasks: emissions_tasks.csv; unreadable: b/emissions.csv"
    )
    assert problems_text(history) == "⚠ 1 unreadable file, 1,200 skipped rows"
    listed = skipped_list(history)
    items = [item.children for item in listed[1].children]
    assert items[0] == "/b/emissions.csv: not a regular file"
    assert items[1] == "a/emissions.csv, line 2: run_id missing"
    assert len(items) == 1 + 200
    assert listed[2].children == "… and 1,000 more."  # of the 1,200 counted, 200 listed
    assert problems_text(history_of(files[:1])) == "⚠ 1,200 skipped rows"
    assert problems_text(history_of(files[1:2])) == "⚠ 1 unreadable file"


def test_a_file_partly_read_stays_with_its_kind_and_lists_its_reason() -> None:
    partial = FileInfo("/a/h.csv", "runs", 5, 0, 100, "unreadable from line 7: MemoryError")
    history = history_of([partial])
    assert files_text(history) == "1 file: h.csv"
    assert problems_text(history) == "⚠ 1 unreadable file"
    items = [item.children for item in skipped_list(history)[1].children]
    assert items == ["/a/h.csv: unreadable from line 7: MemoryError"]
