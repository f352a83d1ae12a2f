"""Kirchhoff diagnostics (``kinnsci inspect``) and the state-cut control."""

from __future__ import annotations

import json

import pytest
import torch

from kinnsci.layers import CKB, KNC, inspect_kirchhoff
from kinnsci.models import count_parameters, get_model
from kinnsci.scan import selective_scan


def test_the_state_cut_knc_returns_its_skip_term_with_every_parameter_kept():
    torch.manual_seed(0)
    full, cut = KNC(6, 4), KNC(6, 4, state_cut=True)
    cut.load_state_dict(full.state_dict())
    x = torch.randn(2, 11, 6)
    torch.testing.assert_close(cut(x), cut.D * x)
    assert not torch.allclose(full(x), full.D * x)
    assert count_parameters(CKB(8, state_cut=True)) == count_parameters(CKB(8))
    model = get_model("fkno", in_channels=1, out_channels=1, hidden_channels=8,
                      n_modes=(6, 5), d_state=4, ckb_kwargs={"state_cut": True})
    assert all(m.state_cut for m in model.modules() if isinstance(m, KNC))


def test_state_share_is_the_readout_of_the_state_against_the_skip_term():
    torch.manual_seed(1)
    knc = KNC(5, 3)
    x = torch.randn(2, 17, 5)
    report = inspect_kirchhoff(knc, x)
    with torch.no_grad():
        delta, B, C = knc.coefficients(x)
        state = selective_scan(x, delta, knc.A, B, C, None)  # C . h without the skip term
    expected = float(state.norm() / (knc.D * x).detach().norm())
    (entry,) = report["kncs"]
    assert entry["state_share"] == pytest.approx(expected, rel=1e-5)
    a_dt = (delta[..., None] * knc.A.abs()).flatten()
    assert a_dt.min() <= entry["abs_A_dt"]["q50"] <= a_dt.max()
    assert entry["time_constant_steps"]["q50"] == pytest.approx(
        1 / entry["abs_A_dt"]["q50"], rel=0.2)


def test_discretizer_swap_is_measured_and_undone():
    torch.manual_seed(2)
    model = get_model("fkno", in_channels=1, out_channels=1, hidden_channels=8,
                      n_modes=(6, 5), d_state=4)
    x = torch.randn(2, 1, 12, 12)
    before = model(x).detach()
    report = inspect_kirchhoff(model, x)
    assert set(report["discretizer_swap"]) == {"euler", "bilinear"}
    assert all(v > 0 for v in report["discretizer_swap"].values())
    assert {k["discretizer"] for k in report["kncs"]} == {"zoh"}
    assert all(m.discretizer.name == "zoh" for m in model.modules() if isinstance(m, KNC))
    torch.testing.assert_close(model(x), before)
    cut = inspect_kirchhoff(get_model("fkno", in_channels=1, out_channels=1,
                                      hidden_channels=8, n_modes=(6, 5), d_state=4,
                                      ckb_kwargs={"state_cut": True}), x)
    assert {k["state_share"] for k in cut["kncs"]} == {0.0}
    assert set(cut["discretizer_swap"].values()) == {0.0}


def test_kinnsci_inspect_reports_a_trained_checkpoint(tmp_path, capsys):
    from kinnsci.cli.main import main
    from kinnsci.data import generate

    data = generate("long_range", tmp_path / "lr.nc", n_samples=10, resolution=16, seed=0,
                    progress=False)
    train = ["train", "--data", str(data), "--inputs", "f", "--targets", "u", "--epochs", "1",
             "--batch-size", "4", "--no-progress", "--no-plots"]
    small = '{"hidden_channels": 8, "n_modes": [6, 5], "d_state": 4}'
    assert main([*train, "--model", "fkno", "--model-config", small,
                 "--out", str(tmp_path / "fkno")]) == 0
    capsys.readouterr()
    argv = ["inspect", str(tmp_path / "fkno" / "final.pt"), "--json",
            str(tmp_path / "k.json"), "--plot", str(tmp_path / "k.png"), "--samples", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "state share" in out and "backbone.local.0.block.kncs.0.0" in out
    report = json.loads((tmp_path / "k.json").read_text())
    assert report["samples"] == 3 and len(report["kncs"]) == 2
    assert 0 < report["kncs"][0]["state_share"]
    assert (tmp_path / "k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # again without --overwrite: refused, files kept
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err
    # a model without Kirchhoff cells: one line, exit 2
    assert main([*train, "--model", "fno", "--model-config",
                 '{"hidden_channels": 8, "n_modes": [6, 5]}', "--out",
                 str(tmp_path / "fno")]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "fno" / "final.pt")]) == 2
    err = capsys.readouterr().err
    assert "no Kirchhoff cells to inspect" in err and "Traceback" not in err


def test_the_papers_dsconv_adds_a_pointwise_convolution_and_keeps_causality():
    """conv="dsconv": depthwise then pointwise over the inner channels (KINN's DSConv);
    on sequences the block stays causal."""
    torch.manual_seed(3)
    plain, ds = CKB(8), CKB(8, conv="dsconv")
    inner = plain.inner
    assert count_parameters(ds) - count_parameters(plain) == inner * inner + inner
    u = torch.randn(1, 12, 8)
    v = u.clone()
    v[:, 7:] += 1.0
    torch.testing.assert_close(ds(u)[:, :7], ds(v)[:, :7])
    fkno = get_model("fkno", in_channels=1, out_channels=1, hidden_channels=8, n_modes=(6, 5),
                     d_state=4, ckb_kwargs={"conv": "dsconv"})
    assert fkno(torch.randn(2, 1, 12, 12)).shape == (2, 1, 12, 12)
    with pytest.raises(ValueError, match="conv must be one of"):
        CKB(8, conv="dense")
