"""BabyAI levels (minigrid) in words (extra: ``pip install "evolver[babyai]"``).

The mission is the task; the observation says what the agent sees in its 7 x 7 view, each
object with its colour and where it is in steps forward and left or right, what is in front
of it and what it carries.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import gymnasium as gym

from evolver.envs.core import MAX_OBSERVATION_LENGTH, TextEnv

ACTIONS = ["left", "right", "forward", "pickup", "drop", "toggle", "done"]
"""minigrid's actions, in its order: turn left, turn right, move forward, pick up, drop, toggle, done."""


class BabyAITextEnv(TextEnv):
    """A BabyAI level in words: its mission is the task, a description of the agent's view the observation.

    Args:
        level: A registered BabyAI id, e.g. ``"BabyAI-GoToRedBall-v0"``.
        max_observation_length: The longest observation the observation space admits.
        render_mode: ``"ansi"`` or None.

    Example:
        >>> env = BabyAITextEnv("BabyAI-GoToRedBall-v0")
        >>> observation, info = env.reset(seed=0)
        >>> info["task"]
        'go to the red ball'
    """

    def __init__(
        self,
        level: str = "BabyAI-GoToRedBall-v0",
        max_observation_length: int = MAX_OBSERVATION_LENGTH,
        render_mode: str | None = None,
    ) -> None:
        _import_minigrid()
        super().__init__(max_observation_length=max_observation_length, render_mode=render_mode)
        self.level = gym.make(level).unwrapped

    def _start(self, task_seed: int) -> tuple[str, str]:
        # minigrid prints each rejected level layout while it generates one: keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            self.level.reset(seed=task_seed)
        return self.level.mission, describe_view(self.level)

    def _admissible_actions(self) -> list[str]:
        return list(ACTIONS)

    def _act(self, action: str) -> tuple[str, float, bool, bool]:
        # The level's own step limit is ignored: the registered `max_episode_steps` cuts episodes.
        _, reward, terminated, _, _ = self.level.step(ACTIONS.index(action))
        return describe_view(self.level), reward, terminated, terminated and reward > 0

    def close(self) -> None:
        self.level.close()


def describe_view(level: Any) -> str:
    """Say what a minigrid agent sees: visible objects and where, what is in front, what it carries.

    Example output: ``"You see a red ball 2 steps forward and 1 step left, a grey key 1 step
    right.\\nIn front of you: empty floor.\\nYou carry nothing."``
    """
    grid, visible = level.gen_obs_grid()
    x, y = grid.width // 2, grid.height - 1  # the agent, facing up in its own view
    seen = []
    for j in range(grid.height - 1, -1, -1):
        for i in range(grid.width):
            thing = grid.get(i, j)
            if visible[i, j] and (i, j) != (x, y) and thing is not None and thing.type != "wall":
                seen.append(f"{_name(thing)} {_where(y - j, i - x)}")
    front = grid.get(x, y - 1)
    sentences = [
        f"You see {', '.join(seen)}." if seen else "You see no objects.",
        f"In front of you: {_name(front) if front is not None else 'empty floor'}.",
        f"You carry {_name(level.carrying)}." if level.carrying is not None else "You carry nothing.",
    ]
    return "\n".join(sentences)


def babyai_bot_oracle(env: gym.Env, seed: int) -> list[str]:
    """Suite oracle for `BabyAITextEnv`: reset to task `seed` and play minigrid's BabyAI bot to the end."""
    from minigrid.utils.baby_ai_bot import BabyAIBot

    env.reset(seed=seed)
    level = env.unwrapped.level
    bot = BabyAIBot(level)
    actions: list[str] = []
    done = False
    while not done and len(actions) < level.max_steps:
        action = ACTIONS[bot.replan()]
        actions.append(action)
        _, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    return actions


def _name(thing: Any) -> str:
    if thing.type == "wall":
        return "a wall"
    if thing.type == "door":
        state = "locked" if thing.is_locked else "open" if thing.is_open else "closed"
        return f"a {state} {thing.color} door"
    return f"a {thing.color} {thing.type}"


def _where(forward: int, right: int) -> str:
    parts = []
    if forward:
        parts.append(f"{forward} {'step' if forward == 1 else 'steps'} forward")
    if right:
        parts.append(
            f"{abs(right)} {'step' if abs(right) == 1 else 'steps'} {'right' if right > 0 else 'left'}"
        )
    return " and ".join(parts)


def _import_minigrid() -> None:
    try:
        import minigrid  # noqa: F401  (importing it registers the BabyAI levels)
    except ImportError as error:
        raise ImportError(
            'BabyAI environments need the `minigrid` package: pip install "evolver[babyai]"'
        ) from error
