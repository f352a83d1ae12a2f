import json

import pytest
import torch

from kinnsci.models import (
    FKNO,
    FNO,
    MODELS,
    UKNO,
    count_parameters,
    get_model,
    save_model,
    set_dtype,
)

PAPER_FKNO = {1: 476_698, 2: 481_018, 4: 489_658}
PAPER_UKNO = {1: 2.60e6, 2: 2.83e6, 3: 3.07e6, 4: 3.31e6}


def test_fno_parameter_count_matches_the_reference_fno2d():
    # reference FNO2d: 465,717 incl. 160 never-used BatchNorm parameters and no spectral bias;
    # neuraloperator's SpectralConv adds a 20-channel bias per layer (4 x 20)
    assert count_parameters(FNO()) == 465_717 - 160 + 4 * 20


@pytest.mark.parametrize("directions", [1, 2, 4])
def test_fkno_parameter_counts_within_3_percent_of_the_paper(directions):
    ours = count_parameters(FKNO(directions=directions))
    assert abs(ours / PAPER_FKNO[directions] - 1) < 0.03


def test_fkno_adds_the_same_4320_parameters_per_direction():
    counts = [count_parameters(FKNO(directions=d)) for d in (1, 2, 4)]
    assert counts[1] - counts[0] == 4320 and counts[2] - counts[1] == 2 * 4320


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ukno_parameter_counts_within_5_percent_of_the_paper(order):
    assert abs(count_parameters(UKNO(ckb_order=order)) / PAPER_UKNO[order] - 1) < 0.05


SMALL = {
    "fno": dict(in_channels=3, out_channels=2, hidden_channels=8, n_modes=(8, 7)),
    "fkno": dict(in_channels=3, out_channels=2, hidden_channels=8, n_modes=(8, 7), directions=4),
    "unet": dict(in_channels=3, out_channels=2, hidden_channels=[8, 16, 32]),
    "ukno": dict(in_channels=3, out_channels=2, hidden_channels=[8, 16, 16], res_blocks=1),
    "kirchhoffnet": dict(in_channels=3, out_channels=2, hidden_channels=1),
    "dynpmnn": dict(in_channels=3, out_channels=2, hidden_channels=4),
    "mlp": dict(in_channels=3, out_channels=2, hidden_channels=5),
    "neural_ode": dict(in_channels=3, out_channels=2, hidden_channels=4, field_width=6),
    "cfc": dict(in_channels=3, out_channels=2, hidden_channels=4, backbone_units=6),
    "kirchhoff_flow": dict(channels=3, repeat=2),
    **{f"kinn_vision{size}": dict(num_classes=5, hidden_channels=8, depths=[1, 1, 1, 1])
       for size in ("", "_tiny", "_small", "_base")},
}
OPERATORS = ("fkno", "fno", "ukno", "unet")  # field -> field models


def example_input(name: str, dtype=torch.float32) -> torch.Tensor:
    """(2, 3, 16, 16) fields for the operators and images for the vision backbones, (2, 3)
    vectors for the circuit models."""
    shape = (2, 3, 16, 16) if name in OPERATORS or name.startswith("kinn_vision") else (2, 3)
    return torch.randn(*shape, dtype=dtype)


@pytest.mark.parametrize("name", OPERATORS)
@pytest.mark.parametrize("hw", [(16, 16), (17, 21)])
def test_models_map_fields_to_fields_and_learn(name, hw):
    torch.manual_seed(0)
    model = get_model(name, **SMALL[name])
    x = torch.randn(4, 3, *hw)
    target = torch.sin(x[:, :2]) * 0.5
    assert model(x).shape == (4, 2, *hw)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = (model(x) - target).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_configs_round_trip_through_json(name):
    model = get_model(name, **SMALL[name])
    rebuilt = get_model(**json.loads(json.dumps(model.config)))
    assert count_parameters(rebuilt) == count_parameters(model)
    rebuilt.load_state_dict(model.state_dict())
    x = example_input(name)
    assert torch.equal(rebuilt.eval()(x), model.eval()(x))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_run_in_float64(name):
    model = set_dtype(get_model(name, **SMALL[name]), torch.float64)
    assert model(example_input(name, torch.float64)).dtype == torch.float64


