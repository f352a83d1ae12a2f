import subprocess
import sys

from kinnsci.cli.main import main


def test_info_lists_registries(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "discretizers: zoh, euler, bilinear, adaptive" in out
    assert "kirchhoff_node" in out
    assert "CUDA:" in out


def test_console_script_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "kinnsci.cli.main", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "info" in out.stdout and "quickstart" in out.stdout
