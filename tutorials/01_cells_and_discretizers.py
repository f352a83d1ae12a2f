# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # 1. Cells and discretizers
#
# A Kirchhoff Neural Cell is an RC node: `C_m dV/dt = -(G_l + G_c) V + G_in u`, i.e.
# `dV/dt = -a V + b u`. kinnsci keeps the physics (a *cell*) apart from the way it is
# stepped in time (a *discretizer*). Here we step one node and a cascade of two with
# zero-order hold (exact), Euler, bilinear and an adaptive solver, check them against the
# analytic solution, and look at what happens when the step is large.
#
# Run: `python tutorials/01_cells_and_discretizers.py` (`KINNSCI_SMOKE=1` for a quick run).

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE, output_dir  # noqa: E402

from kinnsci.cells import CascadeCell, KirchhoffNodeCell  # noqa: E402
from kinnsci.discretize import get_discretizer  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_grad_enabled(False)  # simulation only: nothing is trained here
OUT = output_dir("01")

# %% [markdown]
# ## One RC node, a unit step input
# With `C_m = 1`, `G_l = 0.5`, `G_in = 2`: `a = 0.5`, `b = 2`, and from rest the exact
# response is `V(t) = (b/a)(1 - exp(-a t))`.

# %%
node = KirchhoffNodeCell(capacitance=1.0, leak_conductance=0.5, input_conductance=2.0)
a, b = (float(r) for r in node.rates())
T, dt = 10.0, 0.5
t = torch.arange(0, T + dt / 2, dt)
u = torch.ones(len(t), 1)
exact = (b / a) * (1 - torch.exp(-a * t))

errors = {}
for name in ("zoh", "euler", "bilinear", "adaptive"):
    v = get_discretizer(name).solve(node, torch.zeros(1), u, t)[:, 0]
    errors[name] = (v - exact).abs().max().item()
    plt.plot(t, v, marker=".", label=f"{name} (max error {errors[name]:.1e})")
plt.plot(t, exact, "k--", label="exact")
plt.xlabel("t [s]")
plt.ylabel("V [V]")
plt.legend()
plt.savefig(OUT / "step_response.png", dpi=100)
plt.close()
print({k: f"{v:.2e}" for k, v in errors.items()})

# ZOH is exact for a piecewise-constant input; Euler is first order, bilinear second.
assert errors["zoh"] < 1e-12
assert errors["zoh"] < errors["bilinear"] < errors["euler"]

# %% [markdown]
# ## Convergence orders, measured
# Halving dt should divide Euler's error by 2 and the bilinear error by 4.

# %%
steps = [0.4, 0.2, 0.1, 0.05] if not SMOKE else [0.4, 0.2, 0.1]
for name in ("euler", "bilinear"):
    errs = []
    for h in steps:
        tt = torch.arange(0, 4 + h / 2, h)
        v = get_discretizer(name).solve(node, torch.zeros(1), torch.ones(len(tt), 1), tt)
        errs.append((v[:, 0] - (b / a) * (1 - torch.exp(-a * tt))).abs().max().item())
    order = np.polyfit(np.log(steps), np.log(errs), 1)[0]
    print(f"{name}: observed order {order:.2f}")
    assert abs(order - {"euler": 1, "bilinear": 2}[name]) < 0.15

# %% [markdown]
# ## Large steps: stability
# A fast node (`a = 10`) stepped with `dt = 0.5`: `a·dt = 5 > 2`, outside Euler's
# stability interval. ZOH stays exact; Euler explodes.

# %%
fast = KirchhoffNodeCell(capacitance=0.1, leak_conductance=1.0, input_conductance=1.0)
tt = torch.arange(0, 10.25, 0.5)
zoh = get_discretizer("zoh").solve(fast, torch.zeros(1), torch.ones(len(tt), 1), tt)
euler = get_discretizer("euler").solve(fast, torch.zeros(1), torch.ones(len(tt), 1), tt)
print(f"after 20 steps: zoh {zoh[-1, 0]:.4f} (steady state 1.0), euler {euler[-1, 0]:.3e}")
assert abs(zoh[-1, 0] - 1.0) < 1e-9 and abs(euler[-1, 0]) > 1e6

# %% [markdown]
# ## A cascade: second-order dynamics from first-order nodes
# Two nodes in series (the second driven by the first) form an order-2 system whose poles
# are the stages' poles and whose transfer function is the product of theirs.

# %%
cascade = CascadeCell([KirchhoffNodeCell(leak_conductance=0.5),
                       KirchhoffNodeCell(leak_conductance=2.0)])
print("poles:", cascade.poles().real.tolist(), "time constants [s]:",
      cascade.time_constants().tolist())
num, den = cascade.transfer_function()  # coefficients in s, highest power first


def polynomial(coefficients: np.ndarray, var: str = "s") -> str:
    """``[1, 2.5, 1]`` -> ``"s^2 + 2.5 s + 1"``."""
    degree = len(coefficients) - 1
    terms = []
    for k, c in enumerate(coefficients):
        if c == 0:
            continue
        power = degree - k
        head = "" if (abs(c) == 1 and power) else f"{abs(c):.4g}"
        tail = "" if power == 0 else (var if power == 1 else f"{var}^{power}")
        terms.append(("-" if c < 0 else "+", " ".join(filter(None, [head, tail]))))
    text = " ".join(f"{sign} {term}" for sign, term in terms)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


print(f"H(s) = ({polynomial(num)}) / ({polynomial(den)})")
assert polynomial(np.array([1.0, 2.5, 1.0])) == "s^2 + 2.5 s + 1"
assert polynomial(np.array([-2.0, 0.0, 3.0])) == "-2 s^2 + 3"
assert np.allclose(sorted(np.roots(den).real), sorted(cascade.poles().real.tolist()))

t2 = torch.linspace(0, 12, 121)
h = get_discretizer("zoh").solve(cascade, torch.zeros(cascade.state_dim),
                                 torch.ones(len(t2), 1), t2)
stages = cascade.stage_outputs(h, torch.ones(len(t2), 1))
for k, s in enumerate(stages):
    plt.plot(t2, s[:, 0], label=f"stage {k + 1}")
plt.xlabel("t [s]")
plt.legend()
plt.savefig(OUT / "cascade.png", dpi=100)
plt.close()
print(f"plots in {OUT}")
