"""kinnsci 0.2's one vocabulary: every renamed name still works for one release, with a
DeprecationWarning, and means exactly what the new name means; the registries fill
themselves when classes are defined; the contracts (Discretizer ABC, Cell.forward) hold."""

from __future__ import annotations

import warnings

import pytest
import torch
from torchdiffeq import odeint

import kinnsci.models as models
from kinnsci.cells import CELLS, CircuitCell, get_cell
from kinnsci.cells.topology import fully_connected
from kinnsci.data import Normalizer
from kinnsci.discretize import DISCRETIZERS, Adaptive, Discretizer, get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.layers import CKB, KNC, CoupledKirchhoffLayer, KirchhoffMixer2d, KirchhoffMLP
from kinnsci.models import (
    FKNO,
    FNO,
    MODELS,
    UKNO,
    BaseModel,
    DynPMNN,
    KirchhoffFlow,
    KirchhoffNet,
    UNet,
    get_model,
    load_model,
)
from kinnsci.models.dynpmnn import FHNLayer
from kinnsci.models.vision import KINNVisionTiny
from kinnsci.scan import (
    SCANS,
    direction_layout,
    grid_to_sequences,
    linear_recurrence,
    selective_scan,
    sequences_to_grid,
    time_invariant_scan,
)
from kinnsci.train import rollout


