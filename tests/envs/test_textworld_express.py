"""TextWorldExpress games under evolver's contract: one JVM, the benchmark's folds, its gold path."""

import random
import re
import sys

import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from evolver.envs import check_env, get_suite
from evolver.envs import textworld_express as twx
from evolver.envs.textworld_express import FOLD_SEEDS, TextWorldExpressEnv

SUITES = ["twx-twc-1room", "twx-coin-5rooms", "twx-cookingworld-1room"]


def play(env, seed: int, steps: int = 10, choice_seed: int = 0) -> list[tuple]:
    """Reset to `seed` and play random admissible actions; return everything the env said."""
    rng = random.Random(choice_seed)
    observation, info = env.reset(seed=seed)
    seen = [(observation, info)]
    for _ in range(steps):
        result = env.step(rng.choice(info["admissible_actions"]))
        seen.append(result)
        info = result[-1]
        if result[2] or result[3]:
            break
    return seen


@pytest.mark.parametrize("name", SUITES)
def test_twx_suite_meets_the_contract(name):
    env = get_suite(name).make_env()

    assert check_env(env) == []
    gymnasium_check_env(env.unwrapped)


@pytest.mark.parametrize(
    "env_id", ["evolver/TWX-TWC-v0", "evolver/TWX-Coin-v0", "evolver/TWX-CookingWorld-v0"]
)
def test_twx_env_with_the_games_default_parameters_meets_the_contract(env_id):
    assert check_env(env_id) == []


@pytest.mark.parametrize("name", SUITES)
def test_twx_suite_acts_on_the_train_fold_and_holds_out_the_test_fold(name):
    suite = get_suite(name)
    game = suite.make_env().unwrapped._game  # the benchmark's own fold lists, from the JVM

    assert list(FOLD_SEEDS["train"]) == list(game.getSeedsTrain()) == list(suite.train_seeds)
    assert list(FOLD_SEEDS["dev"]) == list(game.getSeedsDev())
    assert list(FOLD_SEEDS["test"]) == list(game.getSeedsTest()) == list(suite.heldout_seeds)
    assert suite.max_episode_steps == 20


@pytest.mark.parametrize("name", SUITES)
def test_twx_oracle_solves_held_out_tasks_the_same_way_every_time(name):
    suite = get_suite(name)
    env = suite.make_env()
    for seed in suite.heldout_seeds[:5]:
        solution = suite.oracle_actions(seed)
        env.reset(seed=seed)
        for action in solution:
            _, _, terminated, truncated, info = env.step(action)
            assert not info["invalid_action"]

        assert terminated and not truncated and info["success"], (seed, solution)
        assert suite.oracle_actions(seed) == solution


def test_twx_shortest_actions_leave_the_episode_as_it_was():
    suite = get_suite("twx-coin-5rooms")
    searched, untouched = suite.make_env(), suite.make_env()
    for env in (searched, untouched):
        _, info = env.reset(seed=20_002)
        env.step(info["admissible_actions"][0])

    assert searched.unwrapped.shortest_actions() is not None
    assert searched.step("look around") == untouched.step("look around")


@pytest.mark.parametrize("name", SUITES)
def test_twx_task_is_chosen_by_the_seed(name):
    suite = get_suite(name)
    first, second = suite.make_env(), suite.make_env()

    assert play(first, 20_007) == play(second, 20_007)
    assert play(first, 20_007)[0] != play(first, 20_008)[0]


def test_twx_seed_outside_the_folds_plays_a_train_task():
    env = get_suite("twx-twc-1room").make_env()

    assert play(env, 1_234) == play(env, 234)
    assert play(env, 20_000 + 234)[0] != play(env, 234)[0]


def test_twx_envs_in_one_process_play_independent_games():
    suite = get_suite("twx-coin-5rooms")
    alone = [play(suite.make_env(), seed, choice_seed=seed) for seed in (20_001, 20_002)]
    first, second = suite.make_env(), suite.make_env()
    rngs = [random.Random(20_001), random.Random(20_002)]
    together = [[env.reset(seed=seed)] for env, seed in zip((first, second), (20_001, 20_002), strict=True)]

    for _ in range(10):  # interleaved: first, second, first, ...
        for env, seen, rng in zip((first, second), together, rngs, strict=True):
            if len(seen) > 1 and (seen[-1][2] or seen[-1][3]):
                continue
            seen.append(env.step(rng.choice(seen[-1][-1]["admissible_actions"])))

    assert together == alone


def test_twx_invalid_action_changes_nothing():
    env = get_suite("twx-cookingworld-1room").make_env()
    observation, info = env.reset(seed=20_003)
    gold = env.unwrapped.gold_actions()

    reply, reward, terminated, truncated, step_info = env.step("eat the fridge")

    assert step_info["invalid_action"] and reward == 0.0 and not terminated
    assert reply.startswith("Invalid action 'eat the fridge'. Valid actions: ")
    assert step_info["admissible_actions"] == info["admissible_actions"]
    assert env.unwrapped.gold_actions() == gold


def test_twx_unknown_game_suggests_the_nearest():
    message = "Expected `game` to be one of ['twc', 'coin', 'cookingworld'], got 'cooking'. Did you mean `cookingworld`?"

    with pytest.raises(ValueError, match=re.escape(message)):
        TextWorldExpressEnv("cooking")


def test_twx_unknown_parameter_lists_the_known_ones():
    message = (
        "TextWorldExpress rejected the parameters of `coin`: Unrecognized property name (numRooms). "
        "Known properties: numLocations, numDistractorItems, includeDoors, limitInventorySize."
    )

    with pytest.raises(ValueError, match=re.escape(message)):
        TextWorldExpressEnv("coin", numRooms=3)


def test_twx_parameter_must_be_an_int():
    with pytest.raises(
        TypeError, match=re.escape("Expected game parameter `numLocations` to be an int, got '5'.")
    ):
        TextWorldExpressEnv("coin", numLocations="5")


def test_twx_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(twx, "_gateway", None)
    monkeypatch.setitem(sys.modules, "textworld_express", None)
    monkeypatch.setitem(sys.modules, "textworld_express.constants", None)
    message = 'TextWorldExpress environments need the `textworld-express` package: pip install "evolver[twx]"'

    with pytest.raises(ImportError, match=re.escape(message)):
        TextWorldExpressEnv("twc")


def test_twx_missing_java_says_what_to_install(monkeypatch):
    monkeypatch.setattr(twx, "_gateway", None)
    monkeypatch.setenv("PATH", "")
    message = "TextWorldExpress runs on Java, and no `java` is on the PATH."

    with pytest.raises(RuntimeError, match=re.escape(message)):
        TextWorldExpressEnv("twc")


def test_twx_solutions_need_a_task_first():
    env = TextWorldExpressEnv("twc")

    with pytest.raises(
        ValueError, match=re.escape("Expected a task to solve: call `reset(seed=...)` first.")
    ):
        env.gold_actions()
