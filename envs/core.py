"""The text-environment contract in code: prose `Text` spaces and `TextEnv`, the base the adapters share.

`TextEnv` does the contract's bookkeeping (spaces, the task seed, inadmissible actions, the info
keys) so an adapter only says how to start a task, what is admissible and what an action does.
An environment does not have to subclass it: the contract is what `evolver.envs.check_env` checks.
"""

from __future__ import annotations

import abc
import string
from typing import Any

import gymnasium as gym
from gymnasium import spaces

PROSE_CHARSET: frozenset[str] = frozenset(
    string.ascii_letters + string.digits + string.punctuation + " \n\t" + "’‘“”–—…éèàçüöäñ°"
)
"""Letters, digits, ASCII punctuation, space, newline and tab, plus common typographic characters."""

MAX_OBSERVATION_LENGTH = 8192
MAX_ACTION_LENGTH = 256
_ECHOED_ACTION_LENGTH = 60


def text_space(max_length: int = MAX_OBSERVATION_LENGTH, min_length: int = 0) -> spaces.Text:
    """Return a `gymnasium.spaces.Text` that admits ordinary prose (see `PROSE_CHARSET`).

    Example:
        >>> space = text_space(64)
        >>> "You are at row 1, column 2.\\nLeft: wall." in space
        True
    """
    return spaces.Text(max_length, min_length=min_length, charset=PROSE_CHARSET)


def to_prose(text: str, max_length: int = MAX_OBSERVATION_LENGTH) -> str:
    """Drop the characters `PROSE_CHARSET` lacks and cut `text` to `max_length` characters."""
    return "".join(char for char in text if char in PROSE_CHARSET)[:max_length]


class TextEnv(gym.Env[str, str], abc.ABC):
    """Base of evolver's text environments: the contract's bookkeeping, the game left to subclasses.

    A subclass implements three methods:

    - `_start(task_seed) -> (task, observation)`: build task `task_seed` and return its goal and
      first observation;
    - `_admissible_actions() -> list[str]`: the valid actions now;
    - `_act(action) -> (observation, reward, terminated, success)`: apply an admissible action.

    `TextEnv` handles the rest: `reset(seed=s)` builds task `s` (a seedless reset draws the task
    seed from `np_random`), an inadmissible action changes nothing and is answered with an
    "Invalid action" observation, and the infos carry `task`, `admissible_actions`, and on
    `step` also `invalid_action` and `success` (on every step, so that an episode cut by a time
    limit also reports it).

    Args:
        max_observation_length: The longest observation the observation space admits.
        max_action_length: The longest action the action space admits.
        render_mode: ``"ansi"`` to have `render()` return the last observation, or None.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        *,
        max_observation_length: int = MAX_OBSERVATION_LENGTH,
        max_action_length: int = MAX_ACTION_LENGTH,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"Expected `render_mode` to be one of {self.metadata['render_modes']} or None, got {render_mode!r}."
            )
        self.observation_space = text_space(max_observation_length)
        self.action_space = text_space(max_action_length, min_length=1)
        self.render_mode = render_mode
        self.task = ""
        self._observation = ""
        self._success = False

    @abc.abstractmethod
    def _start(self, task_seed: int) -> tuple[str, str]:
        """Build task `task_seed`; return its goal in words and the first observation."""

    @abc.abstractmethod
    def _admissible_actions(self) -> list[str]:
        """Return the valid actions in the current state."""

    @abc.abstractmethod
    def _act(self, action: str) -> tuple[str, float, bool, bool]:
        """Apply an admissible action; return observation, reward, terminated and success."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        task_seed = seed if seed is not None else int(self.np_random.integers(2**31 - 1))
        self.task, observation = self._start(task_seed)
        self._observation = to_prose(observation, self.observation_space.max_length)
        self._success = False
        return self._observation, {"task": self.task, "admissible_actions": self._admissible_actions()}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        admissible = self._admissible_actions()
        if action not in admissible:
            return self._invalid(action, admissible), 0.0, False, False, self._info(admissible, invalid=True)
        observation, reward, terminated, success = self._act(action)
        self._observation = to_prose(observation, self.observation_space.max_length)
        self._success = bool(success)
        return (
            self._observation,
            float(reward),
            bool(terminated),
            False,
            self._info(self._admissible_actions()),
        )

    def render(self) -> str | None:
        return self._observation if self.render_mode == "ansi" else None

    def _info(self, admissible: list[str], invalid: bool = False) -> dict[str, Any]:
        return {
            "task": self.task,
            "admissible_actions": list(admissible),
            "invalid_action": invalid,
            "success": self._success,
        }

    def _invalid(self, action: Any, admissible: list[str]) -> str:
        shown = repr(action)
        if len(shown) > _ECHOED_ACTION_LENGTH:
            shown = shown[: _ECHOED_ACTION_LENGTH - 3] + "..."
        message = f"Invalid action {shown}. Valid actions: {', '.join(admissible)}.\n{self._observation}"
        return to_prose(message, self.observation_space.max_length)