def _shapes(module: torch.nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _deprecated(match: str):
    return pytest.warns(DeprecationWarning, match=match)


# --- renamed constructor arguments: same architecture, with a warning ---------------------
RENAMED = [
    (FNO, dict(in_channels=2, width=6, modes=3, projection=8),
     dict(in_channels=2, hidden_channels=6, n_modes=(6, 5), projection_channels=8)),
    (FKNO, dict(in_channels=2, width=6, modes=3, ckb_order=1, d_state=2),
     dict(in_channels=2, hidden_channels=6, n_modes=(6, 5), ckb_order=1, d_state=2)),
    (UNet, dict(widths=(4, 8)), dict(hidden_channels=(4, 8))),
    (UKNO, dict(widths=(4, 8), res_blocks=1, ckb_levels=1, d_state=2, directions=1),
     dict(hidden_channels=(4, 8), res_blocks=1, ckb_levels=1, d_state=2, directions=1)),
    (KINNVisionTiny, dict(num_classes=3, dims=8, order=1, depths=(1, 1, 1, 1)),
     dict(num_classes=3, hidden_channels=8, ckb_order=1, depths=(1, 1, 1, 1))),
    (KirchhoffNet, dict(in_features=3, out_features=2, hidden_nodes=1, period_time=0.5),
     dict(in_channels=3, out_channels=2, hidden_channels=1, t_end=0.5)),
    (KirchhoffFlow, dict(dim=2, repeat=2, period_time=0.5),
     dict(channels=2, repeat=2, t_end=0.5)),
    (DynPMNN, dict(in_features=3, out_features=2, hidden=4, steps=5),
     dict(in_channels=3, out_channels=2, hidden_channels=4, n_steps=5)),
    (CKB, dict(dim=4, order=3, d_state=2), dict(channels=4, ckb_order=3, d_state=2)),
    (KirchhoffMixer2d, dict(channels=4, order=3, d_state=2),
     dict(channels=4, ckb_order=3, d_state=2)),
    (FHNLayer, dict(in_features=3, hidden=4, steps=5),
     dict(in_channels=3, hidden_channels=4, n_steps=5)),
    (CoupledKirchhoffLayer, dict(in_features=3, n_nodes=5, steps=2),
     dict(in_channels=3, out_channels=5, n_steps=2)),
    (KirchhoffMLP, dict(in_features=3, out_features=1, hidden=5, depth=3, steps=2),
     dict(in_channels=3, out_channels=1, hidden_channels=5, n_layers=3, n_steps=2)),
]


@pytest.mark.parametrize(("cls", "old", "new"), RENAMED, ids=[r[0].__name__ for r in RENAMED])
def test_old_argument_names_build_the_same_module_with_a_warning(cls, old, new):
    with _deprecated(rf"{cls.__name__}\(\w+=\.\.\.\) is deprecated .* kinnsci 0\.3"):
        built_old = cls(**old)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names are silent
        built_new = cls(**new)
    assert _shapes(built_old) == _shapes(built_new)
    if isinstance(built_old, BaseModel):  # the recorded config uses the new names only
        assert set(built_old.config) == {"name", *new}


def test_modes_becomes_neuraloperators_n_modes():
    with _deprecated(r"use n_modes=\(24, 23\)"):
        old = FNO(in_channels=1, modes=12)
    assert old.n_modes == (24, 23) == FNO(in_channels=1).n_modes
    assert old.spectral[0].weight.shape == FNO(in_channels=1).spectral[0].weight.shape


def test_an_old_and_a_new_name_together_are_refused():
    with pytest.raises(ConfigError, match="both width= .deprecated. and hidden_channels="):
        FNO(width=4, hidden_channels=4)
    with pytest.raises(ConfigError, match="both chunk= .deprecated. and chunk_size="):
        linear_recurrence(torch.ones(1, 4), torch.ones(1, 4), chunk=2, chunk_size=2)


def test_a_checkpoint_with_0_1_config_keys_loads_with_a_warning(tmp_path):
    torch.manual_seed(0)
    model = get_model("fno", in_channels=1, hidden_channels=4, n_modes=(4, 3),
                      projection_channels=8)
    path = tmp_path / "fno.pt"
    torch.save({"format": 1, "config": {"name": "fno", "in_channels": 1, "width": 4, "modes": 2,
                                        "projection": 8},  # what kinnsci 0.1 wrote
                "state_dict": model.state_dict(), "normalizer": None}, path)
    with _deprecated(r"FNO\((width|modes|projection)=\.\.\.\)"):
        loaded, _ = load_model(path)
    assert loaded.config == {"name": "fno", "in_channels": 1, "hidden_channels": 4,
                             "n_modes": [4, 3], "projection_channels": 8}
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_linear_recurrence_chunk_is_chunk_size():
    a, b = torch.rand(2, 9, 3), torch.rand(2, 9, 3)
    with _deprecated(r"linear_recurrence\(chunk="):
        old = linear_recurrence(a, b, chunk=4)
    torch.testing.assert_close(old, linear_recurrence(a, b, chunk_size=4))


def test_scan_keywords_backends_and_scans_keys_keep_working():
    torch.manual_seed(0)
    x, delta = torch.randn(2, 20, 3), torch.rand(2, 20, 3)
    A, B, C = -torch.rand(3, 4), torch.randn(2, 20, 4), torch.randn(2, 20, 4)
    expected = selective_scan(x, delta, A, B, C, chunk_size=8, backend="pytorch")
    with _deprecated(r"selective_scan\(chunk="):
        torch.testing.assert_close(selective_scan(x, delta, A, B, C, chunk=8,
                                                  backend="pytorch"), expected)
    with _deprecated(r"selective_scan\(backend='blocked'\) .* use backend='pytorch'"):
        torch.testing.assert_close(selective_scan(x, delta, A, B, C, chunk_size=8,
                                                  backend="blocked"), expected)
    with _deprecated(r"SCANS\['chunked'\]"):
        assert SCANS["chunked"] is SCANS["auto"]
    assert set(SCANS) == {"reference", "auto", "cpp", "triton", "pytorch"}
    torch.testing.assert_close(SCANS["pytorch"](x, delta, A, B, C), SCANS["reference"](
        x, delta, A, B, C), rtol=1e-5, atol=1e-5)
    Bc, Cc = torch.randn(3, 4), torch.randn(3, 4)
    with _deprecated(r"time_invariant_scan\(chunk="):
        old = time_invariant_scan(x, delta, A, Bc, Cc, chunk=4)
    torch.testing.assert_close(old, time_invariant_scan(x, delta, A, Bc, Cc, chunk_size=4))


def test_renamed_functions_methods_and_step_counts():
    with _deprecated(r"kinnsci\.models\.build_model .* use kinnsci\.models\.get_model"):
        assert models.build_model is get_model
    with _deprecated(r"kinnsci\.models\.SaveLoadMixin"):
        assert models.SaveLoadMixin is BaseModel
    norm = Normalizer(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0]))
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    with _deprecated(r"Normalizer\.encode .* use \.transform"):
        torch.testing.assert_close(norm.encode(x), norm.transform(x))
    with _deprecated(r"Normalizer\.decode .* use \.inverse_transform"):
        torch.testing.assert_close(norm.decode(x), norm.inverse_transform(x))
    def step(w):
        return 2 * w[:, -1:]
    x0 = torch.ones(1, 2, 3, 3)
    with _deprecated(r"rollout\(steps="):
        old = rollout(step, x0, steps=3, n_variables=1)
    torch.testing.assert_close(old, rollout(step, x0, n_steps=3, n_variables=1))


