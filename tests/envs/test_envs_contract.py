"""The shipped environments meet the contract; registration and `make` behave like Gymnasium's."""

import re
import sys

import gymnasium as gym
import pytest
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv

from evolver.envs import TextEnv, check_env, list_envs, make, make_vec, register, text_space
from evolver.envs.toy_text import FROZEN_LAKE_TASK, render_frozen_lake

FAST_IDS = [
    "evolver/FrozenLake-v0",
    "evolver/FrozenLake8x8-v0",
    "evolver/Taxi-v0",
    "evolver/CliffWalking-v0",
    "evolver/BabyAI-GoToRedBall-v0",
    "evolver/BabyAI-GoToLocal-v0",
    "evolver/BabyAI-PickupLoc-v0",
]
TEXTWORLD_IDS = ["evolver/TextWorld-Coin-v0", "evolver/TextWorld-Treasure-v0", "evolver/TextWorld-Cooking-v0"]


def test_every_shipped_id_is_tested():
    assert set(list_envs()) >= set(FAST_IDS + TEXTWORLD_IDS)


@pytest.mark.parametrize("env_id", FAST_IDS)
def test_shipped_env_meets_the_contract(env_id):
    assert check_env(env_id) == []


@pytest.mark.slow
@pytest.mark.parametrize("env_id", TEXTWORLD_IDS)
def test_textworld_env_meets_the_contract(env_id, request, monkeypatch):
    # Games are deterministic by (kind, level, seed), so pytest's cache may keep them between runs.
    monkeypatch.setenv("EVOLVER_CACHE", str(request.config.cache.mkdir("evolver")))
    # Every new seed generates a game (seconds): seed 123 is one Gymnasium's checker plays anyway.
    assert check_env(env_id, episodes=1, seed=123) == []


def test_frozen_lake_observation_is_the_documented_text():
    env = make("evolver/FrozenLake-v0")
    observation, info = env.reset(seed=0)
    assert observation == (
        "P . . .\n"
        "H H . .\n"
        ". H H .\n"
        "H . . G\n"
        "You are at row 1, column 1. The goal is 3 rows down and 3 columns right.\n"
        "Left: wall. Right: frozen. Up: wall. Down: hole."
    )
    assert info["task"] == "Walk on the frozen lake from S to the goal G without falling into a hole."
    assert info["admissible_actions"] == ["down", "right"]
    observation, reward, terminated, truncated, info = env.step("right")
    assert observation.splitlines()[0] == "S P . ."
    assert observation.splitlines()[4:] == [
        "You are at row 1, column 2. The goal is 3 rows down and 2 columns right.",
        "Left: start. Right: frozen. Up: wall. Down: hole.",
    ]
    assert info["admissible_actions"] == ["left", "down", "right"]
    assert (reward, terminated, truncated, info["success"]) == (0.0, False, False, False)


@pytest.mark.parametrize(
    ("state", "line"),
    [
        (10, "You are at row 3, column 3. The goal is 1 row down and 1 column right."),
        (13, "You are at row 4, column 2. The goal is 2 columns right."),
        (7, "You are at row 2, column 4. You fell into a hole."),
        (3, "You are at row 1, column 4. The goal is 3 rows down."),
        (15, "You are at row 4, column 4. You reached the goal."),
    ],
)
def test_frozen_lake_says_where_the_goal_is_in_words(state, line):
    lake = FrozenLakeEnv(desc=["SFFF", "FHFH", "FFFH", "HFFG"], is_slippery=False)
    lake.s = state
    assert render_frozen_lake(lake).splitlines()[4] == line


def test_frozen_lake_hole_ends_the_episode_without_success():
    env = make("evolver/FrozenLake-v0")
    env.reset(seed=0)
    env.step("right")
    observation, reward, terminated, _, info = env.step("down")
    assert "You fell into a hole." in observation
    assert (reward, terminated, info["success"]) == (0.0, True, False)


def test_frozen_lake_goal_ends_the_episode_with_success():
    env = make("evolver/FrozenLake-v0")
    env.reset(seed=0)
    for action in ["right", "right", "right", "down", "down"]:
        env.step(action)
    observation, reward, terminated, _, info = env.step("down")
    assert "You reached the goal." in observation
    assert (reward, terminated, info["success"]) == (1.0, True, True)


