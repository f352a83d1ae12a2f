"""Run by tests/test_train.py under ``torchrun --nproc-per-node 2`` (gloo, CPU).

Trains a tiny FNO with the Trainer on deterministic data and saves this rank's weights.
With WORLD_SIZE unset it is the single-process reference on the same global batches.
A second argument ``pde`` trains with relative L2 + the Poisson residual of the
prediction (x read as f, the prediction as u).
"""

import os
import sys

import torch

from kinnsci.models import get_model
from kinnsci.train import Trainer
from kinnsci.train import distributed as dist_utils


def main(out: str, loss: str = "rel_l2") -> None:
    dist_utils.init_from_env()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 1, 8, 8, generator=g)
    y = torch.roll(x, 1, dims=-1) * 0.5 + 0.1
    data = torch.utils.data.TensorDataset(x, y)
    model = get_model("fno", in_channels=1, out_channels=1, hidden_channels=4, n_modes=(4, 3),
                      projection_channels=8)
    if loss == "pde":
        from kinnsci.physics import get_equation
        from kinnsci.train.losses import CompositeLoss, PhysicsResidual

        physics = PhysicsResidual(get_equation("poisson"), {"hx": 1 / 7, "hy": 1 / 7},
                                  inputs=["f"], targets=["u"])
        loss = CompositeLoss({"rel_l2": 1.0, "pde": 0.01}, physics)
    trainer = Trainer(model, data, epochs=3, batch_size=4, lr=1e-2, seed=0, progress=False,
                      device="cpu", scheduler="none", loss=loss)
    trainer.fit()
    torch.save(model.state_dict(), os.path.join(out, f"rank{dist_utils.rank()}.pt"))
    if dist_utils.world_size() > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
