"""A forward and backward pass of kinnsci's layers and models, and a Trainer step, make no
device-to-host synchronisation: every way of reading a tensor's value on the host raises
while they run (on CUDA, ``torch.cuda.set_sync_debug_mode("error")`` does the same)."""

from __future__ import annotations

import contextlib

import pytest
import torch

from kinnsci.layers import CKB, KNC, KirchhoffMixer2d
from kinnsci.models import get_model
from kinnsci.scan import cpu_kernel
from kinnsci.train import Trainer

READS = ("item", "__bool__", "tolist", "nonzero", "__float__", "__int__", "__index__",
         "numpy", "any", "all")


class HostRead(AssertionError):
    pass


@contextlib.contextmanager
def no_host_reads(monkeypatch):
    """Every Tensor method that hands a value to the host raises :class:`HostRead`."""
    with monkeypatch.context() as patch:
        for name in READS:
            def refuse(self, *args, _name=name, **kwargs):
                raise HostRead(f"Tensor.{_name} called: a device-to-host synchronisation")
            patch.setattr(torch.Tensor, name, refuse)
        if torch.cuda.is_available():
            torch.cuda.set_sync_debug_mode("error")
        try:
            yield
        finally:
            if torch.cuda.is_available():
                torch.cuda.set_sync_debug_mode("default")


def test_the_patch_catches_what_it_should(monkeypatch):
    x = torch.ones(3)
    with no_host_reads(monkeypatch), pytest.raises(HostRead):
        bool(x.sum() > 0)
    with no_host_reads(monkeypatch), pytest.raises(HostRead):
        x.sum().item()
    assert bool(x.sum() > 0)  # restored afterwards


BACKENDS = ["pytorch", pytest.param("cpp", marks=pytest.mark.skipif(
    not cpu_kernel.available(), reason="the C++ scan kernel is not available here"))]


def _modules():
    torch.manual_seed(0)
    return {
        "knc": (KNC(8, 4), torch.randn(2, 20, 8)),
        "knc_lti": (KNC(8, 4, selective=False), torch.randn(2, 20, 8)),
        "ckb": (CKB(8, ckb_order=2, directions=2, d_state=4), torch.randn(2, 20, 8)),
        "mixer": (KirchhoffMixer2d(8, directions=4, d_state=4), torch.randn(2, 8, 6, 5)),
        "fkno": (get_model("fkno", in_channels=2, hidden_channels=8, n_modes=(8, 7),
                           directions=4, d_state=4), torch.randn(2, 2, 16, 16)),
        "ukno": (get_model("ukno", in_channels=2, hidden_channels=[8, 8, 16], res_blocks=1,
                           d_state=4), torch.randn(2, 2, 16, 16)),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["knc", "knc_lti", "ckb", "mixer", "fkno", "ukno"])
def test_forward_and_backward_make_no_host_sync(name, backend, monkeypatch):
    if backend == "pytorch":
        monkeypatch.setenv("KINNSCI_DISABLE_CPU_KERNEL", "1")
        monkeypatch.setattr(cpu_kernel, "available", lambda: False)
    module, x = _modules()[name]
    x.requires_grad_(True)
    with no_host_reads(monkeypatch):
        y = module(x)
        y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["ukno", "fkno"])
def test_a_trainer_step_makes_no_host_sync(name, monkeypatch):
    torch.manual_seed(0)
    model = _modules()[name][0]
    data = torch.utils.data.TensorDataset(torch.randn(4, 2, 16, 16), torch.randn(4, 1, 16, 16))
    trainer = Trainer(model, data, epochs=1, batch_size=2, progress=False)
    x, y = data[:2]
    before = [p.detach().clone() for p in model.parameters()]
    with no_host_reads(monkeypatch):
        trainer.train_step(x, y)
        trainer.train_step(x, y)
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True)
               if p.requires_grad)


def test_a_non_finite_step_is_skipped_on_the_device(monkeypatch):
    """The fused optimiser is told the loss was not finite and leaves every weight and its
    own state as they were, without the host reading the loss."""
    torch.manual_seed(0)
    model = _modules()["fkno"][0]  # complex spectral weights included
    data = torch.utils.data.TensorDataset(torch.randn(4, 2, 16, 16), torch.randn(4, 1, 16, 16))
    trainer = Trainer(model, data, epochs=1, batch_size=2, progress=False)
    x, y = data[:2]
    trainer.train_step(x, y)
    weights = [p.detach().clone() for p in model.parameters()]
    steps = [s["step"].clone() for s in trainer.optimizer.state.values()]
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with no_host_reads(monkeypatch):
        loss = trainer.train_step(bad, y)
    assert not torch.isfinite(loss)
    for a, p in zip(weights, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.detach(), rtol=0, atol=0)
    assert [s["step"] for s in trainer.optimizer.state.values()] == steps


def test_complex_weights_train_as_plain_adamw_would():
    """Handing complex weights to fused AdamW as real views changes no number."""
    torch.manual_seed(0)
    model = get_model("fno", in_channels=1, hidden_channels=4, n_modes=(4, 3))
    twin = get_model("fno", in_channels=1, hidden_channels=4, n_modes=(4, 3))
    twin.load_state_dict(model.state_dict())
    data = torch.utils.data.TensorDataset(torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8))
    ours = Trainer(model, data, epochs=1, batch_size=2, progress=False, grad_clip=None)
    plain = Trainer(twin, data, epochs=1, batch_size=2, progress=False, grad_clip=None,
                    optimizer=torch.optim.AdamW(twin.parameters(), lr=1e-3,
                                                weight_decay=1e-4))
    x, y = data[:2]
    for _ in range(3):
        ours.train_step(x, y)
        plain.train_step(x, y)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_of_a_complex_weight_optimiser_resumes(tmp_path):
    """Optimiser state saved for complex weights (kinnsci 0.1's AdamW) resumes into the
    fused optimiser that sees them as real views, with the same moments."""
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8))
    old_model = get_model("fno", in_channels=1, hidden_channels=4, n_modes=(4, 3))
    old = Trainer(old_model, data, epochs=2, batch_size=2, progress=False,
                  optimizer=torch.optim.AdamW(old_model.parameters(), lr=1e-3))
    old.train_step(*data[:2])
    path = old.save_state(tmp_path / "old.pt")
    new = Trainer(get_model("fno", in_channels=1, hidden_channels=4, n_modes=(4, 3)), data,
                  epochs=2, batch_size=2, progress=False)
    new.load_state(path)
    for (_weight, view), old_weight in zip(new._real_views,
                                          [p for p in old_model.parameters() if p.is_complex()],
                                          strict=True):
        torch.testing.assert_close(new.optimizer.state[view]["exp_avg"],
                                   torch.view_as_real(old.optimizer.state[old_weight]["exp_avg"]))
    new.train_step(*data[:2])  # the fused step runs on the converted state
    assert all(torch.isfinite(p).all() for p in new.model.parameters())
