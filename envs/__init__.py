"""evolver's environments: text games on Gymnasium, the contract they follow, and task suites.

The contract
------------
An evolver environment is a `gymnasium.Env` such that:

1. Its observation and action spaces are `gymnasium.spaces.Text` with a charset that admits
   prose: letters, digits, spaces, punctuation, newlines (`text_space(max_length)` makes one).
2. `reset()` and `step()` return `info["task"]` (the goal, in words) and
   `info["admissible_actions"]` (a list of str: the valid actions now).
3. When an episode ends (terminated or truncated), `info["success"]` is a bool. (Put it in every
   step's info, False until the task is done, so a time limit's truncation also reports it.)
4. An action outside the admissible list changes nothing: the observation says it was invalid
   ("Invalid action 'jump'. Valid actions: ..."), `info["invalid_action"]` is True, the reward
   is 0, and the step counts toward the step limit. It never raises.
5. The task is chosen by the seed: `reset(seed=s)` builds task `s`, the same every time.
6. It passes Gymnasium's `gymnasium.utils.env_checker.check_env`.

`check_env(env_or_id)` checks all of this and returns the problems, each with its fix
(`evolver envs check ID` on the command line). `TextEnv` is an optional base class that does
the bookkeeping; `DiscreteTextEnv` turns a discrete Gymnasium env into a text one.

Registering environments and suites
-----------------------------------
Environments live on Gymnasium's own registry. A package declares the module that registers
its environments under the ``evolver.envs`` entry-point group; evolver imports it on first use
(`make`, `list_envs`, `get_suite`)::

    # mygame/envs.py
    from evolver.envs import TaskSuite, register, register_suite

    register("mygame/Maze-v0", entry_point="mygame.maze:MazeEnv", max_episode_steps=50)
    register_suite(TaskSuite("maze", "mygame/Maze-v0", train_seeds=range(1000),
                             heldout_seeds=range(10_000, 10_100)))

    # pyproject.toml
    [project.entry-points."evolver.envs"]
    mygame = "mygame.envs"

Without an entry point, ``make("mygame.envs:mygame/Maze-v0")`` imports the module first, as
`gymnasium.make` does.

Example:
    >>> from evolver.envs import make
    >>> env = make("evolver/FrozenLake-v0")
    >>> observation, info = env.reset(seed=0)
    >>> observation, reward, terminated, truncated, info = env.step(info["admissible_actions"][0])
"""

from evolver.envs.checker import check_env
from evolver.envs.core import PROSE_CHARSET, TextEnv, text_space
from evolver.envs.registration import discover, env_spec, list_envs, make, make_vec, register
from evolver.envs.suites import TaskSuite, get_suite, list_suites, register_suite
from evolver.envs.toy_text import DiscreteTextEnv

__all__ = [
    "PROSE_CHARSET",
    "DiscreteTextEnv",
    "TaskSuite",
    "TextEnv",
    "check_env",
    "discover",
    "env_spec",
    "get_suite",
    "list_envs",
    "list_suites",
    "make",
    "make_vec",
    "register",
    "register_suite",
    "text_space",
]
