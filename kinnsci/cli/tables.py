"""Plain-text tables the subcommands print."""

from __future__ import annotations


def format_metrics(metrics: dict, title: str) -> str:
    """``title`` over a Markdown table of metric names and values (4 significant digits)."""
    lines = [title, "| metric | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.4g} |" for k, v in metrics.items()]
    return "\n".join(lines)
