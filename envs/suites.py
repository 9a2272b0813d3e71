"""Task suites: an environment, the seeds to learn on, the held-out seeds to evaluate on, and an oracle.

Suites live in a name -> `TaskSuite` table filled by the same discovery as the environments
(``evolver.envs`` entry points), so a package that registers an env can ship its suite beside it.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from evolver.envs.registration import discover, make

Oracle = Callable[[gym.Env, int], list[str] | None]
"""``oracle(env, seed)``: reset `env` to task `seed` and return actions that solve it, or None."""

_SUITES: dict[str, TaskSuite | Callable[[], TaskSuite]] = {}


@dataclass(frozen=True)
class TaskSuite:
    """A benchmark: an environment id, its kwargs, disjoint train and held-out seeds, an optional oracle.

    Held-out seeds are tasks never trained on: `train_seeds` and `heldout_seeds` must not overlap.

    Args:
        name: The suite's name (``"frozenlake-4x4"``).
        env_id: The environment id (or ``module:EnvId``).
        train_seeds: Seeds of the tasks to act and learn on.
        heldout_seeds: Seeds of the tasks to evaluate on.
        env_kwargs: Keyword arguments for the environment.
        max_episode_steps: Step limit; None keeps the registered one.
        oracle: ``oracle(env, seed) -> list[str] | None``, actions that solve task `seed`.
        description: One line saying what the suite measures.

    Example:
        >>> suite = TaskSuite("lake", "evolver/FrozenLake-v0", range(0, 100), range(1000, 1010))
        >>> env = suite.make_env()
        >>> observation, info = env.reset(seed=suite.heldout_seeds[0])
    """

    name: str
    env_id: str
    train_seeds: Sequence[int]
    heldout_seeds: Sequence[int]
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    oracle: Oracle | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("train_seeds", "heldout_seeds"):
            if len(getattr(self, name)) == 0:
                raise ValueError(
                    f"Expected `{name}` of suite `{self.name}` to hold at least one seed, got none."
                )
        shared = sorted(set(self.train_seeds) & set(self.heldout_seeds))
        if shared:
            raise ValueError(
                f"Expected `train_seeds` and `heldout_seeds` of suite `{self.name}` to be disjoint, got "
                f"{len(shared)} seeds in both (e.g. {shared[:5]}). Held-out tasks must never be trained on: "
                "remove them from `train_seeds`."
            )
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"Expected `max_episode_steps` to be positive, got {self.max_episode_steps}.")

    def make_env(self, **kwargs: Any) -> gym.Env:
        """Make the suite's environment; `kwargs` override `env_kwargs`."""
        if self.max_episode_steps is not None:
            kwargs.setdefault("max_episode_steps", self.max_episode_steps)
        return make(self.env_id, **{**self.env_kwargs, **kwargs})

    def oracle_actions(self, seed: int) -> list[str] | None:
        """Return actions that solve task `seed`, or None when the suite has no oracle or it finds none."""
        if self.oracle is None:
            return None
        env = self.make_env()
        try:
            return self.oracle(env, seed)
        finally:
            env.close()

    def oracle_success(self, seeds: Sequence[int]) -> float | None:
        """Return the fraction of tasks `seeds` that the oracle's actions solve, replayed in the suite's env.

        None when the suite has no oracle.
        """
        if self.oracle is None:
            return None
        _check_seeds(seeds)
        env = self.make_env()
        try:
            return sum(_replay(env, seed, self.oracle(env, seed) or []) for seed in seeds) / len(seeds)
        finally:
            env.close()

    def random_success(self, seeds: Sequence[int], *, seed: int = 0) -> float:
        """Return the fraction of tasks `seeds` solved by choosing uniformly among the admissible actions.

        Args:
            seeds: The task seeds to play, one episode each.
            seed: Seed of the random choices.
        """
        _check_seeds(seeds)
        rng = random.Random(seed)
        env = self.make_env()
        try:
            return sum(_play_randomly(env, task_seed, rng) for task_seed in seeds) / len(seeds)
        finally:
            env.close()


def _check_seeds(seeds: Sequence[int]) -> None:
    if len(seeds) == 0:
        raise ValueError("Expected `seeds` to hold at least one task seed, got none.")


def _replay(env: gym.Env, seed: int, actions: list[str]) -> bool:
    """Play `actions` on task `seed` until the episode ends; return whether it succeeded."""
    env.reset(seed=seed)
    for action in actions:
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return info["success"]
    return False


def _play_randomly(env: gym.Env, seed: int, rng: random.Random) -> bool:
    """Play task `seed` with uniformly random admissible actions to the end; return whether it succeeded."""
    _, info = env.reset(seed=seed)
    while True:
        _, _, terminated, truncated, info = env.step(rng.choice(info["admissible_actions"]))
        if terminated or truncated:
            return info["success"]


def register_suite(suite: TaskSuite | Callable[[], TaskSuite], *, name: str | None = None) -> None:
    """Add a suite, replacing one of the same name.

    Args:
        suite: The suite, or a function that builds it on first `get_suite` (for suites whose
            seeds take time to compute, so that discovery stays fast).
        name: The suite's name; required with a function, which must build a suite of that name.

    Example:
        >>> register_suite(TaskSuite("lake-small", "evolver/FrozenLake-v0", range(100), range(100, 120)))
    """
    if isinstance(suite, TaskSuite):
        _SUITES[suite.name] = suite
    elif name is None:
        raise TypeError(
            "Expected `name` with a suite-building function: register_suite(build, name='my-suite')."
        )
    else:
        _SUITES[name] = suite


def get_suite(name: str) -> TaskSuite:
    """Return the suite called `name` (building it on first use if it was registered as a function).

    Raises:
        ValueError: No such suite; the message names the nearest one.
    """
    discover()
    if name not in _SUITES:
        nearest = difflib.get_close_matches(name, list(_SUITES), n=1)
        hint = f" Did you mean `{nearest[0]}`?" if nearest else ""
        raise ValueError(f"Unknown suite `{name}`.{hint} Run `evolver envs list` to see the suites.")
    suite = _SUITES[name]
    if not isinstance(suite, TaskSuite):
        suite = suite()
        if suite.name != name:
            raise ValueError(
                f"Expected the function registered as suite `{name}` to build `{name}`, got `{suite.name}`."
            )
        _SUITES[name] = suite
    return suite


def list_suites() -> list[str]:
    """Return the names of the registered suites, sorted."""
    discover()
    return sorted(_SUITES)
