"""Data-parallel training under `torchrun` (PyTorch DDP), as ESPnet and icefall train on many GPUs or hosts.

`torchrun` starts one process per device and sets WORLD_SIZE, RANK, LOCAL_RANK (and the rendezvous); each
process runs the same `asr train`. `Distributed.from_env()` joins the process group (NCCL on GPU, gloo on CPU);
without torchrun it is the one-process case and every method here is a no-op, so the loop is the same code.

Batches: each epoch's shuffled batch list (asr.data.sampler, rebuilt from (seed, epoch) by every rank alike)
is shared out round-robin from a global position `start`: rank r takes global batches start + k*W + r for
k < (len - start) // W. Ranks never overlap, and all make the same number of steps (the gradients are
all-reduced at each one); the remainder, fewer than W batches at the end of the epoch's shuffled order, is
skipped for that epoch (a different set each epoch, since the order is reshuffled). With W = 1 nothing is
skipped. Checkpoints store the position in global batches, so a run resumes with any world size.

Effective batch and learning rate: DDP averages the ranks' gradients, so one update is that of a batch W times
as large (up to W x `max_frames` padded frames). The learning rate is applied as configured (no automatic
scaling): to keep a one-process run's dynamics, divide `training.max_frames` by W; to use the larger batch,
raise `training.lr` yourself (the linear rule: lr x W).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch


@dataclass
class Distributed:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str = ""

    @classmethod
    def from_env(cls, device: str | None = None) -> "Distributed":
        """The process group torchrun describes in the environment (joined here), else one process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        backend = "nccl" if use_cuda else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        return cls(world, rank, local_rank, backend)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str | None) -> torch.device:
        """The device of this process: `requested` (default cuda when present); on GPU, cuda:LOCAL_RANK."""
        device = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.enabled and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """`model` inside DistributedDataParallel (rank 0's weights broadcast to all), or itself alone."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def shard(self, num_batches: int, start: int = 0) -> list[int]:
        """Global indices of the batches this rank trains, from global position `start` (see the module doc)."""
        steps = max(0, num_batches - start) // self.world_size
        return [start + k * self.world_size + self.rank for k in range(steps)]

    def position_after(self, start: int, steps: int) -> int:
        """The global position after `steps` steps from `start`: the batches all ranks have consumed."""
        return start + steps * self.world_size

    def sum(self, values: list[float], device: torch.device | None = None) -> list[float]:
        """Element-wise sum over ranks (float64)."""
        if not self.enabled:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64,
                         device=device if self.backend == "nccl" else "cpu")
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True on every rank when `flag` is true on any."""
        return bool(self.sum([float(flag)])[0]) if self.enabled else flag

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order (on every rank)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        """Rank 0's `obj` on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def describe(self, max_frames: int, lr: float, num_batches: int) -> str:
        """The log line on world size, the effective batch and the learning-rate rule."""
        steps = num_batches // self.world_size
        skipped = num_batches - steps * self.world_size
        if not self.enabled:
            return (f"world size 1; effective batch: up to {max_frames} padded frames per update; lr rule: none, "
                    f"training.lr {lr:g} as configured; an epoch's {num_batches} batches make {steps} steps")
        return (f"world size {self.world_size} ({self.backend}; rank 0 logs and saves); effective batch: up to "
                f"{self.world_size} x {max_frames} = {self.world_size * max_frames} padded frames per update "
                f"(summed over ranks); lr rule: none, training.lr {lr:g} as configured (DDP averages the ranks' "
                f"gradients); an epoch's {num_batches} batches make {steps} steps per rank"
                + (f", the last {skipped} of its shuffled order skipped" if skipped else ""))


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank `rank` for dropout and augmentation (rank 0 keeps `seed`: one process is unchanged)."""
    return seed + 1_000_003 * rank
