"""The contract, executable: `check_env` lists what keeps an environment from being an evolver environment.

It runs Gymnasium's own `check_env`, then evolver's checks: prose `Text` spaces, the info keys,
an inadmissible action that is harmless and flagged, `info["success"]` at the end of an episode,
and the task chosen by the seed. Each problem says what is wrong and what to change.
"""

from __future__ import annotations

import random
import re
import string
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from evolver.envs.registration import make

INVALID_ACTION = "xyzzy plugh"
"""The action the checker sends to see how an environment treats an inadmissible one."""

_PROSE_SAMPLE = frozenset(string.ascii_letters + string.digits + " .,;:!?'\"-()\n")
_GYMNASIUM_NOISE = ("different from the unwrapped version", "Not able to test alternative render modes")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check_env(
    env_or_id: gym.Env | str, *, episodes: int = 3, max_steps: int = 200, seed: int = 0
) -> list[str]:
    """Check an environment against evolver's contract; return the problems (empty when it complies).

    Args:
        env_or_id: An environment, or an id to make (``module:EnvId`` imports the module first).
        episodes: How many episodes to play with random admissible actions.
        max_steps: The most steps an episode may take before it counts as never ending.
        seed: The first task seed the checks use.

    Returns:
        One message per problem, each saying what is wrong and what to change.

    Example:
        >>> check_env("evolver/FrozenLake-v0")
        []
    """
    if episodes < 1:
        raise ValueError(f"Expected `episodes` to be positive, got {episodes}.")
    env = make(env_or_id) if isinstance(env_or_id, str) else env_or_id
    problems = _space_problems(env) + _gymnasium_problems(env)
    problems += _guarded("reset()", _reset_problems, env, seed)
    problems += _guarded("Resetting twice with one seed", _determinism_problems, env, seed)
    problems += _guarded("The inadmissible-action check", _invalid_action_problems, env, seed)
    problems += _guarded(
        "Playing random admissible actions", _episode_problems, env, seed, episodes, max_steps
    )
    if isinstance(env_or_id, str):
        env.close()
    return list(dict.fromkeys(problems))


def _guarded(what: str, check: Callable[..., list[str]], env: gym.Env, *args: Any) -> list[str]:
    """Run one check; an exception the environment raises becomes a problem, not a crash."""
    try:
        return check(env, *args)
    except Exception as error:  # the env under test may raise anything: that is what is reported
        return [f"{what} raised {type(error).__name__}: {error}. Fix the environment so it does not raise."]


def _space_problems(env: gym.Env) -> list[str]:
    problems = []
    for name in ("observation_space", "action_space"):
        space = getattr(env, name)
        if not isinstance(space, spaces.Text):
            problems.append(
                f"`{name}` is {space}, expected a gymnasium.spaces.Text: use `evolver.envs.text_space(max_length)`."
            )
        elif missing := sorted(_PROSE_SAMPLE - space.character_set):
            problems.append(
                f"`{name}` is a Text space whose charset lacks {''.join(missing)!r}, so prose does not fit: "
                "use `evolver.envs.text_space(max_length)`."
            )
    return problems


def _gymnasium_problems(env: gym.Env) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gymnasium_check_env(env, skip_render_check=env.spec is None, skip_close_check=env.spec is None)
        except Exception as error:  # Gymnasium's checker reports by raising: that is its verdict
            return [f"Gymnasium's check_env failed: {type(error).__name__}: {_plain(error)}"]
    messages = [_plain(warning.message) for warning in caught if "WARN:" in str(warning.message)]
    return [
        f"Gymnasium's check_env warns: {message}"
        for message in messages
        if not any(noise in message for noise in _GYMNASIUM_NOISE)
    ]


def _reset_problems(env: gym.Env, seed: int) -> list[str]:
    observation, info = env.reset(seed=seed)
    problems = _info_problems(info, f"reset(seed={seed})", ended=False)
    if not isinstance(observation, str):
        problems.append(
            f"reset(seed={seed}) returned a {type(observation).__name__} observation, expected a str: "
            "render the state as text."
        )
    return problems


def _determinism_problems(env: gym.Env, seed: int) -> list[str]:
    first_observation, first = env.reset(seed=seed)
    second_observation, second = env.reset(seed=seed)
    same = {
        "observations": first_observation == second_observation,
        "tasks": first.get("task") == second.get("task"),
        "admissible actions": first.get("admissible_actions") == second.get("admissible_actions"),
    }
    return [
        f"reset(seed={seed}) twice gave different {what}: build the task only from the seed "
        "(call `super().reset(seed=seed)` and draw from `self.np_random`, never from a global random state)."
        for what, equal in same.items()
        if not equal
    ]


