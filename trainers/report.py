"""The run report: PNG plots of the metrics and one `report.html` that shows them with a summary table."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

PLOTS = {
    "success": ("Success per generation", [("heldout_success", "held-out"), ("train_success", "train")]),
    "return": ("Return per generation", [("heldout_return", "held-out"), ("train_return", "train")]),
    "length": ("Episode length", [("heldout_length", "held-out"), ("train_length", "train")]),
    "data": ("Distillation data", [("sft_examples", "SFT examples"), ("dpo_pairs", "DPO pairs")]),
    "loss": ("Training loss (last step)", [("sft_loss", "SFT"), ("dpo_loss", "DPO")]),
}
TABLE_COLUMNS = (
    "generation", "train_success", "heldout_success", "oracle_success", "episodes",
    "sft_examples", "dpo_pairs", "promoted", "policy", "seconds",
)  # fmt: skip


def build_report(run_dir: str | Path) -> Path:
    """(Re)build `report/` of a run from its `metrics.jsonl`; returns the path of `report.html`.

    Example:
        >>> build_report("runs/demo")  # doctest: +SKIP
        PosixPath('runs/demo/report/report.html')
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.jsonl"
    if not metrics_path.is_file():
        raise ValueError(f"{str(run_dir)!r} has no metrics.jsonl: pass a run folder made by `evolver run`.")
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    images = []
    for name, (title, series) in PLOTS.items():
        drawn = [(key, label) for key, label in series if any(row.get(key) is not None for row in rows)]
        if not drawn:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for key, label in drawn:
            points = [(row["generation"], row[key]) for row in rows if row.get(key) is not None]
            ax.plot(*zip(*points, strict=True), marker="o", label=label)
        if name == "success":
            _reference_lines(ax, rows)
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
        ax.set_xlabel("generation")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
        images.append(f"{name}.png")
    page = out / "report.html"
    page.write_text(_html(run_dir.name, rows, images))
    return page


def _reference_lines(ax: Any, rows: list[dict[str, Any]]) -> None:
    first = rows[0]
    if first.get("oracle_success") is not None:
        ax.axhline(first["oracle_success"], color="green", linestyle="--", linewidth=1, label="oracle")
        ax.axhline(
            0.8 * first["oracle_success"], color="green", linestyle=":", linewidth=1, label="0.8 x oracle"
        )
    if first.get("random_success") is not None:
        ax.axhline(first["random_success"], color="grey", linestyle="--", linewidth=1, label="random policy")


def _html(name: str, rows: list[dict[str, Any]], images: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in TABLE_COLUMNS) + "</tr>"
        for row in rows
    )
    figures = "".join(f'<img src="{image}" alt="{image}">' for image in images)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>evolver run {html.escape(name)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:48%;margin:4px}</style>"
        f"</head><body><h1>evolver run <code>{html.escape(name)}</code></h1>"
        f"<table><tr>{head}</tr>{body}</table><div>{figures}</div></body></html>"
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)
