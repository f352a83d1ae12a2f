"""Data-parallel training with PyTorch DDP, launched by ``torchrun``.

``torchrun --nproc-per-node N kinnsci train ...`` sets RANK/WORLD_SIZE/LOCAL_RANK; the
trainer then joins the process group (NCCL on GPUs, gloo on CPUs), wraps the model in
``DistributedDataParallel`` and shards each global batch with ``DistributedSampler``.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_env() -> None:
    """Join the process group that torchrun describes in the environment (no-op without)."""
    if dist.is_available() and not dist.is_initialized() and int(
            os.environ.get("WORLD_SIZE", "1")) > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend=backend)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def all_reduce_max(t: torch.Tensor) -> torch.Tensor:
    """The elementwise maximum of ``t`` over all processes, the same on every rank (``t``
    itself in one process). A collective: every rank must call it at the same point."""
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def default_device() -> torch.device:
    """This process's CUDA device when there is one, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank() if world_size() > 1 else 0)
    return torch.device("cpu")
