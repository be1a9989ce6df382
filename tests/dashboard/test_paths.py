"""--filepath expansion: files, directories, globs, and one-line errors."""

from __future__ import annotations

import pytest

from carbonboard.data.paths import PathError, PathSpec, parse_argument, resolve_paths


def test_file_directory_and_glob(history_files, tmp_path) -> None:
    emissions, tasks = history_files
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # not ours: ignored
    # a runs file brings its tasks file, found beside it
    assert resolve_paths([str(emissions)]) == [emissions.resolve(), tasks.resolve()]
    assert resolve_paths([str(tasks)]) == [tasks.resolve()]
    assert resolve_paths([str(tmp_path)]) == [emissions.resolve(), tasks.resolve()]
    assert resolve_paths([str(tmp_path / "emissions*.csv")]) == [
        emissions.resolve(),
        tasks.resolve(),
    ]
    # repeated and overlapping values load each file once
    assert resolve_paths([emissions, str(tmp_path)]) == [emissions.resolve(), tasks.resolve()]


def test_empty_file_is_accepted(tmp_path) -> None:
    empty = tmp_path / "new.csv"
    empty.touch()
    assert resolve_paths([empty]) == [empty.resolve()]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d / "missing.csv", "does not exist"),
        (lambda d: d, "no emissions CSV in directory"),
        (lambda d: str(d / "*.nothing"), "no file matches"),
    ],
)
def test_paths_that_cannot_load(tmp_path, setup, message) -> None:
    with pytest.raises(PathError, match=message):
        resolve_paths([setup(tmp_path)])


def test_files_that_are_not_emissions_csv(tmp_path) -> None:
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    other = tmp_path / "other.csv"
    other.write_text("name,value\nx,1\n", encoding="utf-8")
    with pytest.raises(PathError, match="is not a CSV file"):
        resolve_paths([binary])
    with pytest.raises(PathError, match="lacks timestamp, project_name, run_id"):
        resolve_paths([other])
    with pytest.raises(PathError, match="no --filepath"):
        resolve_paths([])


def test_directories_and_globs_are_kept_to_list_again(history_files, tmp_path) -> None:
    emissions, tasks = history_files
    assert parse_argument(str(emissions)) == emissions
    assert parse_argument(tmp_path / "missing.csv") == tmp_path / "missing.csv"
    directory = parse_argument(tmp_path)
    pattern = parse_argument(str(tmp_path / "*.csv"))
    assert directory == PathSpec(str(tmp_path), "directory")
    assert pattern == PathSpec(str(tmp_path / "*.csv"), "glob")
    assert directory.candidates() == pattern.candidates() == [emissions, tasks]
    late = tmp_path / "late.csv"
    late.touch()
    assert directory.candidates() == [emissions, tasks, late]
    tasks.unlink()
    assert pattern.candidates() == [emissions, late]
    assert PathSpec(str(tmp_path / "gone"), "directory").candidates() == []
