"""What the agent recalls from its memory before an episode, per preset, within a token budget.

Presets:
    ``react``: no recall; the policy acts on the task and observation alone (ReAct without the
        thoughts: Yao et al. 2023, "ReAct: Synergizing Reasoning and Acting in Language Models").
    ``reflexion``: the reflections written after earlier failed tries of the same task (same env
        and seed) are shown on the next try (Shinn et al. 2023, "Reflexion: Language Agents with
        Verbal Reinforcement Learning").
    ``expel``: insights distilled for the environment and successful trajectories on similar tasks
        are shown as examples (Zhao et al. 2023, "ExpeL: LLM Agents Are Experiential Learners").

Only train episodes are ever recalled (``split="train"``), so held-out evaluation stays held out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from evolver.memory.records import Trajectory

Preset = Literal["react", "reflexion", "expel"]
PRESETS: tuple[Preset, ...] = ("react", "reflexion", "expel")

MAX_REFLECTIONS = 3
"""Reflexion keeps the last three reflections (Shinn et al. 2023)."""
MAX_EXAMPLES = 2
MAX_INSIGHTS = 5


def recall_sections(
    memory, preset: Preset, env_id: str, seed: int, query: str
) -> list[tuple[str, list[str]]]:
    """The recalled items for one episode, as (heading, items) sections in priority order.

    Args:
        memory: An `ExperienceMemory`.
        preset: One of `PRESETS`.
        env_id: The environment of the episode.
        seed: Its seed, which names the task.
        query: What similar episodes are searched with (the task and first observation).
    """
    if preset == "react":
        return []
    if preset == "reflexion":
        return [
            ("Reflections on your earlier failed tries of this task:", _reflections(memory, env_id, seed))
        ]
    insights = memory.search(query, k=MAX_INSIGHTS, kind="insight", where={"env_id": env_id})
    examples = memory.search(
        query, k=MAX_EXAMPLES, kind="trajectory", where={"env_id": env_id, "success": True, "split": "train"}
    )
    return [
        ("Insights:", [hit.record.text for hit in insights]),
        ("Successful examples:", [render_example(hit.record) for hit in examples]),
    ]


def fit_context(
    sections: list[tuple[str, list[str]]], budget: int, count_tokens: Callable[[str], int]
) -> str:
    """Join the sections' items in order, leaving out any item that would pass `budget` tokens."""
    text = ""
    for heading, items in sections:
        kept: list[str] = []
        for item in items:
            candidate = _join(text, heading, [*kept, item])
            if count_tokens(candidate) <= budget:
                kept.append(item)
        if kept:
            text = _join(text, heading, kept)
    return text


def render_example(trajectory: Trajectory) -> str:
    """A trajectory as a worked example: its task, first observation and actions."""
    first = trajectory.steps[0].observation.strip() if trajectory.steps else ""
    outcome = "succeeded" if trajectory.success else "failed"
    return (
        f"Task: {trajectory.task.strip()}\nObservation: {first}\n"
        f"Actions ({outcome}): {', '.join(trajectory.actions)}"
    )


def _reflections(memory, env_id: str, seed: int) -> list[str]:
    failed = memory.trajectories(where={"env_id": env_id, "seed": seed, "success": False, "split": "train"})
    latest = sorted(failed, key=lambda t: t.created_at)[-MAX_REFLECTIONS:]
    # A reflection's id is its trajectory's, see `Reflection.id`.
    found = [memory.get("refl-" + t.id.removeprefix("traj-")) for t in latest]
    return [reflection.text for reflection in found if reflection is not None]


def _join(text: str, heading: str, items: list[str]) -> str:
    block = heading + "\n" + "\n".join(f"- {item}" for item in items)
    return f"{text}\n{block}" if text else block
