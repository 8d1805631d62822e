"""Multi-process training under ``torchrun``: process-group setup, ranks, device choice.

``torchrun --nproc_per_node=N`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` for each
process; with ``WORLD_SIZE`` > 1 :func:`setup` joins the process group (NCCL on CUDA, Gloo on
CPU) once per process, so several training phases in one process share it. Without those
variables everything runs in one process (rank 0 of 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

__all__ = ["DistInfo", "setup", "cleanup", "barrier", "unwrap", "is_main_process"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, its ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer "
                         "(torchrun sets it; unset it for a single-process run)") from None


def setup(device: str | torch.device | None = None) -> DistInfo:
    """Join the process group if ``WORLD_SIZE`` > 1 and pick this process's device.

    ``device=None``: ``cuda:<LOCAL_RANK>`` when CUDA is available, else the CPU. A given device
    is used as is (for a single process) or must be CUDA (its index is replaced by LOCAL_RANK).
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device is None:
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(device)
        if world > 1 and device.type == "cuda":
            device = torch.device(f"cuda:{local_rank}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, device)


def is_main_process() -> bool:
    """Rank 0 (or a single process), from the environment torchrun sets."""
    return _env_int("RANK", 0) == 0


def cleanup() -> None:
    """Leave the process group (call once, at the end of the process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def unwrap(module: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or the module itself)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module