def test_a_missing_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        models.no_such_name  # noqa: B018


# --- registration at class definition -----------------------------------------------------
def test_a_model_registers_itself_when_defined_and_saves_without_the_registry(tmp_path):
    class TinyLinear(BaseModel):
        name = "tiny_linear_for_tests"

        def __init__(self, in_channels: int = 2, out_channels: int = 1) -> None:
            super().__init__()
            self.layer = torch.nn.Conv2d(in_channels, out_channels, 1)

        def forward(self, x):
            return self.layer(x)

    try:
        assert MODELS["tiny_linear_for_tests"] is TinyLinear
        built = TinyLinear(in_channels=3)  # built directly, not through get_model
        assert built.config == {"name": "tiny_linear_for_tests", "in_channels": 3}
        built.save(tmp_path / "tiny.pt")
        loaded, _ = load_model(tmp_path / "tiny.pt")
        assert isinstance(loaded, TinyLinear) and _shapes(loaded) == _shapes(built)
        with pytest.raises(ConfigError, match="taken by"):
            type("Impostor", (BaseModel,), {"name": "tiny_linear_for_tests",
                                            "__module__": "elsewhere"})
    finally:
        MODELS.pop("tiny_linear_for_tests", None)


def test_cells_and_discretizers_register_themselves_and_the_abc_is_enforced():
    assert {"linear", "kirchhoff_node", "circuit", "fitzhugh_nagumo", "cascade",
            "coupled_kirchhoff"} <= set(CELLS)
    assert set(DISCRETIZERS) == {"zoh", "euler", "bilinear", "adaptive"}

    class Incomplete(Discretizer):  # no step, no coefficients, no name: not registered
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
    assert Incomplete not in DISCRETIZERS.values()


def test_discretizer_orders_say_what_they_mean():
    assert get_discretizer("zoh").order is None  # exact for linear cells
    assert (get_discretizer("euler").order, get_discretizer("bilinear").order) == (1, 2)
    assert [Adaptive(method=m).order for m in ("dopri5", "dopri8", "bosh3", "rk4")] == [
        5, 8, 3, 4]
    with pytest.raises(ConfigError, match="method must be one of torchdiffeq's"):
        Adaptive(method="dopri7")


# --- Cell.forward is an ODE function -------------------------------------------------------
def test_a_cell_without_inputs_goes_to_odeint_as_it_is():
    torch.manual_seed(0)
    cell = CircuitCell(3, fully_connected(3, 2), "tanh").double()
    v0 = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 0.7], dtype=torch.float64)
    direct = odeint(cell, v0, t, rtol=1e-10, atol=1e-10)[-1]
    through = Adaptive(rtol=1e-10, atol=1e-10).step(cell, v0, v0.new_zeros(4, 0), 0.0, 0.7)
    torch.testing.assert_close(direct, through, rtol=1e-8, atol=1e-8)
    lin = get_cell("kirchhoff_node", channels=2)
    with pytest.raises(ConfigError, match="has 2 inputs: call it as cell\\(t, h, u\\)"):
        lin(0.0, torch.zeros(1, lin.state_dim))


# --- FNO's local operators come from a factory ------------------------------------------------
def test_fno_takes_a_local_operator_factory_and_fkno_passes_one():
    calls = []

    def factory(layer, channels):
        calls.append((layer, channels))
        return torch.nn.Identity()

    fno = FNO(in_channels=1, hidden_channels=6, n_modes=4, n_layers=3, local_operator=factory)
    assert calls == [(0, 6), (1, 6), (2, 6)]
    assert all(isinstance(m, torch.nn.Identity) for m in fno.local)
    fkno = FKNO(in_channels=1, hidden_channels=6, n_modes=4, ckb_order=1, d_state=2)
    assert isinstance(fkno.local[0], KirchhoffMixer2d)
    assert all(isinstance(m, torch.nn.Conv2d) for m in fkno.local[1:])
    assert fkno.config == {"name": "fkno", "in_channels": 1, "hidden_channels": 6,
                           "n_modes": 4, "ckb_order": 1, "d_state": 2}


