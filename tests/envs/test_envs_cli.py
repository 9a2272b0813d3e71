"""`evolver envs list` and `evolver envs check`, run as a user runs them."""

import json
import sys
import textwrap

import gymnasium as gym
import pytest
from typer.testing import CliRunner

from evolver.envs.cli import app

runner = CliRunner()


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's package on sys.path whose import registers a broken env (no admissible actions)."""
    (tmp_path / "cli_user_envs.py").write_text(
        textwrap.dedent(
            """
            import gymnasium as gym
            from evolver.envs import register, text_space

            class Mute(gym.Env):
                observation_space = text_space(100)
                action_space = text_space(20)

                def reset(self, *, seed=None, options=None):
                    super().reset(seed=seed)
                    return "Nothing here.", {"task": "Wait."}

                def step(self, action):
                    return "Nothing here.", 0.0, True, False, {"task": "Wait.", "success": False}

            register("cliuser/Mute-v0", entry_point=Mute, max_episode_steps=5)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "cli_user_envs"
    sys.modules.pop("cli_user_envs", None)
    gym.registry.pop("cliuser/Mute-v0", None)


def test_list_shows_envs_and_suites():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "evolver/FrozenLake-v0" in result.output and "frozenlake-4x4" in result.output


def test_list_json_is_machine_readable():
    result = runner.invoke(app, ["list", "--json"])
    listing = json.loads(result.output)
    lake = next(env for env in listing["envs"] if env["id"] == "evolver/FrozenLake-v0")
    assert lake["max_episode_steps"] == 20 and lake["kwargs"] == {"size": 4}
    suite = next(suite for suite in listing["suites"] if suite["name"] == "taxi")
    assert suite == {
        "name": "taxi",
        "env_id": "evolver/Taxi-v0",
        "env_kwargs": {},
        "train_seeds": 10_000,
        "heldout_seeds": 200,
        "max_episode_steps": None,
        "oracle": True,
        "description": "Taxi pick-up and drop-off; 300 start states, so held-out seeds repeat training tasks.",
    }


def test_list_imports_a_users_module(user_module):
    result = runner.invoke(app, ["list", "--json", "--import", user_module])
    assert "cliuser/Mute-v0" in [env["id"] for env in json.loads(result.output)["envs"]]


def test_check_passes_a_shipped_env():
    result = runner.invoke(app, ["check", "evolver/FrozenLake-v0"])
    assert result.exit_code == 0
    assert result.output == "evolver/FrozenLake-v0 meets evolver's environment contract.\n"


def test_check_numbers_the_problems_and_exits_1(user_module):
    result = runner.invoke(app, ["check", f"{user_module}:cliuser/Mute-v0"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{user_module}:cliuser/Mute-v0 does not meet evolver's environment contract:"
    assert lines[1] == (
        "  1. info from reset(seed=0) has no `admissible_actions`: add info['admissible_actions'], "
        "the list of valid action strings now."
    )


def test_check_an_unknown_id_exits_2_with_a_suggestion():
    result = runner.invoke(app, ["check", "evolver/Taxi-v1"])
    assert result.exit_code == 2
    assert "Did you mean `evolver/Taxi-v0`?" in result.output
