"""The one place a policy prompt is built.

The agent calls `build_prompt` when it acts, and the trainers call `step_prompt` (which calls
`build_prompt`) when they turn a stored trajectory into training data, so what is distilled is
exactly what was acted on.
"""

from __future__ import annotations

from collections.abc import Sequence

from evolver.memory.records import Trajectory

HISTORY_STEPS = 4
"""How many earlier actions a prompt shows (observations are kept out to keep prompts short)."""


def build_prompt(
    task: str,
    observation: str,
    admissible_actions: Sequence[str],
    history: Sequence[str] = (),
    context: str = "",
) -> str:
    """Build the text a policy continues with its action.

    Args:
        task: The goal, in words.
        observation: What the agent sees now.
        admissible_actions: The valid actions now.
        history: Earlier actions of the episode, oldest first; only the last
            `HISTORY_STEPS` are shown.
        context: Recalled experience (examples, reflections, insights), or "".

    Returns:
        The prompt; the action follows it after a single space.

    Example:
        >>> print(build_prompt("Reach the goal.", "You are at the start.", ["left", "right"]))
        Task: Reach the goal.
        Observation: You are at the start.
        Actions: left | right
        Action:
    """
    parts = []
    if context:
        parts.append(context.strip())
    parts.append(f"Task: {task.strip()}")
    if history:
        parts.append("Previous actions: " + ", ".join(list(history)[-HISTORY_STEPS:]))
    parts.append(f"Observation: {observation.strip()}")
    parts.append("Actions: " + " | ".join(admissible_actions))
    parts.append("Action:")
    return "\n".join(parts)


def step_prompt(trajectory: Trajectory, index: int) -> str:
    """Rebuild the exact prompt the agent acted on at step `index` of a stored trajectory."""
    step = trajectory.steps[index]
    return build_prompt(
        trajectory.task,
        step.observation,
        step.admissible_actions,
        history=trajectory.actions[:index],
        context=trajectory.context,
    )
