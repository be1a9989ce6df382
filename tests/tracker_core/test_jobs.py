"""Cluster jobs: the job, node and rank read from the launchers' environment, and one tracker per
node measuring it, so that a job's rows add up to each node once (#13).

The end-to-end tests start real processes, as a launcher would, all with the same job environment,
each running a tracker on forced power; the rows they write to one shared CSV are then added up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracker.jobs import (
    SCOPE_NODE,
    SCOPE_NONE,
    SCOPE_PROCESS,
    JobContext,
    job_context,
    measurement_scope,
)
from tracker.node_lock import NodeLock, node_lock_file
from tracker.power.base import JOULES_PER_KWH


def host() -> str:
    return "laptop"


# -- reading the environment ----------------------------------------------------------------------


def test_outside_a_job_only_the_host_is_known():
    assert job_context({}, host) == JobContext(hostname="laptop")


def test_slurm_step_gives_job_node_and_ranks():
    environ = {
        "SLURM_JOB_ID": "81234",
        "SLURM_PROCID": "5",
        "SLURM_LOCALID": "1",
        "SLURM_NODEID": "1",
        "SLURM_NTASKS": "8",
        "SLURMD_NODENAME": "gpu-node-07",
    }
    assert job_context(environ, host) == JobContext(
        hostname="gpu-node-07",
        job_id="81234",
        rank=5,
        local_rank=1,
        world_size=8,
        launcher="slurm",
    )


def test_slurm_array_task_is_named_as_squeue_shows_it():
    environ = {"SLURM_JOB_ID": "900", "SLURM_ARRAY_JOB_ID": "899", "SLURM_ARRAY_TASK_ID": "3"}
    assert job_context(environ, host).job_id == "899_3"


def test_torchrun_under_slurm_takes_torchruns_ranks_and_slurms_job():
    # One torchrun per node (srun numbers it 1), four workers on this node.
    environ = {
        "SLURM_JOB_ID": "77",
        "SLURM_PROCID": "1",
        "SLURM_LOCALID": "0",
        "SLURM_NTASKS": "2",
        "RANK": "6",
        "LOCAL_RANK": "2",
        "WORLD_SIZE": "8",
        "LOCAL_WORLD_SIZE": "4",
        "TORCHELASTIC_RUN_ID": "rdzv-abc",
    }
    context = job_context(environ, host)
    assert (context.job_id, context.rank, context.local_rank, context.world_size) == ("77", 6, 2, 8)
    assert context.launcher == "torchrun"


def test_torchrun_alone_is_identified_by_its_rendezvous_id_unless_unnamed():
    environ = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "r-9"}
    assert job_context(environ, host).job_id == "r-9"
    unnamed = {**environ, "TORCHELASTIC_RUN_ID": "none"}
    assert job_context(unnamed, host).job_id == ""
    assert job_context(unnamed, host).local_rank == 0


def test_a_lone_rank_variable_is_not_taken_for_torchrun():
    assert job_context({"RANK": "3"}, host) == JobContext(hostname="laptop")


def test_open_mpi_ranks_win_over_the_allocations_slurm_variables():
    environ = {
        "SLURM_JOB_ID": "12",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "OMPI_COMM_WORLD_RANK": "3",
        "OMPI_COMM_WORLD_SIZE": "4",
        "OMPI_COMM_WORLD_LOCAL_RANK": "1",
    }
    context = job_context(environ, host)
    assert (context.job_id, context.rank, context.local_rank, context.world_size) == ("12", 3, 1, 4)
    assert context.launcher == "openmpi"


def test_mpirun_outside_slurm_is_identified_by_its_pmix_namespace():
    environ = {
        "OMPI_COMM_WORLD_RANK": "0",
        "OMPI_COMM_WORLD_SIZE": "2",
        "OMPI_COMM_WORLD_LOCAL_RANK": "0",
        "PMIX_NAMESPACE": "prterun-laptop-4242@1",
    }
    assert job_context(environ, host).job_id == "prterun-laptop-4242@1"


def test_pmi_rank_uses_slurms_local_id_only_when_srun_started_the_rank():
    by_srun = {"SLURM_JOB_ID": "5", "PMI_RANK": "3", "PMI_SIZE": "4", "SLURM_PROCID": "3"}
    by_srun["SLURM_LOCALID"] = "1"
    context = job_context(by_srun, host)
    assert (context.rank, context.local_rank, context.world_size) == (3, 1, 4)
    # mpiexec's proxies were started by srun: SLURM's numbering is the proxy's, not the rank's.
    by_mpiexec = {**by_srun, "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}
    assert job_context(by_mpiexec, host).local_rank is None
    assert job_context({**by_mpiexec, "MPI_LOCALRANKID": "2"}, host).local_rank == 2


@pytest.mark.parametrize("value", ["", " ", "-1", "two", "²", "1.5"])
def test_a_rank_that_is_not_a_count_is_unknown(value):
    environ = {"SLURM_JOB_ID": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": value}
    assert job_context(environ, host).local_rank is None


# -- who measures the node ---------------------------------------------------------------------


def no_election() -> bool:
    raise AssertionError("no election is needed here")


@pytest.mark.parametrize(
    ("local_rank", "scope"), [(0, SCOPE_NODE), (1, SCOPE_NONE), (7, SCOPE_NONE)]
)
def test_local_rank_zero_measures_the_node(local_rank, scope):
    context = JobContext("n1", "42", rank=local_rank, local_rank=local_rank, world_size=8)
    assert measurement_scope(context, "machine", no_election) == scope


def test_in_process_mode_every_rank_records_its_own_share():
    context = JobContext("n1", "42", rank=3, local_rank=3, world_size=4)
    assert measurement_scope(context, "process", no_election) == SCOPE_PROCESS


@pytest.mark.parametrize(("won", "scope"), [(True, SCOPE_NODE), (False, SCOPE_NONE)])
def test_a_job_without_local_ranks_holds_an_election(won, scope):
    assert measurement_scope(JobContext("n1", "42", rank=2), "machine", lambda: won) == scope


def test_outside_a_job_the_tracker_measures_the_machine():
    assert measurement_scope(JobContext("laptop"), "machine", no_election) == SCOPE_NODE


# -- the election's lock ------------------------------------------------------------------------


def test_lock_file_name_is_per_job_and_host_and_safe(tmp_path):
    path = node_lock_file(tmp_path, "899_3/../x", "node 07")
    assert path.parent == tmp_path
    assert path.name == ".carbonboard-node-899_3_.._x-node_07.lock"


def test_first_lock_wins_until_released_and_leaves_no_file(tmp_path):
    path = node_lock_file(tmp_path, "42", "n1")
    first, second = NodeLock(path), NodeLock(path)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert not path.exists()
    assert second.acquire()  # a later run on the node measures it again
    second.release()


def test_a_lock_held_by_another_process_loses_the_election(tmp_path):
    path = node_lock_file(tmp_path, "42", "n1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from tracker.node_lock import NodeLock; "
            f"assert NodeLock(Path({str(path)!r})).acquire(); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not NodeLock(path).acquire()
    finally:
        holder.communicate("", timeout=30)  # the holder exits: its lock goes with it
    lock = NodeLock(path)
    assert lock.acquire()
    lock.release()


# -- end to end: four ranks on one node ---------------------------------------------------------

CPU_W, RAM_W = 100.0, 10.0
RANKS = 4

# Each rank: a tracker on forced power writing to the shared folder; once every rank has started
# (so their runs overlap, as a job's ranks do), it works a little and stops.
RANK_SCRIPT = textwrap.dedent(
    f"""
    import os, sys, time
    from pathlib import Path
    from tracker import EmissionsTracker
    from tracker.power.base import ConstantPower

    out, rank = Path(sys.argv[1]), sys.argv[2]
    now = time.monotonic()
    sources = [ConstantPower("cpu", {CPU_W}, now), ConstantPower("ram", {RAM_W}, now)]
    tracker = EmissionsTracker(
        project_name="ddp", output_dir=str(out), measure_power_secs=0.05, offline=True,
        force_carbon_intensity_g_co2e_kwh=100.0, power_sources=sources, environ=os.environ,
    )
    tracker.start()
    (out / f"started-{{rank}}").touch()
    deadline = time.monotonic() + 30
    while len(list(out.glob("started-*"))) < {RANKS} and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    tracker.stop()
    """
)


def run_ranks(tmp_path: Path, kit, environ_of_rank) -> list[dict[str, str]]:
    """Start RANKS processes at once, each with ``environ_of_rank(rank)`` added to a clean
    environment, and return the rows they wrote."""
    out = tmp_path / "out"
    out.mkdir()
    ranks = []
    for rank in range(RANKS):
        env = {**kit.subprocess_env(tmp_path), "TMPDIR": str(tmp_path), **environ_of_rank(rank)}
        ranks.append(
            subprocess.Popen(
                [sys.executable, "-c", RANK_SCRIPT, str(out), str(rank)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in ranks:
        _, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr
    assert not list(out.glob(".carbonboard-node-*")), "the election's lock file stays"
    _, rows = kit.read_rows(out / "emissions.csv")
    return rows


def assert_node_counted_once(rows: list[dict[str, str]]) -> None:
    assert len(rows) == RANKS
    assert {row["job_id"] for row in rows} == {"4242"}
    assert sorted(int(row["rank"]) for row in rows) == list(range(RANKS))
    assert {row["world_size"] for row in rows} == {str(RANKS)}
    assert {row["hostname"] for row in rows} == {"node-a"}
    (node,) = [row for row in rows if row["measurement_scope"] == SCOPE_NODE]
    others = [row for row in rows if row is not node]
    assert {row["measurement_scope"] for row in others} == {SCOPE_NONE}
    for row in others:
        assert float(row["energy_consumed"]) == 0.0
        assert float(row["emissions"]) == 0.0
        assert {row[f"{c}_energy_method"] for c in ("cpu", "gpu", "ram")} == {"none"}
    assert node["cpu_energy_method"] == "forced"
    # The job's rows add up to the node's draw over the measuring run, once (not RANKS times);
    # the noise is the moment between the sources' creation and the tracker's start.
    job_kwh = sum(float(row["energy_consumed"]) for row in rows)
    node_kwh = (CPU_W + RAM_W) * float(node["duration"]) / JOULES_PER_KWH
    assert job_kwh == pytest.approx(node_kwh, rel=0.1)


def slurm_rank(rank: int) -> dict[str, str]:
    return {
        "SLURM_JOB_ID": "4242",
        "SLURM_PROCID": str(rank),
        "SLURM_NTASKS": str(RANKS),
        "SLURM_NODEID": "0",
        "SLURMD_NODENAME": "node-a",
    }


def test_four_ranks_with_local_ranks_record_the_node_once(tmp_path, kit):
    rows = run_ranks(tmp_path, kit, lambda rank: {**slurm_rank(rank), "SLURM_LOCALID": str(rank)})
    assert_node_counted_once(rows)
    (node,) = [row for row in rows if row["measurement_scope"] == SCOPE_NODE]
    assert node["local_rank"] == "0"


def test_four_ranks_without_local_ranks_elect_one_to_record_the_node(tmp_path, kit):
    rows = run_ranks(tmp_path, kit, slurm_rank)
    assert_node_counted_once(rows)
    assert {row["local_rank"] for row in rows} == {""}
