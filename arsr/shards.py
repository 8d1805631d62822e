"""Work split over the processes of a ``torchrun`` launch: each rank takes a disjoint slice.

``torchrun --nproc_per_node=N [--nnodes=M ...]`` starts ``N x M`` processes and sets ``RANK``
and ``WORLD_SIZE`` in each (``arsr.train.distributed.setup`` reads them: ``Shard(info.rank,
info.world_size)``). A :class:`Shard` takes every ``world``-th item starting at ``rank`` of a
list whose order every rank computes the same way (the store's index, the dataset listing), so the slices are disjoint,
cover the list, and do not depend on what is already on disk: a killed run restarted with
another process count redoes only the items not yet written (the stages cache per video).

Set-up that must happen once (removing a stale cache folder, generating the synthetic set) runs
on rank 0 before the others start: :func:`rank_ordered`. Ranks wait for each other with
``torch.distributed`` (the process group torchrun's processes join, see
``arsr.train.distributed.setup``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence, TypeVar

__all__ = ["Shard", "is_split", "progress_label", "barrier", "rank_ordered"]

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Rank ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    def __post_init__(self):
        if not (isinstance(self.world, int) and self.world >= 1 and isinstance(self.rank, int)
                and 0 <= self.rank < self.world):
            raise ValueError(f"shard rank {self.rank!r} of {self.world!r}: need 0 <= rank < world, world >= 1")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, items: Sequence[T]):
        """This rank's items: ``items[rank::world]`` (a DataFrame's rows by position)."""
        if hasattr(items, "iloc"):
            return items.iloc[self.rank::self.world].reset_index(drop=True)
        return list(items)[self.rank::self.world]


def is_split(shard: Shard | None) -> bool:
    """Whether ``shard`` splits the work (a rank of several); None or one process: it does not."""
    return shard is not None and shard.world > 1


def progress_label(shard: Shard | None) -> str:
    """A progress bar's suffix naming the rank (``" [rank 1/4]"``), empty for one process."""
    return f" [rank {shard.rank}/{shard.world}]" if is_split(shard) else ""


def barrier(shard: Shard | None = None) -> None:
    """Wait for every rank. A no-op for one process; several need torch.distributed's process
    group (``arsr.train.distributed.setup`` under torchrun)."""
    if not is_split(shard):
        return
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(f"rank {shard.rank} of {shard.world}: no torch.distributed process group; launch "
                           "with torchrun and call arsr.train.distributed.setup() first")
    dist.barrier()


@contextmanager
def rank_ordered(shard: Shard | None) -> Iterator[None]:
    """Rank 0 runs the block first; the other ranks run it once rank 0 has finished it (every
    rank passes one barrier). One process: just the block."""
    if not is_split(shard):
        yield
        return
    if not shard.is_main:
        barrier(shard)
    yield
    if shard.is_main:
        barrier(shard)
