# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 5. From a trained KirchhoffNet to a SPICE netlist
#
# A KirchhoffNet *is* a circuit: node voltages, 1 F capacitors to ground, and one device
# per edge whose current is a function of the two node voltages. We train a small one on
# a toy regression, export it as a netlist, simulate it with ngspice (when installed) and
# compare ngspice's node voltages with kinnsci's ODE solution.

# %%
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.discretize.adaptive import Adaptive  # noqa: E402
from kinnsci.export import read_wrdata, run_ngspice, to_spice  # noqa: E402
from kinnsci.models import KirchhoffNet, count_parameters  # noqa: E402

OUT = output_dir("05")
torch.manual_seed(0)

# %% [markdown]
# ## Train: y = sin(2 x₁) · x₂ from two input voltages

# %%
x = torch.rand(256, 2) * 2 - 1
y = (torch.sin(2 * x[:, :1]) * x[:, 1:])
net = KirchhoffNet(2, 1, hidden_channels=5, branch="tanh_diff", repeat=1)  # 8 nodes + ground
print(f"{net.n_nodes} nodes, {net.periods[0].edges.shape[0]} devices, "
      f"{count_parameters(net)} parameters")
opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
losses = []
for _ in range(20 if SMOKE else 300):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(net(x), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(f"MSE {losses[0]:.4f} -> {losses[-1]:.4f}")
assert losses[-1] < losses[0]

# %% [markdown]
# ## Export and simulate
# Each nonlinear device becomes a behavioural current source, e.g.
# `B3 n1 n4 I=tanh(0.41*(V(n1)-V(n4))+-0.12)`; `.ic` sets the input voltages.

# %%
sample = x[0]
netlist = to_spice(net, OUT / "kirchhoffnet.cir", sample, data_file="voltages.txt")
print(netlist.read_text().splitlines()[10])
net.solver = Adaptive(rtol=1e-10, atol=1e-10)  # a tight reference for the comparison
with torch.no_grad():
    ours = net.node_voltages(sample[None], torch.tensor([0.0, 1.0]))[-1, 0].numpy()

if shutil.which("ngspice") is None:
    print("ngspice is not installed (apt-get install ngspice); the netlist is in", netlist)
else:
    run_ngspice(netlist)
    _, spice = read_wrdata(OUT / "voltages.txt")
    gap = np.abs(spice[-1] - ours).max()
    print(f"max |ngspice - kinnsci| at t = 1 s over {len(ours)} nodes: {gap:.2e} V")
    assert gap < 1e-4
