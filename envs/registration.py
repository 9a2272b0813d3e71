"""Registration on Gymnasium's own registry, and discovery of the packages that declare environments.

There is no second registry: `register` is `gymnasium.register`, and `make` is `gymnasium.make`
with a teaching error for unknown ids. What evolver adds is discovery: a package declares a
module under the ``evolver.envs`` entry-point group, and evolver imports it (once, on the first
`make`, `list_envs` or suite lookup), so that module's registrations happen.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import gymnasium as gym

ENTRY_POINT_GROUP = "evolver.envs"
NAMESPACE = "evolver"

_declared_ids: set[str] = set()
_discovered = False


def register(id: str, entry_point: str | Callable[..., gym.Env], **kwargs: Any) -> None:
    """Register an environment on Gymnasium's registry and list it among evolver's environments.

    Takes `gymnasium.register`'s arguments (`kwargs=`, `max_episode_steps=`, `nondeterministic=`, ...).

    Example:
        >>> register("mygame/Maze-v0", entry_point="mygame.envs:MazeEnv", max_episode_steps=50)  # doctest: +SKIP
    """
    gym.register(id=id, entry_point=entry_point, **kwargs)
    _declared_ids.add(id)


def discover() -> None:
    """Import every module declared under the ``evolver.envs`` entry-point group (once per process).

    A module that fails to import is reported with a warning and skipped, so one broken plugin
    does not hide the other environments.
    """
    global _discovered
    if _discovered:
        return
    _discovered = True
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        before = set(gym.registry)
        try:
            entry_point.load()
        except Exception as error:  # a broken plugin is recorded and the others still load
            warnings.warn(
                f"Could not load the evolver environments declared as `{entry_point.name} = "
                f"{entry_point.value}`: {type(error).__name__}: {error}. Fix or uninstall that package.",
                stacklevel=2,
            )
            continue
        _declared_ids.update(set(gym.registry) - before)


def list_envs() -> list[str]:
    """Return the ids of the environments that follow evolver's contract, sorted.

    Those are the ids in the ``evolver/`` namespace and the ones declared by other packages
    (through `register` or an ``evolver.envs`` entry point).
    """
    discover()
    ids = {env_id for env_id in gym.registry if env_id.startswith(f"{NAMESPACE}/")}
    return sorted(ids | (_declared_ids & set(gym.registry)))


def env_spec(id: str) -> gym.envs.registration.EnvSpec:
    """Return the `EnvSpec` of `id` (``module:EnvId`` imports the module first).

    Raises:
        ValueError: The id is not registered (with the nearest registered id), or its module
            cannot be imported.
    """
    discover()
    module, _, env_id = id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            raise ValueError(
                f"Expected `{module}` in `{id}` to be an importable module that registers `{env_id}`, "
                f"but importing it failed: {error}. Install the package that provides it, or fix the name."
            ) from error
    try:
        return gym.spec(env_id)
    except gym.error.Error:
        raise ValueError(_unknown_id_message(env_id)) from None


def make(id: str, **kwargs: Any) -> gym.Env:
    """Make an environment by id, like `gymnasium.make`, after discovering declared environments.

    Args:
        id: A registered id (``"evolver/FrozenLake-v0"``) or ``"module:EnvId"`` to import
            `module` first, as `gymnasium.make` does.
        **kwargs: Passed to `gymnasium.make` (`max_episode_steps=`, `render_mode=`, env kwargs).

    Raises:
        ValueError: The id is unknown; the message names the nearest registered id.

    Example:
        >>> env = make("evolver/FrozenLake-v0")
        >>> observation, info = env.reset(seed=0)
        >>> info["admissible_actions"]
        ['down', 'right']
    """
    return gym.make(env_spec(id), **kwargs)


def make_vec(id: str, num_envs: int, **kwargs: Any) -> gym.vector.SyncVectorEnv:
    """Make `num_envs` copies of an environment stepped together (Gymnasium's `SyncVectorEnv`).

    Observations come back as a tuple of strings; each info key as an object array with a
    ``_key`` mask (Gymnasium's vector info convention), so ``infos["admissible_actions"][i]``
    is environment i's list. Episodes reset automatically on the step after they end.

    Example:
        >>> envs = make_vec("evolver/FrozenLake-v0", num_envs=2)
        >>> observations, infos = envs.reset(seed=[0, 1])
        >>> len(observations)
        2
    """
    if num_envs < 1:
        raise ValueError(f"Expected `num_envs` to be positive, got {num_envs}.")
    spec = env_spec(id)
    return gym.vector.SyncVectorEnv([lambda: gym.make(spec, **kwargs) for _ in range(num_envs)])


def _unknown_id_message(env_id: str) -> str:
    ours = list_envs()
    nearest = difflib.get_close_matches(env_id, ours, n=1) or difflib.get_close_matches(
        env_id, list(gym.registry), n=1
    )
    hint = f" Did you mean `{nearest[0]}`?" if nearest else ""
    return (
        f"Unknown environment `{env_id}`.{hint} Run `evolver envs list` to see evolver's environments, "
        "or pass `module:EnvId` to import the module that registers it."
    )
