"""TextWorldExpress games as evolver environments (extra: ``pip install "evolver[twx]"``).

TextWorldExpress (Jansen & Côté, 2022) reimplements TextWorld-style games in Java, running
thousands of steps per second: prose observations, a task description, the valid actions of
every step, a gold path, and the benchmark's own train/dev/test folds of 1000 seeds each.

One JVM (about 300-500 MB) serves the whole process: it starts on the first environment made and
every environment gets its own game in it, so any number of environments can be stepped
together. The seed chooses the game in the benchmark's own numbering: seeds 0-999 are the train
fold, 10000-10999 the dev fold and 20000-20999 the test fold, so a suite acts on train seeds
and evaluates on test seeds. Any other seed `s` plays train seed `s % 1000`.

Importing this module registers `evolver/TWX-TWC-v0`, `evolver/TWX-Coin-v0` and
`evolver/TWX-CookingWorld-v0` (the games' default parameters, 50 steps) and the suites
`twx-twc-1room`, `twx-coin-5rooms` and `twx-cookingworld-1room` (20 steps).
"""

from __future__ import annotations

import difflib
import json
import shutil
import threading
from collections import deque
from typing import Any

import gymnasium as gym

from evolver.envs.core import MAX_OBSERVATION_LENGTH, TextEnv
from evolver.envs.registration import register
from evolver.envs.suites import TaskSuite, register_suite

GAMES = ("twc", "coin", "cookingworld")
"""The TextWorldExpress games this adapter ships: TextWorld Common Sense, Coin Collector, CookingWorld."""

FOLD_SEEDS = {"train": range(0, 1_000), "dev": range(10_000, 11_000), "test": range(20_000, 21_000)}
"""The benchmark's folds as TextWorldExpress numbers their seeds."""

_gateway: Any = None
_gateway_lock = threading.Lock()


class TextWorldExpressEnv(TextEnv):
    """A TextWorldExpress game: its task description as the task, its valid actions as the admissible ones.

    The reward is the increase of the game's normalised score (0 to 1); an episode ends when the
    task succeeds or fails (e.g. eating an unprepared meal), and `info["success"]` is the game's
    own verdict.

    Args:
        game: ``"twc"``, ``"coin"`` or ``"cookingworld"``.
        max_observation_length: The longest observation the observation space admits.
        render_mode: ``"ansi"`` or None.
        **game_params: The game's generation parameters, named as TextWorldExpress names them
            (``numLocations``, ``numItemsToPutAway``, ``numIngredients``, ``numDistractorItems``,
            ``includeDoors``, ``limitInventorySize``); unset ones keep the game's defaults.

    Example:
        >>> env = TextWorldExpressEnv("twc", numLocations=1, numItemsToPutAway=1)
        >>> observation, info = env.reset(seed=20_000)  # the first game of the test fold
        >>> env.unwrapped.gold_actions()[:2]
        ['look around', 'take notebook']
    """

    def __init__(
        self,
        game: str = "twc",
        max_observation_length: int = MAX_OBSERVATION_LENGTH,
        render_mode: str | None = None,
        **game_params: int,
    ) -> None:
        if game not in GAMES:
            nearest = difflib.get_close_matches(game, GAMES, n=1)
            hint = f" Did you mean `{nearest[0]}`?" if nearest else ""
            raise ValueError(f"Expected `game` to be one of {list(GAMES)}, got {game!r}.{hint}")
        for name, value in game_params.items():
            if not isinstance(value, int):
                raise TypeError(f"Expected game parameter `{name}` to be an int, got {value!r}.")
        super().__init__(max_observation_length=max_observation_length, render_mode=render_mode)
        self.game = game
        self.game_params = dict(game_params)
        self._params = ",".join(f"{name}={int(value)}" for name, value in game_params.items())
        self._game = self._new_game()
        self._task = (0, "train")  # the game's seed and fold
        self._state: dict[str, Any] = {}
        self._gold: list[str] = []

    def gold_actions(self) -> list[str]:
        """Return the benchmark's gold path for the current task, from its start (after `reset`).

        Where the task needs exploring several rooms, TextWorldExpress finds this path by a
        random walk it does not seed: it then differs from one reset to the next, and may be
        long. `shortest_actions` is the deterministic alternative.
        """
        self._check_started()
        return list(self._gold)

    def shortest_actions(self, max_steps: int | None = None) -> list[str] | None:
        """Return a shortest solution of the current task from its start: None if none has `max_steps` steps.

        A breadth-first search over the game's states, told apart by what the agent sees and
        carries, each reached by replaying its actions in a game of its own, so the episode is
        left as it is.
        Deterministic; affordable where few actions are valid (coin: about 7), not in CookingWorld.
        """
        self._check_started()
        search = self._new_game()

        def replay(actions: list[str]) -> dict[str, Any]:
            state = json.loads(search.generateNewGameJSON(*self._task, False))
            for action in actions:
                state = json.loads(search.stepJSON(action))
            return state

        start = replay([])
        seen = {(start["look"], start["inventory"])}
        frontier = deque([[]])
        while frontier:
            path = frontier.popleft()
            if max_steps is not None and len(path) >= max_steps:
                continue
            for action in replay(path)["validActions"]:
                state = replay([*path, action])
                if state["tasksuccess"]:
                    return [*path, action]
                if not state["taskfailure"] and (state["look"], state["inventory"]) not in seen:
                    seen.add((state["look"], state["inventory"]))
                    frontier.append([*path, action])
        return None

    def _new_game(self) -> Any:
        game = _jvm().jvm.textworldexpress.runtime.PythonInterface()
        # TextWorldExpress checks the parameters here and answers with what it knows.
        message = game.load(self.game, self._params)
        if message:
            raise ValueError(
                f"TextWorldExpress rejected the parameters of `{self.game}`: {' '.join(message.split())}"
            )
        return game

    def _check_started(self) -> None:
        if not self._state:
            raise ValueError("Expected a task to solve: call `reset(seed=...)` first.")

    def _start(self, task_seed: int) -> tuple[str, str]:
        self._task = _fold_seed(task_seed)
        # Generating the gold path with the game costs well under a millisecond.
        self._state = json.loads(self._game.generateNewGameJSON(*self._task, True))
        self._gold = list(self._game.getGoldActionSequence())
        return self._game.getTaskDescription(), self._state["observation"]

    def _admissible_actions(self) -> list[str]:
        return list(self._state["validActions"])

    def _act(self, action: str) -> tuple[str, float, bool, bool]:
        score = self._state["score"]
        self._state = json.loads(self._game.stepJSON(action))
        success = bool(self._state["tasksuccess"])
        return (
            self._state["observation"],
            self._state["score"] - score,
            success or self._state["taskfailure"],
            success,
        )