@pytest.mark.parametrize(
    "env_id", ["evolver/FrozenLake-v0", "evolver/Taxi-v0", "evolver/BabyAI-GoToRedBall-v0"]
)
def test_invalid_action_changes_nothing_and_counts_toward_the_step_limit(env_id):
    env = make(env_id, max_episode_steps=2)
    observation, info = env.reset(seed=5)
    again, reward, terminated, truncated, after = env.step("jump")
    assert again.startswith(f"Invalid action 'jump'. Valid actions: {', '.join(info['admissible_actions'])}.")
    assert again.endswith(observation)
    assert (reward, terminated, truncated, after["invalid_action"]) == (0.0, False, False, True)
    *_, truncated, after = env.step("jump")
    assert truncated and after["success"] is False


@pytest.mark.parametrize("env_id", FAST_IDS)
def test_the_seed_chooses_the_task(env_id):
    env = make(env_id)
    first = [env.reset(seed=seed)[0] for seed in range(4)]
    again = [env.reset(seed=seed)[0] for seed in range(4)]
    assert first == again


def test_random_maps_differ_between_seeds():
    env = make("evolver/FrozenLake8x8-v0")
    assert len({env.reset(seed=seed)[0] for seed in range(10)}) == 10


class CountdownEnv(gym.Env):
    """A user's env written only from the contract: say the numbers down to zero."""

    def __init__(self, start: int = 3):
        self.observation_space = text_space(200)
        self.action_space = text_space(50)
        self.start = start

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.count = self.start + int(self.np_random.integers(3))
        return f"The number is {self.count}.", self._info()

    def step(self, action):
        if action not in self._info()["admissible_actions"]:
            info = {**self._info(), "invalid_action": True, "success": False}
            return f"Invalid action {action!r}. Valid actions: {self.count - 1}.", 0.0, False, False, info
        self.count -= 1
        done = self.count == 0
        info = {**self._info(), "invalid_action": False, "success": done}
        return f"The number is {self.count}.", float(done), done, False, info

    def _info(self):
        return {"task": "Count down to zero.", "admissible_actions": [str(self.count - 1)]}


def test_a_user_env_registers_and_runs_through_gymnasium_make():
    register("testuser/Countdown-v0", entry_point=CountdownEnv, max_episode_steps=10)
    assert "testuser/Countdown-v0" in list_envs()
    env = gym.make("testuser/Countdown-v0", start=1)
    observation, info = env.reset(seed=0)
    while True:
        observation, reward, terminated, truncated, info = env.step(info["admissible_actions"][0])
        if terminated or truncated:
            break
    assert info["success"] is True
    assert check_env("testuser/Countdown-v0") == []


@pytest.mark.parametrize(
    ("env_id", "module", "extra"),
    [
        ("evolver/TextWorld-Coin-v0", "textworld", "textworld"),
        ("evolver/BabyAI-GoToRedBall-v0", "minigrid", "babyai"),
    ],
)
def test_a_missing_extra_names_what_to_install(env_id, module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    with pytest.raises(ImportError, match=re.escape(f'pip install "evolver[{extra}]"')):
        make(env_id)


def test_module_form_imports_the_module_first():
    env = make("evolver.envs.builtin:evolver/Taxi-v0")
    assert env.spec.id == "evolver/Taxi-v0"


def test_unknown_id_suggests_the_nearest():
    message = (
        "Unknown environment `evolver/FrozenLak-v0`. Did you mean `evolver/FrozenLake-v0`? Run `evolver envs list` "
        "to see evolver's environments, or pass `module:EnvId` to import the module that registers it."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        make("evolver/FrozenLak-v0")


def test_unimportable_module_is_a_value_error():
    with pytest.raises(
        ValueError, match=re.escape("Expected `no_such_pkg` in `no_such_pkg:Game-v0` to be an importable")
    ):
        make("no_such_pkg:Game-v0")


def test_make_vec_steps_text_envs_together():
    envs = make_vec("evolver/FrozenLake-v0", num_envs=2)
    observations, infos = envs.reset(seed=[0, 1])
    assert len(observations) == 2 and all(isinstance(o, str) for o in observations)
    actions = tuple(admissible[0] for admissible in infos["admissible_actions"])
    observations, rewards, terminated, truncated, infos = envs.step(actions)
    assert list(infos["task"]) == [FROZEN_LAKE_TASK] * 2
    assert infos["success"].tolist() == [False, False]


def test_text_env_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        TextEnv()
