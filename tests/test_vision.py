"""The KINN vision backbone: sizes, FLOPs, ablation switches, image data, training."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Subset
from torch.utils.flop_counter import FlopCounterMode

from kinnsci.data import DataError
from kinnsci.data.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    EvalTransform,
    ImageFolder,
    TrainTransform,
    make_shapes_image_folder,
)
from kinnsci.layers import CKB, KNC
from kinnsci.models import count_parameters, get_model
from kinnsci.models.flops import count_flops
from kinnsci.models.vision import KINNVision
from kinnsci.scan import cpu_kernel, selective_scan
from kinnsci.train import Trainer
from kinnsci.train.metrics import CLASSIFICATION_METRICS

# KINN, ImageNet section (Table 6): parameters and FLOPs at 224², 1000 classes
PAPER = {"tiny": (32.3e6, 4.9e9), "small": (50.3e6, 8.2e9)}
TINY_TEST = {"hidden_channels": 16, "depths": [1, 1, 1, 1], "drop_path_rate": 0.0}


@pytest.mark.parametrize("size", sorted(PAPER))
def test_parameters_and_flops_within_3_percent_of_the_paper(size):
    model = get_model(f"kinn_vision_{size}")
    params, flops = count_parameters(model), count_flops(model)
    want_params, want_flops = PAPER[size]
    print(f"kinn_vision_{size}: {params / 1e6:.2f} M (paper {want_params / 1e6:.1f} M), "
          f"{flops} (paper {want_flops / 1e9:.1f} G)")
    assert abs(params / want_params - 1) < 0.03
    assert abs(flops.total / want_flops - 1) < 0.03


def test_flop_counter_counts_one_multiply_add_as_one_flop():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 16, 5))
    flops = count_flops(model, (2, 3, 4, 4))
    assert flops.dense == 2 * (16 * 8 * 3 * 9 + 8 * 16 * 5) and flops.scan == 0


def test_scan_flops_are_9_BLDN_per_scan_read_from_the_operator():
    b, l, d, n = 2, 7, 5, 3
    args = (torch.randn(b, l, d), torch.rand(b, l, d), -torch.rand(d, n),
            torch.randn(b, l, n), torch.randn(b, l, n))
    counts = []
    for device in (["cpu"] if cpu_kernel.available() else []) + ["meta"]:
        with FlopCounterMode(display=False) as counter:
            out = selective_scan(*(a.to(device) for a in args))
        counts.append(counter.get_flop_counts()["Global"][torch.ops.kinnsci.selective_scan])
        assert out.shape == (b, l, d) and out.device.type == device
    assert counts and all(c == 2 * 9 * b * l * d * n for c in counts)  # 2 per multiply-add


def test_model_scan_flops_add_up_over_blocks_directions_and_cascade_order():
    depths, dims, d_state, order, directions = (1, 2, 1, 1), 8, 3, 2, 4
    model = KINNVision(num_classes=4, hidden_channels=dims, depths=depths, d_state=d_state,
                       ckb_order=order,
                       directions=directions)
    side = 64 // 4  # tokens per side after the patch embedding
    expected = 0
    for k, depth in enumerate(depths):
        tokens = math.ceil(side / 2**k) ** 2
        expected += depth * directions * order * 9 * tokens * (dims * 2**k) * d_state
    assert count_flops(model, (1, 3, 64, 64)).scan == expected


def test_meta_count_equals_a_count_on_real_tensors():
    from torch.utils.flop_counter import FlopCounterMode

    model = KINNVision(num_classes=4, mixer="conv", **TINY_TEST)  # dense ops only
    with FlopCounterMode(display=False) as real:
        model(torch.randn(2, 3, 32, 32))
    assert count_flops(model, (2, 3, 32, 32)).dense == real.get_total_flops() // 2


def test_flop_counting_leaves_the_model_untouched():
    model = KINNVision(num_classes=4, **TINY_TEST)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_flops(model, (1, 3, 32, 32))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).device.type == "cpu"


def _kncs(model):
    return [m for m in model.modules() if isinstance(m, KNC)]


def test_ablation_switches_reach_every_block():
    kw = dict(num_classes=4, **TINY_TEST)
    series, parallel = KINNVision(**kw), KINNVision(routing="parallel", **kw)
    free = KINNVision(physical_constraints=False, **kw)
    ckbs = [m for m in parallel.modules() if isinstance(m, CKB)]
    assert len(ckbs) == 4 and all(c.routing == "parallel" for c in ckbs)
    assert count_parameters(series) == count_parameters(parallel)
    assert len(_kncs(series)) == 4 * 4 * 2  # blocks x directions x order
    assert all(k.physical_constraints and k.discretizer.name == "zoh" for k in _kncs(series))
    assert all(not k.physical_constraints and k.discretizer.name == "euler" for k in _kncs(free))
    assert all(hasattr(k, "A_free") and not hasattr(k, "A_log") for k in _kncs(free))


def test_series_and_parallel_routing_compute_different_functions():
    torch.manual_seed(0)
    series = KINNVision(num_classes=4, **TINY_TEST).eval()
    parallel = KINNVision(num_classes=4, routing="parallel", **TINY_TEST).eval()
    parallel.load_state_dict(series.state_dict())  # same weights, only the wiring differs
    u = torch.randn(2, 8, 8, 16)
    a, b = series.stages[0][0].mixer(u), parallel.stages[0][0].mixer(u)
    assert (a - b).abs().max() > 1e-3 * a.abs().max()


def test_knc_initialisation_survives_the_backbone_init():
    model = KINNVision(num_classes=4, **TINY_TEST)
    for knc in _kncs(model):  # Mamba's Δ init: softplus(bias) in [dt_min, dt_max]
        dt = torch.nn.functional.softplus(knc.dt_proj.bias)
        assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 1e-1 * 1.001


def test_any_multiple_of_the_patch_size_works_including_odd_token_grids():
    model = KINNVision(num_classes=3, **TINY_TEST).eval()
    for hw in [(28, 36), (4, 4), (44, 20)]:
        assert model(torch.randn(1, 3, *hw)).shape == (1, 3)


def test_bad_input_gives_clear_errors(monkeypatch):
    model = KINNVision(num_classes=3, **TINY_TEST)
    with pytest.raises(ValueError, match="built for 3-channel images, got 1 channels"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="30x32 is not a multiple of patch_size=4.*32x32"):
        model(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r"expects images \(batch, channels, H, W\)"):
        model(torch.randn(3, 32, 32))
    bad = torch.randn(1, 3, 32, 32)
    bad[0, 1, 2, 3] = float("nan")
    monkeypatch.setenv("KINNSCI_CHECKS", "1")  # value checks in a forward are debug-only
    with pytest.raises(ValueError, match=r"images contains NaN/inf \(first at \w+ \(0, 1, 2, 3\)"):
        model(bad)
    monkeypatch.delenv("KINNSCI_CHECKS")
    with pytest.raises(ValueError, match="unknown model 'kinn_vision_huge'.*kinn_vision_small"):
        get_model("kinn_vision_huge")
    with pytest.raises(ValueError, match="depths must be 4 stage depths"):
        KINNVision(depths=(2, 2, 2))
    with pytest.raises(ValueError, match="mixer must be one of"):
        KINNVision(mixer="attention")


def test_overfits_one_batch():
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 32, 32), torch.arange(16) % 4
    model = KINNVision(num_classes=4, **TINY_TEST)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert (model(x).argmax(1) == y).all()


# --- image data --------------------------------------------------------------------------
def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_labels_sorted_classes_and_converts_modes(tmp_path):
    _write(tmp_path / "zebra" / "a.png", np.full((8, 8), 200, np.uint8))  # grayscale
    _write(tmp_path / "ant" / "b.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path, EvalTransform(8, crop_fraction=1.0))
    assert ds.classes == ["ant", "zebra"] and ds.targets == [0, 1] and len(ds) == 2
    x, y = ds[1]
    assert x.shape == (3, 8, 8) and y.item() == 1
    expected = (200 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(x[:, 4, 4], expected, atol=1e-6)
    gray = ImageFolder(tmp_path, EvalTransform(8, 1.0, mean=(0.5,), std=(0.5,)), mode="L")
    assert gray[1][0].shape == (1, 8, 8)


def test_image_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(DataError, match="holds no class folders"):
        ImageFolder(tmp_path)
    (tmp_path / "cat").mkdir()
    with pytest.raises(DataError, match="cat holds no images"):
        ImageFolder(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        ImageFolder(tmp_path)[0]
    with pytest.raises(DataError, match=r"no folder for classes \['dog'\]"):
        ImageFolder(tmp_path, classes=["cat", "dog"])


def test_random_resized_crop_respects_area_and_aspect_bounds():
    torch.manual_seed(0)
    tf = TrainTransform(16, scale=(0.3, 0.6), ratio=(0.5, 2.0))
    areas, aspects = [], []
    for _ in range(400):
        left, top, w, h = tf.crop_box(120, 80)
        assert 0 <= left and left + w <= 120 and 0 <= top and top + h <= 80
        areas.append(w * h / (120 * 80))
        aspects.append(w / h)
    # rounding to whole pixels moves the bounds by at most a pixel's worth
    assert 0.29 < min(areas) and max(areas) < 0.61
    assert 0.48 < min(aspects) and max(aspects) < 2.05
    assert max(areas) - min(areas) > 0.2  # actually random


def test_train_transform_flips_half_the_time():
    image = Image.fromarray(np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 30, (8, 1, 3)))
    tf = TrainTransform(8, scale=(1.0, 1.0), ratio=(1.0, 1.0), mean=(0, 0, 0), std=(1, 1, 1))
    torch.manual_seed(0)
    outs = [tf(image) for _ in range(200)]
    flips = [bool(out[0, 0, 0] > out[0, 0, -1]) for out in outs]
    assert 0.35 < np.mean(flips) < 0.65


def test_shapes_folder_is_seeded_and_refuses_to_overwrite(tmp_path):
    a = make_shapes_image_folder(tmp_path / "a", 3, 16, seed=1)
    b = make_shapes_image_folder(tmp_path / "b", 3, 16, seed=1)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert len(files) == 15
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    with pytest.raises(FileExistsError, match="not empty"):
        make_shapes_image_folder(a, 3, 16)


# --- training ----------------------------------------------------------------------------
def test_tiny_model_learns_shapes_well_above_chance(tmp_path):
    """Five classes (chance 20 %) that differ only in shape; ~20 s on 2 CPU cores
    (measured: 73 % validation top-1 after 12 epochs)."""
    root = make_shapes_image_folder(tmp_path / "shapes", 120, 32, seed=0)
    train_view = ImageFolder(root, TrainTransform(32, scale=(0.6, 1.0)))
    eval_view = ImageFolder(root, EvalTransform(32, crop_fraction=1.0))
    order = torch.randperm(len(eval_view), generator=torch.Generator().manual_seed(0)).tolist()
    torch.manual_seed(0)
    model = get_model("kinn_vision_tiny", num_classes=5, patch_size=2, **TINY_TEST)
    trainer = Trainer(model, Subset(train_view, order[100:]), Subset(eval_view, order[:100]),
                      loss="cross_entropy", metrics=CLASSIFICATION_METRICS, lr=3e-3,
                      epochs=12, batch_size=32, progress=False)
    history = trainer.fit()
    assert history[-1]["val_top1"] >= 0.55, [h["val_top1"] for h in history]
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]


def test_train_vision_cli_writes_checkpoints_metrics_and_plots(tmp_path, capsys):
    from kinnsci.cli.main import main
    from kinnsci.train import load_checkpoint

    root = make_shapes_image_folder(tmp_path / "shapes", 8, 16, seed=0)
    out = tmp_path / "run"
    common = ["train-vision", "--data", str(root), "--epochs", "2", "--batch-size", "8",
              "--val-fraction", "0.25", "--no-progress",
              "--model-config", json.dumps({"hidden_channels": 8, "depths": [1, 1, 1, 1]})]
    argv = [*common, "--image-size", "16", "--out", str(out)]
    assert main(argv) == 0
    assert "validation: top-1" in capsys.readouterr().out
    report = json.loads((out / "metrics.json").read_text())
    assert report["classes"] == ["cross", "disc", "ring", "square", "triangle"]
    assert len(report["history"]) == 2 and 0 <= report["val"]["top1"] <= 1
    assert report["parameters"] == count_parameters(
        get_model("kinn_vision_tiny", num_classes=5, hidden_channels=8, depths=[1, 1, 1, 1]))
    assert (out / "plots" / "loss.png").stat().st_size > 0
    assert (out / "plots" / "confusion.png").stat().st_size > 0
    payload = load_checkpoint(out / "final.pt")
    assert payload["model"]["config"]["name"] == "kinn_vision_tiny"
    assert payload["extra"]["classes"] == report["classes"]
    # results are never overwritten unasked; a size that does not fit the patches is refused
    assert main(argv) == 2
    assert "already holds results" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "r2"), "--image-size", "18"]) == 2
    assert "not a multiple of the model's patch_size=4" in capsys.readouterr().err


def test_train_vision_trains_under_torchrun_ddp(tmp_path):
    import os
    import shutil
    import subprocess

    from kinnsci.train import load_checkpoint

    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    root = make_shapes_image_folder(tmp_path / "shapes", 8, 16, seed=0)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    subprocess.run(
        [torchrun, "--nproc-per-node", "2", "--master-port", "29534", "-m", "kinnsci.cli.main",
         "train-vision", "--data", str(root), "--image-size", "16", "--epochs", "2",
         "--batch-size", "8", "--out", str(out), "--no-progress", "--no-plots",
         "--model-config", json.dumps({"hidden_channels": 8, "depths": [1, 1, 1, 1],
                                        "drop_path_rate": 0.0})],
        check=True, env=env, timeout=240, capture_output=True)
    report = json.loads((out / "metrics.json").read_text())
    assert len(report["history"]) == 2 and report["history"][-1]["epoch"] == 2
    state = load_checkpoint(out / "final.pt")["model"]["state"]
    start = get_model("kinn_vision_tiny", num_classes=5, hidden_channels=8, depths=[1, 1, 1, 1])
    assert any(not torch.equal(state[k], v) for k, v in start.state_dict().items())


def test_count_flops_takes_an_example_input_and_behaves_like_a_number():
    from kinnsci.models import get_model

    model = get_model("fno", in_channels=3, out_channels=1, hidden_channels=8, n_modes=(8, 7))
    x = torch.randn(2, 3, 16, 16)
    flops = count_flops(model, x)
    assert flops == count_flops(model, (2, 3, 16, 16)) == flops.dense + flops.scan
    assert flops / 1e9 == pytest.approx(flops.total / 1e9) and flops > 0
    with pytest.raises(TypeError, match="example must be an input tensor or its shape"):
        count_flops(model, "x")


def test_top5_is_reported_only_with_more_than_five_classes():
    from kinnsci.train.metrics import classification_metrics

    assert "top5" not in classification_metrics(5)
    assert "top5" in classification_metrics(6) and "top1" in classification_metrics(2)