# --- CKB scans the layouts of kinnsci.scan.directions ----------------------------------------
@pytest.mark.parametrize("directions", [1, 2, 4])
def test_ckb_grid_scan_equals_the_direction_helpers(directions):
    torch.manual_seed(0)
    ckb = CKB(3, ckb_order=2, directions=directions, d_state=2, spatial_dims=2).double()
    x = torch.randn(2, 5, 4, ckb.inner, dtype=torch.float64)
    seqs = grid_to_sequences(x, directions)  # reversed directions as flipped copies
    outs = torch.stack([ckb.cascade(seqs[k], k) for k in range(directions)])
    expected = sequences_to_grid(outs, 5, 4)
    torch.testing.assert_close(ckb.scan_grid(x, None, None), expected, rtol=1e-12, atol=1e-12)
    assert [direction_layout(k) for k in range(4)] == [(False, False), (True, False),
                                                       (False, True), (True, True)]


# --- modules create their tensors where and as asked -----------------------------------------
def test_knc_and_ckb_follow_default_dtype_and_take_device_and_dtype():
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        assert {p.dtype for p in KNC(4, 2).parameters()} == {torch.float64}
    finally:
        torch.set_default_dtype(previous)
    assert {p.dtype for p in KNC(4, 2).parameters()} == {previous}
    block = CKB(4, d_state=2, dtype=torch.float64, device="cpu")
    assert {p.dtype for p in block.parameters()} == {torch.float64}
    assert {p.device.type for p in block.parameters()} == {"cpu"}
    x = torch.randn(1, 6, 4, dtype=torch.float64)
    assert block(x).dtype == torch.float64


@pytest.mark.parametrize("make", [
    lambda **kw: CircuitCell(3, fully_connected(3, 1), **kw),
    lambda **kw: get_cell("coupled_kirchhoff", n_nodes=3, input_dim=2, **kw),
    lambda **kw: get_cell("fitzhugh_nagumo", channels=2, **kw),
    lambda **kw: get_cell("kirchhoff_node", channels=2, **kw),
    lambda **kw: CoupledKirchhoffLayer(2, 3, **kw),
], ids=["circuit", "coupled_kirchhoff", "fitzhugh_nagumo", "kirchhoff_node", "coupled_layer"])
def test_cells_take_device_and_dtype(make):
    module = make(dtype=torch.float64, device="cpu")
    floats = [t for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()]
    assert floats and {t.dtype for t in floats} == {torch.float64}
    assert all(not t.is_floating_point() for t in module.buffers() if t.dtype == torch.long)


def test_a_0_1_subclass_overriding_make_local_still_gets_its_local_operators():
    class Old(FNO):
        def make_local(self, layer, channels):
            return torch.nn.Identity()

    with _deprecated(r"Old\.make_local .* use FNO\(local_operator=\.\.\.\)"):
        model = Old(in_channels=1, hidden_channels=4, n_modes=4)
    assert all(isinstance(m, torch.nn.Identity) for m in model.local)


def test_trainer_state_pair_is_save_state_and_load_state(tmp_path):
    from kinnsci.train import Trainer

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8))
    model = get_model("unet", in_channels=1, out_channels=1, hidden_channels=[4, 8])
    trainer = Trainer(model, data, epochs=1, batch_size=4, progress=False)
    trainer.fit()
    path = trainer.save_state(tmp_path / "state.pt")
    with _deprecated(r"Trainer\.state .* use \.state_dict"):
        assert trainer.state().keys() == trainer.state_dict().keys()
    other = Trainer(get_model("unet", in_channels=1, out_channels=1, hidden_channels=[4, 8]),
                    data, epochs=1, batch_size=4, progress=False)
    other.load_state(path)
    assert other.epoch == trainer.epoch == 1
    for a, b in zip(other.model.state_dict().values(), model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_moved_loader_and_operator_keep_their_old_names(tmp_path):
    """``kinnsci.models.io.read_model_file`` and ``kinnsci.train.normalized`` (kinnsci 0.2)
    still work, with a DeprecationWarning naming the new place."""
    import importlib

    from kinnsci.models import NormalizedOperator
    from kinnsci.models.io import read_model_file

    model = get_model("fno", in_channels=1, hidden_channels=4, n_modes=(4, 3),
                      projection_channels=8)
    model.save(tmp_path / "m.pt")
    with _deprecated(r"read_model_file\(path\) is deprecated .*models.load_model"):
        payload = read_model_file(tmp_path / "m.pt", expected="fno")
    assert payload["config"] == model.config
    assert set(payload["state_dict"]) == set(model.state_dict())
    old = importlib.import_module("kinnsci.train.normalized")
    with _deprecated(r"kinnsci.train.normalized.NormalizedOperator is deprecated"):
        assert old.NormalizedOperator is NormalizedOperator