def test_fno_is_resolution_independent_on_band_limited_input():
    torch.manual_seed(0)
    model = set_dtype(get_model("fno", in_channels=1, hidden_channels=8, n_modes=(8, 7)),
                      torch.float64)
    model.projection = torch.nn.Identity()  # compare the latent field
    for layer in model.local:
        torch.nn.init.zeros_(layer.weight)
    model.append_grid = False
    model.lifting = torch.nn.Conv2d(1, 8, 1, bias=False).double()

    def field(n):
        t = torch.arange(n, dtype=torch.float64) / n
        return (torch.sin(2 * torch.pi * t)[:, None] * torch.cos(2 * torch.pi * t)[None])[
            None, None
        ]

    coarse, fine = model(field(32)), model(field(64))
    # only GELU of mode-limited fields in between: compare on the shared grid points loosely
    assert torch.allclose(fine[..., ::2, ::2], coarse, atol=5e-2)


def test_unknown_model_and_config_keys_are_listed():
    with pytest.raises(ValueError, match="known models: cfc, dynpmnn, fkno, fno, kinn_vision, "
                                         "kinn_vision_base, "
                                         "kinn_vision_small, kinn_vision_tiny, kirchhoff_flow, "
                                         "kirchhoffnet, mlp, neural_ode, ukno, unet"):
        get_model("transformer")
    with pytest.raises(ValueError, match=r"unknown config keys for model 'fno': \['depth'\]"):
        get_model("fno", depth=3)


def test_wrong_input_channels_are_a_clear_error():
    with pytest.raises(ValueError, match=r"FNO expects \(batch, 3, H, W\)"):
        get_model("fno", **SMALL["fno"])(torch.zeros(1, 2, 16, 16))
    with pytest.raises(ValueError, match=r"UKNO expects \(batch, 3, H, W\)"):
        get_model("ukno", **SMALL["ukno"])(torch.zeros(1, 4, 16, 16))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_reproduces_outputs_bit_for_bit(name, tmp_path):
    from kinnsci.models import load_model

    model = get_model(name, **SMALL[name]).eval()
    norm = {"mean": torch.randn(3), "std": torch.rand(3)}
    path = tmp_path / "model.pt"
    model.save(path, normalizer=norm)
    loaded, loaded_norm = load_model(path)
    x = example_input(name)
    assert torch.equal(loaded.eval()(x), model(x))
    assert torch.equal(loaded_norm["std"], norm["std"])
    assert torch.equal(type(model).load(path).eval()(x), model(x))
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temporary file


def test_loading_bad_files_gives_clear_errors(tmp_path):
    from kinnsci.models import FNO, load_model

    path = tmp_path / "m.pt"
    get_model("unet", **SMALL["unet"]).save(path)
    with pytest.raises(ValueError, match="holds a 'unet' model, not 'fno'"):
        FNO.load(path)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_model(truncated)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    newer = tmp_path / "newer.pt"
    torch.save({"format": 99, "config": {"name": "fno"}, "state_dict": {}}, newer)
    with pytest.raises(ValueError, match="format 99, newer than"):
        load_model(newer)


def test_modes_larger_than_the_grid_are_rejected_before_computing():
    model = get_model("fno", in_channels=1, hidden_channels=4, n_modes=(24, 23))
    with pytest.raises(ValueError, match=r"n_modes=\(24, 23\) needs grids of at least 23 x 23"):
        model(torch.zeros(1, 1, 16, 16))


def test_discretizer_and_routing_reach_every_ckb():
    from kinnsci.layers import CKB

    for name in ("fkno", "ukno"):
        model = get_model(name, **SMALL[name], discretizer="euler", routing="parallel")
        blocks = [m for m in model.modules() if isinstance(m, CKB)]
        assert blocks and all(b.routing == "parallel" for b in blocks)
        assert all(k.discretizer.name == "euler" for b in blocks for ks in b.kncs for k in ks)
    with pytest.raises(ValueError, match="directions must be one of"):
        get_model("fkno", directions=3)


# --- training behaviour: overfitting and resolution transfer ------------------------------

OVERFIT = {
    "fno": ({"hidden_channels": 16, "n_modes": [12, 11]}, 300),
    "unet": ({"hidden_channels": [16, 32]}, 500),
    "fkno": ({"hidden_channels": 16, "n_modes": [12, 11], "directions": 1, "d_state": 4}, 300),
    "ukno": ({"hidden_channels": [16, 16, 32], "res_blocks": 1, "directions": 1, "d_state": 4,
              "ckb_levels": 1}, 800),
}


