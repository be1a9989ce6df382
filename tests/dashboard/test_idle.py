"""Work done while the board is idle (``carbonboard.idle``): each project's views prepared
ahead, never while a request is in flight."""

from __future__ import annotations

import time

from carbonboard import idle
from carbonboard.data.store import HistoryStore
from carbonboard.selection import Selection


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quiet_means_nothing_in_flight_for_a_while() -> None:
    clock = Clock()
    requests = idle.Requests(clock)
    assert not requests.quiet()  # just started
    clock.now += 10
    assert not requests.quiet()  # not even serving yet: a start is never slowed
    requests.started()
    requests.finished()
    clock.now += idle.QUIET_S
    assert requests.quiet()
    requests.started()
    clock.now += 10
    assert not requests.quiet()  # a slow request is still in flight
    requests.finished()
    assert not requests.quiet()
    clock.now += idle.QUIET_S
    assert requests.quiet()


class RecordingStore(HistoryStore):
    """A real store that also notes what it was asked to prepare, and when."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: list[tuple[Selection, bool]] = []
        self.requests: idle.Requests | None = None

    def prepare(self, selection: Selection) -> None:
        self.prepared.append((selection, self.requests.quiet()))
        super().prepare(selection)


def test_the_first_view_then_every_project_largest_first_once_quiet(history_files) -> None:
    store = RecordingStore(list(history_files), disk_cache=False)
    requests = store.requests = idle.Requests()
    idle.Preparer(store, requests).schedule()
    time.sleep(2 * idle.QUIET_S)
    assert store.prepared == []  # the server has not answered yet: a start is not slowed
    requests.started()  # the first page is being drawn
    requests.finished()
    requests.started()
    time.sleep(2 * idle.QUIET_S)
    assert store.prepared == []  # nothing while a request is in flight
    requests.finished()
    deadline = time.monotonic() + 10
    projects = list(store.breakdown(Selection(), "project")["project"])
    while len(store.prepared) < len(projects) + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.prepared[0][0] == Selection()  # the first view of every page, first
    assert [selection.project for selection, _ in store.prepared[1:]] == projects
    assert all(quiet for _, quiet in store.prepared)
    # a prepared answer is the answer
    fresh = HistoryStore(list(history_files), disk_cache=False)
    for project in projects:
        chosen = Selection(project=project)
        assert store.totals(chosen) == fresh.totals(chosen)
        assert store.breakdown(chosen, "place").equals(fresh.breakdown(chosen, "place"))


def wait_for(condition, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_tasks_to_do_once_come_first_each_when_quiet_and_a_failure_stops_nothing(
    history_files,
) -> None:
    store = RecordingStore(list(history_files), disk_cache=False)
    requests = store.requests = idle.Requests()
    done: list[tuple[str, bool, int]] = []

    def task(name: str):
        def run() -> None:
            done.append((name, requests.quiet(), len(store.prepared)))
            if name == "failing":
                raise OSError("disk full")

        return run

    idle.Preparer(store, requests, once=[task("failing"), task("compress")]).schedule()
    time.sleep(2 * idle.QUIET_S)
    assert done == []  # not before the server has answered a first request
    requests.started()
    requests.finished()
    wait_for(lambda: len(store.prepared) > 1)
    assert done == [("failing", True, 0), ("compress", True, 0)]  # before any preparing
    assert store.prepared[0][0] == Selection()


class CheapStore(RecordingStore):
    """A store whose answers are cheap anyway, as a database's are: nothing to work out ahead."""

    prepares_ahead = False


def test_a_source_that_prepares_nothing_ahead_is_not_asked(history_files) -> None:
    store = CheapStore(list(history_files), disk_cache=False)
    requests = store.requests = idle.Requests()
    done: list[str] = []
    idle.Preparer(store, requests, once=[lambda: done.append("compressed")]).schedule()
    requests.started()
    requests.finished()
    wait_for(lambda: done)
    time.sleep(2 * idle.QUIET_S)
    assert done == ["compressed"]  # the tasks to do once still run
    assert store.prepared == []


def test_views_are_worked_out_ahead_for_every_source_after_its_answers(history_files) -> None:
    for store in (
        RecordingStore(list(history_files), disk_cache=False),
        CheapStore(list(history_files), disk_cache=False),
    ):
        requests = store.requests = idle.Requests()
        built: list[tuple[Selection, int]] = []

        def view(source, selection: Selection, store=store, built=built) -> None:
            built.append((selection, len(store.prepared)))

        idle.Preparer(store, requests, views=[view]).schedule()
        requests.started()
        requests.finished()
        projects = list(store.breakdown(Selection(), "project")["project"])
        wait_for(lambda built=built, projects=projects: len(built) == len(projects) + 1)
        assert [selection for selection, _ in built] == [
            Selection(),
            *(Selection(project=project) for project in projects),
        ]
        if store.prepares_ahead:  # each view once its source's answers are worked out
            assert [prepared for _, prepared in built] == list(range(1, len(projects) + 2))
        else:
            assert store.prepared == []
