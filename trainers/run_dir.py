"""The run directory: everything one evolution run writes, laid out so a killed run can resume.

```
runs/<name>/
  config.yaml        the resolved config (no secrets)
  metrics.jsonl      one JSON object per finished generation; generation 0 is the baseline
  memory/            the embedded experience memory (absent when a Chroma server is used)
  policy/gen-NNN/    the policy distilled in generation NNN (gen-000 is the starting policy)
  datasets/gen-NNN/  the SFT and DPO datasets that generation trained on
  logs/              training logs
  report/            plots and report.html
```

A line of `metrics.jsonl` is written only when its generation is complete, and checkpoints are
renamed into place only when fully written, so after a crash the last line says where to go on.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evolver.trainers.evolution_config import EvolutionConfig

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class RunDir:
    """A run's folder and the files in it."""

    path: Path

    @classmethod
    def create(cls, config: EvolutionConfig) -> RunDir:
        """Make a new run folder for `config` and write the resolved config into it."""
        name = config.name or datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S")
        path = Path(config.runs_dir) / name
        if path.exists() and any(path.iterdir()):
            raise ValueError(
                f"Run folder {str(path)!r} already exists. Continue it with `evolver run --resume {path}`, "
                "or choose another `--name`."
            )
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.write_config(config)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run folder to resume it."""
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise ValueError(
                f"{str(path)!r} is not an evolver run folder (no {CONFIG_FILE}). "
                "Pass the folder that `evolver run` created, e.g. `runs/<name>`."
            )
        return cls(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    def write_config(self, config: EvolutionConfig) -> None:
        _write_atomic(self.path / CONFIG_FILE, yaml.safe_dump(config.to_dict(), sort_keys=False))

    def read_config(self, overrides: dict[str, Any] | None = None) -> EvolutionConfig:
        """The saved config, with `overrides` (e.g. more generations) applied and saved back."""
        data = yaml.safe_load((self.path / CONFIG_FILE).read_text())
        data["runs_dir"] = str(self.path.parent)
        data["name"] = self.path.name
        config = EvolutionConfig.from_dict({**data, **(overrides or {})})
        if overrides:
            self.write_config(config)
        return config

    # -- metrics -----------------------------------------------------------------------------------

    def metrics(self) -> list[dict[str, Any]]:
        """The finished generations' metrics lines, in order (a torn last line is ignored)."""
        path = self.path / METRICS_FILE
        if not path.exists():
            return []
        lines = []
        for text in path.read_text().splitlines():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                break  # a line torn by a crash: its generation is redone
        return lines

    def append_metrics(self, line: dict[str, Any]) -> None:
        path = self.path / METRICS_FILE
        kept = self.metrics()  # drop a torn line before appending
        text = "".join(json.dumps(row) + "\n" for row in [*kept, line])
        _write_atomic(path, text)

    # -- policies and datasets -----------------------------------------------------------------

    def policy_dir(self, generation: int) -> Path:
        return self.path / "policy" / f"gen-{generation:03d}"

    def dataset_dir(self, generation: int) -> Path:
        return self.path / "datasets" / f"gen-{generation:03d}"

    @property
    def memory_dir(self) -> Path:
        return self.path / "memory"

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
