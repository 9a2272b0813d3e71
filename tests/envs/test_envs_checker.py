"""`check_env` finds each kind of breakage and says what to change."""

import itertools

import gymnasium as gym
import numpy as np
import pytest

from evolver.envs import check_env, text_space

TASK = "Walk right to the end of the corridor."


class Corridor(gym.Env):
    """A contract-abiding env, written from the contract alone: walk right `length` times."""

    def __init__(self, length: int = 3):
        self.observation_space = text_space(500)
        self.action_space = text_space(50)
        self.length = length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = int(self.np_random.integers(2))
        return self._observe(), self._info()

    def step(self, action):
        if action not in self._admissible():
            observation = f"Invalid action {action!r}. Valid actions: {', '.join(self._admissible())}."
            return observation, 0.0, False, False, {**self._info(), "invalid_action": True, "success": False}
        self.position += 1 if action == "right" else -1
        done = self.position == self.length
        return (
            self._observe(),
            float(done),
            done,
            False,
            {**self._info(), "invalid_action": False, "success": done},
        )

    def _observe(self):
        return f"You are {self.length - self.position} steps from the end."

    def _admissible(self):
        return ["left", "right"] if self.position > 0 else ["right"]

    def _info(self):
        return {"task": TASK, "admissible_actions": self._admissible()}


class NoAdmissibleActions(Corridor):
    def _info(self):
        return {"task": TASK}


class DiscreteObservations(Corridor):
    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Discrete(10)


class DigitsOnlyActions(Corridor):
    def __init__(self):
        super().__init__()
        self.action_space = gym.spaces.Text(5, charset="0123456789")


class RaisesOnInvalidAction(Corridor):
    def step(self, action):
        if action not in self._admissible():
            raise ValueError(f"unknown action {action!r}")
        return super().step(action)


class SilentInvalidAction(Corridor):
    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        info.pop("invalid_action")
        return observation, reward, terminated, truncated, info


class InvalidActionMovesOn(Corridor):
    def step(self, action):
        result = super().step(action)
        if result[-1]["invalid_action"]:
            self.position += 1
        return result


class SuccessOnlyWhenDone(Corridor):
    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        if not terminated:
            info.pop("success")
        return observation, reward, terminated, truncated, info


class NumpySuccess(Corridor):
    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        return observation, reward, terminated, truncated, {**info, "success": np.bool_(info["success"])}


_resets = itertools.count()


class ResetIgnoresTheSeed(Corridor):
    def reset(self, *, seed=None, options=None):
        observation, info = super().reset(seed=seed)
        self.length = 3 + next(_resets) % 2
        return self._observe(), info


def test_a_contract_abiding_env_has_no_problems():
    assert check_env(Corridor()) == []


def test_registered_with_a_step_limit_it_still_passes():
    gym.register("testchecker/Corridor-v0", entry_point=Corridor, kwargs={"length": 50}, max_episode_steps=10)
    assert check_env("testchecker/Corridor-v0") == []


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            NoAdmissibleActions(),
            "info from reset(seed=0) has no `admissible_actions`: add info['admissible_actions'], "
            "the list of valid action strings now.",
        ),
        (
            DiscreteObservations(),
            "`observation_space` is Discrete(10), expected a gymnasium.spaces.Text: "
            "use `evolver.envs.text_space(max_length)`.",
        ),
        (
            DigitsOnlyActions(),
            "`action_space` is a Text space whose charset lacks '\\n !\"\\'(),-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "abcdefghijklmnopqrstuvwxyz', so prose does not fit: use `evolver.envs.text_space(max_length)`.",
        ),
        (
            RaisesOnInvalidAction(),
            "step('xyzzy plugh') raised ValueError: unknown action 'xyzzy plugh'. An inadmissible action must "
            "change nothing, return reward 0 and set info['invalid_action'] = True.",
        ),
        (
            SilentInvalidAction(),
            "step('xyzzy plugh') did not set info['invalid_action'] = True. An inadmissible action must "
            "change nothing, return reward 0 and set info['invalid_action'] = True.",
        ),
        (
            InvalidActionMovesOn(),
            "step('xyzzy plugh') changed the state: 'left' then gave a different result than right after "
            "reset(seed=0). An inadmissible action must change nothing, return reward 0 and set "
            "info['invalid_action'] = True.",
        ),
        (
            NumpySuccess(),
            "info['success'] at the end of the episode with seed 0 is numpy.bool np.True_, expected a bool: "
            "wrap it, bool(...).",
        ),
        (
            ResetIgnoresTheSeed(),
            "reset(seed=0) twice gave different observations: build the task only from the seed (call "
            "`super().reset(seed=seed)` and draw from `self.np_random`, never from a global random state).",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, gym.Env) else "",
)
def test_each_breakage_is_named_with_its_fix(env, problem):
    assert problem in check_env(env)


def test_missing_success_after_a_time_limit_says_to_report_it_on_every_step():
    gym.register(
        "testchecker/SuccessOnlyWhenDone-v0",
        entry_point=SuccessOnlyWhenDone,
        kwargs={"length": 50},
        max_episode_steps=5,
    )
    assert check_env("testchecker/SuccessOnlyWhenDone-v0") == [
        "info at the end of the episode with seed 0 has no `success`: add info['success'] (a bool). It was cut by "
        "the step limit: put info['success'] in every step's info (False until the task is done), since a time "
        "limit ends episodes without asking the environment."
    ]


def test_an_episode_that_never_ends_is_reported():
    problems = check_env(Corridor(length=10_000), max_steps=20)
    assert problems == [
        "The episode with seed 0 did not end within 20 random admissible steps: register the environment with "
        "`max_episode_steps`, or pass a larger `max_steps`."
    ]


class ResetSkipsSuper(Corridor):
    def reset(self, *, seed=None, options=None):
        self.position = 0
        return self._observe(), self._info()


def test_gymnasium_failures_are_reported_too():
    assert check_env(ResetSkipsSuper()) == [
        "Gymnasium's check_env failed: AssertionError: Expects the random number generator to have been generated "
        "given a seed was passed to reset. Most likely the environment reset function does not call "
        "`super().reset(seed=seed)`."
    ]