def _darcy_batch(n: int = 4, resolution: int = 16):
    from kinnsci.data import get_generator

    ds = get_generator("darcy")(n, resolution, seed=0, progress=False)
    a = torch.tensor(ds["a"].values, dtype=torch.float32)[:, None]
    u = torch.tensor(ds["u"].values, dtype=torch.float32)[:, None]
    return (a - a.mean()) / a.std(), u / u.std()


@pytest.mark.parametrize("name", [
    "fno", "unet",
    pytest.param("fkno", marks=pytest.mark.slow), pytest.param("ukno", marks=pytest.mark.slow),
])
def test_each_model_overfits_four_darcy_samples(name):
    from kinnsci.train import relative_l2

    config, steps = OVERFIT[name]
    a, u = _darcy_batch()
    torch.manual_seed(0)
    model = get_model(name, in_channels=1, out_channels=1, **config)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps)
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = relative_l2(model(a), u)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        final = relative_l2(model(a), u).item()
    assert final < 1e-2 < first, (first, final)


def _band_limited(resolution: int, seed: int, n: int = 2) -> torch.Tensor:
    """Sum of Fourier modes |k| <= 2 on the periodic grid j / resolution: the same function
    at every resolution, exactly representable on both grids."""
    g = torch.Generator().manual_seed(seed)
    s = torch.arange(resolution, dtype=torch.float32) / resolution
    yy, xx = torch.meshgrid(s, s, indexing="ij")
    out = torch.zeros(n, 1, resolution, resolution)
    for b in range(n):
        c = torch.randn(3, 3, 2, generator=g)
        for i in range(3):
            for j in range(3):
                phase = 2 * torch.pi * (i * xx + j * yy)
                out[b, 0] += c[i, j, 0] * torch.sin(phase) + c[i, j, 1] * torch.cos(phase)
    return out


