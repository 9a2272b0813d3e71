"""Task suites: disjoint seeds, unseen held-out maps, oracles that solve their tasks, teaching lookups."""

import re

import pytest

import evolver.envs.suites
from evolver.envs import TaskSuite, get_suite, list_suites, register_suite
from evolver.envs.toy_text import lake_map

TOY_SUITES = ["frozenlake-4x4", "frozenlake-8x8", "taxi", "cliffwalking"]
SHIPPED_SUITES = TOY_SUITES + [
    "textworld-coin",
    "textworld-treasure",
    "textworld-cooking",
    "babyai-gotoredball",
    "babyai-gotolocal",
    "babyai-pickuploc",
]


def test_shipped_suites_are_listed():
    assert set(list_suites()) >= set(SHIPPED_SUITES)


@pytest.mark.parametrize("name", SHIPPED_SUITES)
def test_suite_seeds_are_disjoint(name):
    suite = get_suite(name)
    assert not set(suite.train_seeds) & set(suite.heldout_seeds)
    assert len(suite.heldout_seeds) > 0


def test_frozen_lake_held_out_maps_never_appear_in_training():
    suite = get_suite("frozenlake-4x4")
    training_maps = {lake_map(seed) for seed in suite.train_seeds}
    heldout_maps = {lake_map(seed) for seed in suite.heldout_seeds}
    assert len(suite.train_seeds) > 8_000 and len(suite.heldout_seeds) == 200
    assert not training_maps & heldout_maps


def test_oracle_solves_every_held_out_frozen_lake_it_returns_a_path_for():
    suite = get_suite("frozenlake-4x4")
    env = suite.make_env()
    solved = 0
    for seed in suite.heldout_seeds:
        actions = suite.oracle_actions(seed)
        if actions is None:
            continue
        env.reset(seed=seed)
        for action in actions:
            _, _, terminated, truncated, info = env.step(action)
        assert terminated and info["success"], f"the oracle's path for seed {seed} does not reach the goal"
        solved += 1
    assert solved == len(suite.heldout_seeds)  # every generated map has a path


@pytest.mark.parametrize(
    "name", ["frozenlake-8x8", "taxi", "cliffwalking", "babyai-gotoredball", "babyai-pickuploc"]
)
def test_oracle_solves_held_out_tasks(name):
    suite = get_suite(name)
    assert suite.oracle_success(suite.heldout_seeds[:5]) == 1.0


def test_random_success_is_seeded_and_below_the_oracle():
    suite = get_suite("frozenlake-4x4")
    seeds = suite.heldout_seeds[:50]
    assert suite.random_success(seeds, seed=1) == suite.random_success(seeds, seed=1) < 0.5


def test_overlapping_seeds_are_refused():
    message = (
        "Expected `train_seeds` and `heldout_seeds` of suite `leaky` to be disjoint, got 5 seeds in both "
        "(e.g. [5, 6, 7, 8, 9]). Held-out tasks must never be trained on: remove them from `train_seeds`."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        TaskSuite("leaky", "evolver/FrozenLake-v0", train_seeds=range(10), heldout_seeds=range(5, 20))


def test_a_suite_without_an_oracle_returns_none():
    suite = TaskSuite("plain", "evolver/FrozenLake-v0", train_seeds=range(10), heldout_seeds=range(10, 20))
    assert suite.oracle_actions(10) is None
    assert suite.oracle_success([10, 11]) is None


def test_suite_kwargs_and_step_limit_reach_the_env():
    suite = TaskSuite(
        "short-8x8",
        "evolver/FrozenLake-v0",
        range(10),
        range(10, 20),
        env_kwargs={"size": 8},
        max_episode_steps=7,
    )
    env = suite.make_env()
    observation, _ = env.reset(seed=0)
    assert len(observation.splitlines()) == 8 + 2
    assert env.spec.max_episode_steps == 7


@pytest.fixture
def scratch_suites(monkeypatch):
    """Suites registered by a test vanish after it."""
    get_suite("taxi")  # discover the shipped suites first
    monkeypatch.setattr(evolver.envs.suites, "_SUITES", dict(evolver.envs.suites._SUITES))


def test_registered_suites_are_found_by_name_and_typos_get_a_suggestion(scratch_suites):
    register_suite(TaskSuite("test-corridor", "evolver/CliffWalking-v0", range(3), range(3, 6)))
    assert get_suite("test-corridor").env_id == "evolver/CliffWalking-v0"
    message = "Unknown suite `frozenlake-4x5`. Did you mean `frozenlake-4x4`? Run `evolver envs list` to see the suites."
    with pytest.raises(ValueError, match=re.escape(message)):
        get_suite("frozenlake-4x5")


def test_a_suite_built_on_first_use_must_carry_its_name(scratch_suites):
    register_suite(lambda: TaskSuite("other", "evolver/Taxi-v0", range(3), range(3, 6)), name="test-lazy")
    message = "Expected the function registered as suite `test-lazy` to build `test-lazy`, got `other`."
    with pytest.raises(ValueError, match=re.escape(message)):
        get_suite("test-lazy")
