"""Run by tests/test_training_correctness.py under ``torchrun --nproc-per-node 2`` (gloo).

Rank 1's data turn NaN after its first two batches; rank 0's stay finite. Every rank
must skip the same steps, stop together with NonFiniteLossError, and keep identical,
finite weights. Writes this rank's weights and how it ended.
"""

import json
import os
import sys

import torch

from kinnsci.models import get_model
from kinnsci.train import Trainer
from kinnsci.train import distributed as dist_utils
from kinnsci.train.trainer import NonFiniteLossError


class TurnsNaN(torch.utils.data.Dataset):
    """``data`` whose items are NaN from the ``after``-th read on (this process only)."""

    def __init__(self, data, after):
        self.data, self.after, self.reads = data, after, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        self.reads += 1
        x, y = self.data[i]
        return (x * float("nan"), y) if self.reads > self.after else (x, y)


def main(out: str, optimizer: str) -> None:
    dist_utils.init_from_env()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 1, 8, 8, generator=g)
    data = torch.utils.data.TensorDataset(x, torch.roll(x, 1, dims=-1))
    if dist_utils.rank() == 1:
        data = TurnsNaN(data, after=4)  # 2 samples per rank per batch: batches 3.. are NaN
    model = get_model("fno", in_channels=1, out_channels=1, hidden_channels=4, n_modes=(4, 3),
                      projection_channels=8)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    user_optimizer = (torch.optim.SGD(model.parameters(), lr=1e-2) if optimizer == "sgd"
                      else None)
    trainer = Trainer(model, data, epochs=2, batch_size=4, lr=1e-2, seed=0, progress=False,
                      device="cpu", scheduler="none", optimizer=user_optimizer,
                      grad_clip=None if optimizer == "sgd" else 1.0)
    try:
        trainer.fit()
        ended = "finished"
    except NonFiniteLossError as exc:
        ended = f"stopped: {exc}"
    state = model.state_dict()
    torch.save(state, os.path.join(out, f"rank{dist_utils.rank()}.pt"))
    changed = any(not torch.equal(state[k], initial[k]) for k in state)
    with open(os.path.join(out, f"rank{dist_utils.rank()}.json"), "w") as fh:
        json.dump({"ended": ended, "changed": changed}, fh)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