def _transfer_gap(name: str, steps: int, **config) -> float:
    """Train briefly at 32x32, then compare the 64x64 output at the shared grid points."""
    torch.manual_seed(0)
    model = get_model(name, in_channels=1, out_channels=1, hidden_channels=12, n_modes=(12, 11),
                      **config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = _band_limited(32, seed=1)
    y = torch.tanh(x).roll(3, dims=-1)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        coarse = model(_band_limited(32, seed=0))
        fine = model(_band_limited(64, seed=0))[..., ::2, ::2]
    return ((coarse - fine).norm() / coarse.norm()).item()


def test_fno_trained_at_32_evaluates_the_same_function_at_64():
    # Fourier layers are exact on band-limited fields; the pointwise GELU creates harmonics
    # that alias differently on the two grids, measured at ~1.5 %.
    assert _transfer_gap("fno", steps=40) < 0.03


def test_fkno_with_grid_spacing_aware_steps_transfers_from_32_to_64():
    # reference_resolution=32 halves every scan step on the 64 grid, keeping the Kirchhoff
    # time constants in physical units. The depthwise 3x3 convolution inside the CKB is
    # still grid-bound, so FKNO transfers approximately: measured ~1.7 % after brief
    # training, and the same without reference_resolution at this size (docs/concepts.md).
    assert _transfer_gap("fkno", steps=10, directions=2, reference_resolution=32) < 0.03


@pytest.mark.parametrize(("name", "config", "shape"), [
    ("fkno", {"in_channels": 10, "out_channels": 1, "directions": 2, "hidden_channels": 16,
              "n_modes": [16, 15]},
     (2, 10, 32, 32)),
    ("ukno", {"in_channels": 1, "out_channels": 1}, (2, 1, 32, 32)),
    ("kinn_vision_tiny", {"hidden_channels": 16, "depths": [1, 1, 1, 1], "num_classes": 3},
     (2, 3, 32, 32)),
])
def test_every_gradient_has_its_parameters_layout(name, config, shape):
    """DDP buckets gradients in the parameters' layout; a gradient of another layout is
    copied on every step with "Grad strides do not match bucket view strides" (the CKB's
    depthwise convolution sees a channels-last view, so its weight is stored that way)."""
    model = get_model(name, **config)
    reloaded = get_model(name, **config)
    reloaded.load_state_dict(model.state_dict())
    for m in (model, set_dtype(reloaded, torch.float64)):
        dtype = next(m.parameters()).dtype
        m(torch.randn(*shape, dtype=dtype)).sum().backward()
        mismatched = [n for n, p in m.named_parameters()
                      if p.grad is not None and p.grad.stride() != p.stride()]
        assert mismatched == [], mismatched


def test_a_model_built_directly_saves_and_loads_like_a_registry_one(tmp_path):
    """Constructors record their arguments as ``config``: FNO(...) saves without
    get_model, and both loaders rebuild it (the registry is no longer needed to save)."""
    from kinnsci.models import FNO, load_model
    from kinnsci.models.vision import KINNVisionTiny

    for model, x in ((FNO(in_channels=2, out_channels=1, hidden_channels=8, n_modes=(8, 7)),
                      torch.randn(1, 2, 16, 16)),
                     (KINNVisionTiny(hidden_channels=16, depths=(1, 1, 1, 1), num_classes=3),
                      torch.randn(1, 3, 32, 32))):
        name = model.config["name"]
        rebuilt = get_model(**model.config)
        assert rebuilt.config == model.config  # the same record get_model makes
        path = tmp_path / f"{name}.pt"
        model.save(path)
        model.eval()
        for loaded in (type(model).load(path), load_model(path, expected=name)[0]):
            loaded.eval()
            with torch.no_grad():
                assert torch.equal(loaded(x), model(x)), name


def test_one_loader_reads_every_file_kinnsci_writes(tmp_path):
    """``load_model`` reads a model file (this format and kinnsci 0.2's), a training
    checkpoint, a run folder and a saved trained model, each giving back the same
    function; ``load_trained`` still works, with a deprecation warning."""
    from kinnsci.cli.main import main
    from kinnsci.data.generators import generate
    from kinnsci.models import LoadedModel, NormalizedOperator, load_model
    from kinnsci.train import load_trained

    data = generate("darcy", tmp_path / "darcy.nc", n_samples=8, resolution=16, seed=0,
                    progress=False)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--inputs", "a", "--targets", "u", "--model",
                 "fno", "--model-config", '{"hidden_channels": 4, "n_modes": [4, 4]}',
                 "--epochs", "1", "--batch-size", "4", "--out", str(out), "--no-progress",
                 "--no-plots"]) == 0
    x = torch.randn(2, 1, 16, 16)
    from_folder = load_model(out)
    assert isinstance(from_folder, LoadedModel) and from_folder.kind == "checkpoint"
    assert from_folder.path == out / "final.pt"
    assert isinstance(from_folder.model, NormalizedOperator) and not from_folder.model.training
    assert from_folder.extra["run"]["targets"] == ["u"]
    with torch.no_grad():
        expected = from_folder.model(x)
        for path in (out / "final.pt", out / "last.pt"):
            torch.testing.assert_close(load_model(path, expected="fno").model(x), expected)
        from_folder.model.backbone.save(tmp_path / "backbone.pt")  # only the backbone
        saved = tmp_path / "trained.pt"
        save_model(from_folder.model, saved)  # the trained model: normalisers in its state
        again = load_model(saved)
        assert again.kind == "model" and isinstance(again.model, NormalizedOperator)
        torch.testing.assert_close(again.model(x), expected, rtol=0, atol=0)
        backbone = from_folder.model.backbone
        torch.testing.assert_close(load_model(tmp_path / "backbone.pt").model(x), backbone(x))
        torch.testing.assert_close(FNO.load(out / "final.pt")(x), backbone(x))
        old = tmp_path / "old.pt"  # kinnsci 0.2's model file
        torch.save({"format": 1, "config": dict(backbone.config),
                    "state_dict": backbone.state_dict(), "normalizer": None}, old)
        torch.testing.assert_close(load_model(old).model(x), backbone(x))
        with pytest.warns(DeprecationWarning, match="load_model"):
            model, extra = load_trained(out / "final.pt")
        torch.testing.assert_close(model(x), expected)
    (tmp_path / "plots_only").mkdir()
    with pytest.raises(FileNotFoundError, match=r"without final.pt, best.pt, last.pt"):
        load_model(tmp_path / "plots_only")