def gold_path_oracle(env: gym.Env, seed: int) -> list[str]:
    """Oracle of the one-room suites: TextWorldExpress's own gold path for task `seed`."""
    env.reset(seed=seed)
    return env.unwrapped.gold_actions()


def shortest_path_oracle(env: gym.Env, seed: int) -> list[str] | None:
    """Oracle where the gold path is a random walk (several rooms): a shortest solution, by search."""
    env.reset(seed=seed)
    return env.unwrapped.shortest_actions(env.spec.max_episode_steps)


def _fold_seed(task_seed: int) -> tuple[int, str]:
    for fold, seeds in FOLD_SEEDS.items():
        if task_seed in seeds:
            return task_seed, fold
    return task_seed % len(FOLD_SEEDS["train"]), "train"


def _jvm() -> Any:
    """Start the process's one TextWorldExpress JVM on first use, and return its py4j gateway."""
    global _gateway
    with _gateway_lock:
        if _gateway is None:
            _gateway = _launch()
        return _gateway


def _launch() -> Any:
    try:
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
        from textworld_express.constants import BASEPATH, JAR_PATH
    except ImportError as error:
        raise ImportError(
            'TextWorldExpress environments need the `textworld-express` package: pip install "evolver[twx]"'
        ) from error
    if shutil.which("java") is None:
        raise RuntimeError(
            "TextWorldExpress runs on Java, and no `java` is on the PATH. Install a Java runtime "
            "(11 or newer, e.g. `apt-get install default-jre-headless`)."
        )
    # die_on_exit: the JVM ends with this process.
    port, process = launch_gateway(classpath=JAR_PATH, die_on_exit=True, cwd=BASEPATH, return_proc=True)
    return JavaGateway(gateway_parameters=GatewayParameters(auto_field=True, port=port), java_process=process)


# ---- registration -------------------------------------------------------------------------------

for _env_id, _game in [
    ("evolver/TWX-TWC-v0", "twc"),
    ("evolver/TWX-Coin-v0", "coin"),
    ("evolver/TWX-CookingWorld-v0", "cookingworld"),
]:
    register(
        _env_id,
        "evolver.envs.textworld_express:TextWorldExpressEnv",
        kwargs={"game": _game},
        max_episode_steps=50,
    )

for _name, _env_id, _params, _oracle, _description in [
    (
        "twx-twc-1room",
        "evolver/TWX-TWC-v0",
        {"numLocations": 1, "numItemsToPutAway": 1},
        gold_path_oracle,
        "TextWorld Common Sense: put one object where it belongs, one room.",
    ),
    (
        "twx-coin-5rooms",
        "evolver/TWX-Coin-v0",
        {"numLocations": 5},
        shortest_path_oracle,
        "Coin Collector: find the coin in 5 rooms with doors.",
    ),
    (
        "twx-cookingworld-1room",
        "evolver/TWX-CookingWorld-v0",
        {"numLocations": 1},
        gold_path_oracle,
        "CookingWorld: read the recipe, prepare 3 ingredients, eat the meal; one room.",
    ),
]:
    register_suite(
        TaskSuite(
            name=_name,
            env_id=_env_id,
            train_seeds=FOLD_SEEDS["train"],
            heldout_seeds=FOLD_SEEDS["test"],
            env_kwargs=_params,
            max_episode_steps=20,
            oracle=_oracle,
            description=_description + " Train fold to act on, test fold held out; 20 steps.",
        )
    )
