"""The records an agent lives through: steps, trajectories, reflections and insights.

Records are frozen dataclasses. Ids are deterministic, so writing the same episode twice
is an upsert, never a duplicate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Split = Literal["train", "heldout"]
RecordKind = Literal["trajectory", "reflection", "insight"]


@dataclass(frozen=True)
class Step:
    """One decision: what the agent saw, what it could do, what it did and what it got.

    Args:
        observation: The observation the action was chosen on.
        admissible_actions: The valid actions at that observation.
        action: The action sent to the environment.
        reward: The reward the environment returned for it.
        raw_action: The policy's answer before it was mapped to an admissible action.
        logprob: The policy's log-probability of `action`, when it reports one.
        info: JSON-serialisable per-step info from the environment.
    """

    observation: str
    admissible_actions: tuple[str, ...]
    action: str
    reward: float
    raw_action: str | None = None
    logprob: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trajectory:
    """One episode, start to end, with where it came from.

    Example:
        >>> t = Trajectory(env_id="evolver/FrozenLake-v0", task="Reach the goal.", seed=3,
        ...                steps=(), success=False, run_id="demo", generation=0, episode=0)
        >>> t.id
        'traj-demo-g000-train-e00000'

    `context` is the recalled experience (examples, reflections, insights) that every prompt of
    the episode showed, so a prompt can be rebuilt exactly for training. `error` is set when the
    episode ended on a fault (an environment that raised, a provider that failed); such an
    episode counts as failed.
    """

    env_id: str
    task: str
    seed: int
    steps: tuple[Step, ...]
    success: bool
    run_id: str
    generation: int
    episode: int
    split: Split = "train"
    policy: str = ""
    context: str = ""
    total_return: float = 0.0
    error: str | None = None
    judged: bool = False
    judge_rationale: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return f"traj-{self.run_id}-g{self.generation:03d}-{self.split}-e{self.episode:05d}"

    @property
    def length(self) -> int:
        return len(self.steps)

    @property
    def actions(self) -> list[str]:
        return [step.action for step in self.steps]


@dataclass(frozen=True)
class Reflection:
    """Language self-feedback on one episode: why it went as it did, and what to do next time.

    `source` says who wrote it: ``"model"`` for a reflection model, ``"heuristic"`` for the
    deterministic reflection computed from the trajectory.
    """

    trajectory_id: str
    env_id: str
    task: str
    text: str
    success: bool
    run_id: str
    generation: int
    source: Literal["model", "heuristic"] = "heuristic"
    created_at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return "refl-" + self.trajectory_id.removeprefix("traj-")


@dataclass(frozen=True)
class Insight:
    """A short rule distilled across many trajectories of one environment (ExpeL style)."""

    env_id: str
    text: str
    source_ids: tuple[str, ...]
    run_id: str
    generation: int
    created_at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        digest = hashlib.sha1(f"{self.env_id}\n{self.text}".encode()).hexdigest()[:12]
        return f"ins-{self.run_id}-g{self.generation:03d}-{digest}"


Record = Trajectory | Reflection | Insight


def to_dict(record: Record) -> dict[str, Any]:
    """Return the record as plain JSON-serialisable data, with its `kind` and `id`."""
    data = dataclasses.asdict(record)
    data["kind"] = kind_of(record)
    data["id"] = record.id
    return data


def from_dict(data: dict[str, Any]) -> Record:
    """Inverse of `to_dict`: rebuild the record, tuples and nested steps included."""
    data = {k: v for k, v in data.items() if k not in ("kind", "id")}
    kind = _kind_from_keys(data)
    if kind == "trajectory":
        steps = tuple(
            Step(**{**s, "admissible_actions": tuple(s["admissible_actions"])}) for s in data["steps"]
        )
        return Trajectory(**{**data, "steps": steps})
    if kind == "reflection":
        return Reflection(**data)
    return Insight(**{**data, "source_ids": tuple(data["source_ids"])})


def to_json(record: Record) -> str:
    """The record as JSON: the same data as `to_dict`, without its deep copy (much faster)."""
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    data["kind"] = kind_of(record)
    data["id"] = record.id
    return json.dumps(data, ensure_ascii=False, default=_step_fields)


def _step_fields(value: Any) -> dict[str, Any]:
    if isinstance(value, Step):
        return value.__dict__
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def kind_of(record: Record) -> RecordKind:
    if isinstance(record, Trajectory):
        return "trajectory"
    if isinstance(record, Reflection):
        return "reflection"
    if isinstance(record, Insight):
        return "insight"
    raise TypeError(f"Expected a Trajectory, Reflection or Insight, got {type(record).__name__}.")


def _kind_from_keys(data: dict[str, Any]) -> RecordKind:
    if "steps" in data:
        return "trajectory"
    if "trajectory_id" in data:
        return "reflection"
    if "source_ids" in data:
        return "insight"
    raise ValueError(f"Cannot tell which record this is from its fields: {sorted(data)}.")