def _invalid_action_problems(env: gym.Env, seed: int) -> list[str]:
    _, info = env.reset(seed=seed)
    admissible = info.get("admissible_actions")
    fix = "An inadmissible action must change nothing, return reward 0 and set info['invalid_action'] = True."
    try:
        observation, reward, terminated, _, after = env.step(INVALID_ACTION)
    except Exception as error:  # raising is exactly the problem this check exists to report
        return [f"step({INVALID_ACTION!r}) raised {type(error).__name__}: {error}. {fix}"]
    problems = []
    if after.get("invalid_action") is not True:
        problems.append(f"step({INVALID_ACTION!r}) did not set info['invalid_action'] = True. {fix}")
    if not isinstance(observation, str) or "invalid" not in observation.lower():
        problems.append(
            f"step({INVALID_ACTION!r}) returned an observation that does not say the action was invalid: "
            f'say so, e.g. "Invalid action {INVALID_ACTION!r}. Valid actions: ...".'
        )
    if reward != 0:
        problems.append(f"step({INVALID_ACTION!r}) returned reward {reward}, expected 0. {fix}")
    if terminated:
        problems.append(f"step({INVALID_ACTION!r}) ended the episode. {fix}")
    if after.get("admissible_actions") != admissible:
        problems.append(f"step({INVALID_ACTION!r}) changed the admissible actions. {fix}")
    if problems or not admissible:
        return problems
    return _state_change_problems(env, seed, admissible[0], fix)


def _state_change_problems(env: gym.Env, seed: int, action: str, fix: str) -> list[str]:
    """The same admissible action must do the same thing right after reset and after an invalid action."""
    env.reset(seed=seed)
    direct = env.step(action)[:3]
    env.reset(seed=seed)
    env.step(INVALID_ACTION)
    after_invalid = env.step(action)[:3]
    if direct != after_invalid:
        return [
            f"step({INVALID_ACTION!r}) changed the state: {action!r} then gave a different result than right "
            f"after reset(seed={seed}). {fix}"
        ]
    return []


def _episode_problems(env: gym.Env, seed: int, episodes: int, max_steps: int) -> list[str]:
    rng = random.Random(seed)
    for episode_seed in range(seed, seed + episodes):
        _, info = env.reset(seed=episode_seed)
        for step in range(1, max_steps + 1):
            admissible = info.get("admissible_actions")
            if not admissible or not isinstance(admissible, list):
                return _info_problems(
                    info, f"step {step - 1} of the episode with seed {episode_seed}", ended=False
                )
            action = rng.choice(admissible)
            _, _, terminated, truncated, info = env.step(action)
            ended = terminated or truncated
            where = f"step({action!r}) at step {step} of the episode with seed {episode_seed}"
            problems = _info_problems(info, where, ended=ended)
            if info.get("invalid_action"):
                problems.append(
                    f"{where} flagged an admissible action as invalid: set info['invalid_action'] = False "
                    "for every action in info['admissible_actions']."
                )
            if ended:
                problems += _success_problems(info, episode_seed, truncated and not terminated)
            if problems:
                return problems
            if ended:
                break
        else:
            return [
                f"The episode with seed {episode_seed} did not end within {max_steps} random admissible steps: "
                "register the environment with `max_episode_steps`, or pass a larger `max_steps`."
            ]
    return []


def _info_problems(info: dict[str, Any], where: str, *, ended: bool) -> list[str]:
    problems = []
    task = info.get("task")
    if not isinstance(task, str) or not task.strip():
        problems.append(
            f"info from {where} has no `task`: add info['task'], the goal in words (a non-empty str)."
        )
    admissible = info.get("admissible_actions")
    if "admissible_actions" not in info:
        problems.append(
            f"info from {where} has no `admissible_actions`: add info['admissible_actions'], "
            "the list of valid action strings now."
        )
    elif not isinstance(admissible, list) or not all(isinstance(action, str) for action in admissible):
        problems.append(
            f"info['admissible_actions'] from {where} is {type(admissible).__name__} {admissible!r:.80}, "
            "expected a list of str."
        )
    elif not admissible and not ended:
        problems.append(
            f"info['admissible_actions'] from {where} is empty before the episode ended: "
            "list at least one valid action, or end the episode."
        )
    return problems


def _success_problems(info: dict[str, Any], seed: int, truncated: bool) -> list[str]:
    success = info.get("success")
    if isinstance(success, bool):
        return []
    if "success" not in info:
        why = (
            " It was cut by the step limit: put info['success'] in every step's info (False until the task "
            "is done), since a time limit ends episodes without asking the environment."
            if truncated
            else ""
        )
        return [
            f"info at the end of the episode with seed {seed} has no `success`: add info['success'] (a bool).{why}"
        ]
    kind = type(success)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return [
        f"info['success'] at the end of the episode with seed {seed} is {name} {success!r}, "
        "expected a bool: wrap it, bool(...)."
    ]


def _plain(message: Any) -> str:
    return _ANSI.sub("", str(message)).removeprefix("WARN: ").strip()
