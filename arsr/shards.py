"""Work split over processes: each rank takes a disjoint slice of a stage's videos.

Two ways to start the ranks:

* ``torchrun --nproc_per_node=N [--nnodes=M ...]`` starts ``N x M`` processes and sets ``RANK``
  and ``WORLD_SIZE`` in each (``arsr.train.distributed.setup`` reads them: ``Shard(info.rank,
  info.world_size)``). Set-up that must happen once (removing a stale cache folder, generating the
  synthetic set) runs on rank 0 before the others start: :func:`rank_ordered`. Ranks wait for
  each other with ``torch.distributed`` (the process group torchrun's processes join).
* an in-stage pool (:func:`run_sharded`, ``processes`` in params.yaml): the stage's own process
  does the once-only set-up first, with ``Shard(0, N, role="setup")`` (a rank that takes no
  items), then runs ``Shard(r, N, role="pool")`` for every ``r`` in a pool of single-threaded
  processes (:func:`arsr.workers.run_jobs`), then the stage without a shard, which merges. The
  stage process orders them, so they need no process group and no barrier.

A :class:`Shard` takes every ``world``-th item starting at ``rank`` of a list whose order every
rank computes the same way (the store's index, the dataset listing), so the slices are disjoint,
cover the list, and do not depend on what is already on disk: a killed run restarted with
another process count redoes only the items not yet written (the stages cache per video).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TypeVar

__all__ = ["Shard", "ROLES", "is_split", "progress_label", "barrier", "rank_ordered", "run_sharded"]

T = TypeVar("T")

#: How a shard's ranks were started: ``torchrun`` (they order themselves through
#: torch.distributed), ``pool`` (a rank of an in-stage pool, which the stage process orders) and
#: ``setup`` (the stage process's pass before it starts that pool: the once-only set-up, no items).
ROLES = ("torchrun", "pool", "setup")


@dataclass(frozen=True)
class Shard:
    """Rank ``rank`` of ``world`` processes, started as ``role`` says (:data:`ROLES`)."""

    rank: int = 0
    world: int = 1
    role: str = "torchrun"

    def __post_init__(self):
        if not (isinstance(self.world, int) and self.world >= 1 and isinstance(self.rank, int)
                and 0 <= self.rank < self.world):
            raise ValueError(f"shard rank {self.rank!r} of {self.world!r}: need 0 <= rank < world, world >= 1")
        if self.role not in ROLES or (self.role == "setup" and self.rank != 0):
            raise ValueError(f"shard role {self.role!r} (rank {self.rank}): one of {', '.join(ROLES)}; "
                             "setup is rank 0")

    @property
    def is_main(self) -> bool:
        """Whether this process does the once-only set-up (and, under torchrun, the merge): rank 0
        of a torchrun launch, or the stage process's set-up pass; never a rank of a pool."""
        return self.rank == 0 and self.role != "pool"

    @property
    def ordered(self) -> bool:
        """Whether the ranks order themselves (torch.distributed's barriers): under torchrun only."""
        return self.role == "torchrun"

    def take(self, items: Sequence[T]):
        """This rank's items: ``items[rank::world]`` (a DataFrame's rows by position); none for
        the set-up pass."""
        step = slice(self.rank, 0) if self.role == "setup" else slice(self.rank, None, self.world)
        if hasattr(items, "iloc"):
            return items.iloc[step].reset_index(drop=True)
        return list(items)[step]


def is_split(shard: Shard | None) -> bool:
    """Whether ``shard`` splits the work (a rank of several); None or one process: it does not."""
    return shard is not None and shard.world > 1


def progress_label(shard: Shard | None) -> str:
    """A progress bar's suffix naming the rank (``" [rank 1/4]"``), empty for one process."""
    return f" [rank {shard.rank}/{shard.world}]" if is_split(shard) else ""


def barrier(shard: Shard | None = None) -> None:
    """Wait for every rank. A no-op for one process and for an in-stage pool (the stage process
    orders its ranks); torchrun's ranks need torch.distributed's process group
    (``arsr.train.distributed.setup``)."""
    if not is_split(shard) or not shard.ordered:
        return
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(f"rank {shard.rank} of {shard.world}: no torch.distributed process group; launch "
                           "with torchrun and call arsr.train.distributed.setup() first")
    dist.barrier()


@contextmanager
def rank_ordered(shard: Shard | None) -> Iterator[None]:
    """Rank 0 runs the block first; the other ranks run it once rank 0 has finished it (every
    rank passes one barrier). One process, or a rank of an in-stage pool (whose stage process ran
    the block before starting the pool): just the block."""
    if not is_split(shard) or not shard.ordered:
        yield
        return
    if not shard.is_main:
        barrier(shard)
    yield
    if shard.is_main:
        barrier(shard)


def run_sharded(stage: Callable[..., Any], *args, processes: int | None, desc: str, progress: bool = True,
                **kwargs) -> Any:
    """``stage(*args, **kwargs, progress=...)`` with its videos split over ``processes``
    single-threaded processes (:func:`arsr.workers.worker_count`: 0 = one per core, 1 = this
    process only). ``stage`` is a module-level function taking ``shard`` (a shard's pass writes
    its videos to the stage's per-video store and returns nothing useful) and ``progress``.

    Several processes: ``stage(shard=Shard(0, n, role="setup"))`` here first (the once-only
    set-up: stale folders removed, cache folders opened; no videos), then ``Shard(r, n,
    role="pool")`` for each rank in a pool (:func:`arsr.workers.run_jobs`, progress on one line),
    then ``stage()`` without a shard: it finds every video done and only merges, as rank 0 does
    under torchrun (:mod:`arsr.study.sharded`). Returns that last call's result."""
    from .workers import Job, run_jobs, worker_count

    n = worker_count(processes)
    if n > 1:
        stage(*args, shard=Shard(0, n, role="setup"), progress=False, **kwargs)
        jobs = [Job(f"rank {r}/{n}", stage, args, {**kwargs, "shard": Shard(r, n, role="pool")}) for r in range(n)]
        run_jobs(jobs, n, desc=desc, progress=progress)
    return stage(*args, progress=progress, **kwargs)
