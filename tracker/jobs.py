"""Which job, node and rank a run belongs to, read from what the launcher put in the environment.

On a cluster every rank of a distributed job may run a tracker. Without knowing the job, the node
and the rank, N ranks on one node each record the whole node and the job counts that node N
times. The launchers say all of it in environment variables, so :func:`job_context` reads them
(a pure function of the environment it is given) and the row records them in its ``hostname``,
``job_id``, ``rank``, ``local_rank`` and ``world_size`` columns.

The innermost launcher wins, because it is the one that started this process: torchrun under
SLURM sets ``RANK`` per worker while ``SLURM_PROCID`` only numbers the torchrun per node, and
``mpirun`` inside an allocation starts ranks that inherit the allocation's ``SLURM_*``. One
launcher gives all of rank, local rank and world size, never a mix: a local rank taken from
another launcher would number different processes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# What the energy figures of a row cover (the ``measurement_scope`` column).
SCOPE_NODE = "node"  # the whole machine: every process on it
SCOPE_PROCESS = "process"  # this process's share (tracking_mode="process")
SCOPE_NONE = "none"  # nothing: another rank of the job measures this node
SCOPES = (SCOPE_NODE, SCOPE_PROCESS, SCOPE_NONE)

# torchrun's TORCHELASTIC_RUN_ID when no --rdzv-id was given: not an identity.
_UNNAMED_RUN = "none"


@dataclass(frozen=True)
class JobContext:
    """This process's place in a job. ``job_id`` is "" outside a job; ranks are ``None`` when no
    launcher says them. ``launcher`` names where the ranks came from ("torchrun", "openmpi",
    "pmi", "slurm" or "")."""

    hostname: str = ""
    job_id: str = ""
    rank: int | None = None
    local_rank: int | None = None
    world_size: int | None = None
    launcher: str = ""


def job_context(
    environ: Mapping[str, str], hostname: Callable[[], str] = socket.gethostname
) -> JobContext:
    """The job, node and rank of this process as ``environ`` describes them.

    ``hostname``: SLURM's name for the node (``SLURMD_NODENAME``) when set, so a job's rows
    name nodes as ``sacct`` does; else the machine's host name.
    """
    launcher, rank, local_rank, world_size = _ranks(environ)
    return JobContext(
        hostname=_text(environ, "SLURMD_NODENAME") or hostname(),
        job_id=_job_id(environ),
        rank=rank,
        local_rank=local_rank,
        world_size=world_size,
        launcher=launcher,
    )


def measurement_scope(
    context: JobContext, tracking_mode: str, win_election: Callable[[], bool]
) -> str:
    """What this tracker's energy figures will cover, so that a job's rows add up to each node
    once: in process mode each rank's own share; else the whole node for local rank 0 and
    nothing for the other local ranks; without a local rank but in a job, the whole node for the
    winner of ``win_election`` (called only then) and nothing for the others; outside a job, the
    node."""
    if tracking_mode == "process":
        return SCOPE_PROCESS
    if context.local_rank is not None:
        return SCOPE_NODE if context.local_rank == 0 else SCOPE_NONE
    if context.job_id:
        return SCOPE_NODE if win_election() else SCOPE_NONE
    return SCOPE_NODE


def _job_id(environ: Mapping[str, str]) -> str:
    """SLURM's job id (an array task as ``<array job>_<task>``, as ``squeue`` shows it), else
    torchrun's rendezvous id, else the PMIx namespace ``mpirun`` gives its job."""
    array_job, task = _text(environ, "SLURM_ARRAY_JOB_ID"), _text(environ, "SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    slurm = _text(environ, "SLURM_JOB_ID") or _text(environ, "SLURM_JOBID")
    if slurm:
        return slurm
    torch = _text(environ, "TORCHELASTIC_RUN_ID")
    if torch and torch != _UNNAMED_RUN:
        return torch
    return _text(environ, "PMIX_NAMESPACE")


def _ranks(environ: Mapping[str, str]) -> tuple[str, int | None, int | None, int | None]:
    """(launcher, rank, local rank, world size) from the innermost launcher that set a rank."""
    if _int(environ, "RANK") is not None and (
        _int(environ, "LOCAL_RANK") is not None or _int(environ, "WORLD_SIZE") is not None
    ):
        return (
            "torchrun",
            _int(environ, "RANK"),
            _int(environ, "LOCAL_RANK"),
            _int(environ, "WORLD_SIZE"),
        )
    if _int(environ, "OMPI_COMM_WORLD_RANK") is not None:
        return (
            "openmpi",
            _int(environ, "OMPI_COMM_WORLD_RANK"),
            _int(environ, "OMPI_COMM_WORLD_LOCAL_RANK"),
            _int(environ, "OMPI_COMM_WORLD_SIZE"),
        )
    pmi_rank = _int(environ, "PMI_RANK")
    if pmi_rank is not None:
        local = _int(environ, "MPI_LOCALRANKID")  # MPICH's and Intel MPI's launcher
        if local is None and _int(environ, "SLURM_PROCID") == pmi_rank:
            local = _int(environ, "SLURM_LOCALID")  # started by srun itself: its numbering holds
        return "pmi", pmi_rank, local, _int(environ, "PMI_SIZE")
    slurm_rank = _int(environ, "SLURM_PROCID")
    if slurm_rank is not None:
        return (
            "slurm",
            slurm_rank,
            _int(environ, "SLURM_LOCALID"),
            _int(environ, "SLURM_NTASKS") or _int(environ, "SLURM_NPROCS"),
        )
    return "", None, None, None


def _text(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def _int(environ: Mapping[str, str], name: str) -> int | None:
    """A non-negative integer variable; ``None`` when unset or not a number (never raises)."""
    value = _text(environ, name)
    return int(value) if value.isascii() and value.isdigit() else None
