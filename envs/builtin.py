"""The environments and suites evolver ships; importing this module registers them all.

evolver's own ``pyproject.toml`` declares this module under the ``evolver.envs`` entry-point
group, so discovery imports it like any third-party package's module. The TextWorld and BabyAI
ids are registered even without their extras; making one without them says what to install.
"""

from __future__ import annotations

import evolver.envs.textworld_express  # noqa: F401  (registers the TextWorldExpress ids and suites)
from evolver.envs.babyai import babyai_bot_oracle
from evolver.envs.registration import register
from evolver.envs.suites import TaskSuite, register_suite
from evolver.envs.textworld import textworld_walkthrough_oracle
from evolver.envs.toy_text import lake_split_seeds, shortest_path_oracle

# ---- toy text -----------------------------------------------------------------------------------

register(
    "evolver/FrozenLake-v0", "evolver.envs.toy_text:FrozenLakeText", kwargs={"size": 4}, max_episode_steps=20
)
register(
    "evolver/FrozenLake8x8-v0",
    "evolver.envs.toy_text:FrozenLakeText",
    kwargs={"size": 8},
    max_episode_steps=60,
)
register("evolver/Taxi-v0", "evolver.envs.toy_text:TaxiText", max_episode_steps=50)
register("evolver/CliffWalking-v0", "evolver.envs.toy_text:CliffWalkingText", max_episode_steps=50)

register_suite(
    lambda: TaskSuite(
        name="frozenlake-4x4",
        env_id="evolver/FrozenLake-v0",
        train_seeds=lake_split_seeds(range(10_000), heldout=False),
        heldout_seeds=lake_split_seeds(range(100_000, 200_000), heldout=True, count=200),
        oracle=shortest_path_oracle,
        description="Random 4x4 lakes; held-out maps never appear in training (split by map).",
    ),
    name="frozenlake-4x4",  # built on first use: splitting 10,000 seeds by map takes a moment
)
register_suite(
    TaskSuite(
        name="frozenlake-8x8",
        env_id="evolver/FrozenLake8x8-v0",
        train_seeds=range(10_000),
        heldout_seeds=range(100_000, 100_200),
        oracle=shortest_path_oracle,
        description="Random 8x8 lakes (every seed a different map), 60 steps.",
    )
)
register_suite(
    TaskSuite(
        name="taxi",
        env_id="evolver/Taxi-v0",
        train_seeds=range(10_000),
        heldout_seeds=range(100_000, 100_200),
        oracle=shortest_path_oracle,
        description="Taxi pick-up and drop-off; 300 start states, so held-out seeds repeat training tasks.",
    )
)
register_suite(
    TaskSuite(
        name="cliffwalking",
        env_id="evolver/CliffWalking-v0",
        train_seeds=range(10_000),
        heldout_seeds=range(100_000, 100_200),
        oracle=shortest_path_oracle,
        description="CliffWalking's one fixed 4x12 map, 50 steps: a test of exploration, not of transfer.",
    )
)

# ---- TextWorld (extra: evolver[textworld]) -------------------------------------------------------

register(
    "evolver/TextWorld-Coin-v0",
    "evolver.envs.textworld:TextWorldEnv",
    kwargs={"kind": "coin", "level": 5},
    max_episode_steps=30,
)
register(
    "evolver/TextWorld-Treasure-v0",
    "evolver.envs.textworld:TextWorldEnv",
    kwargs={"kind": "treasure", "level": 10},
    max_episode_steps=30,
)
register(
    "evolver/TextWorld-Cooking-v0",
    "evolver.envs.textworld:TextWorldEnv",
    kwargs={"kind": "cooking", "level": 1},
    max_episode_steps=50,
)

for _name, _env_id, _description in [
    (
        "textworld-coin",
        "evolver/TextWorld-Coin-v0",
        "TextWorld coin collector, level 5 (5 rooms in a chain).",
    ),
    (
        "textworld-treasure",
        "evolver/TextWorld-Treasure-v0",
        "TextWorld treasure hunter, level 10 (5 rooms, the longest easy quests).",
    ),
    ("textworld-cooking", "evolver/TextWorld-Cooking-v0", "TextWorld cooking, one room, one ingredient."),
]:
    register_suite(
        TaskSuite(
            name=_name,
            env_id=_env_id,
            train_seeds=range(1_000),
            heldout_seeds=range(100_000, 100_020),
            oracle=textworld_walkthrough_oracle,
            description=_description + " About 3.5 s to generate each new game (cached on disk).",
        )
    )

# ---- BabyAI (extra: evolver[babyai]) ------------------------------------------------------------

register(
    "evolver/BabyAI-GoToRedBall-v0",
    "evolver.envs.babyai:BabyAITextEnv",
    kwargs={"level": "BabyAI-GoToRedBall-v0"},
    max_episode_steps=64,
)
register(
    "evolver/BabyAI-GoToLocal-v0",
    "evolver.envs.babyai:BabyAITextEnv",
    kwargs={"level": "BabyAI-GoToLocal-v0"},
    max_episode_steps=64,
)
register(
    "evolver/BabyAI-PickupLoc-v0",
    "evolver.envs.babyai:BabyAITextEnv",
    kwargs={"level": "BabyAI-PickupLoc-v0"},
    max_episode_steps=64,
)

for _name, _env_id, _description in [
    ("babyai-gotoredball", "evolver/BabyAI-GoToRedBall-v0", "BabyAI: go to the red ball among distractors."),
    ("babyai-gotolocal", "evolver/BabyAI-GoToLocal-v0", "BabyAI: go to a named object in one room."),
    ("babyai-pickuploc", "evolver/BabyAI-PickupLoc-v0", "BabyAI: pick up an object described by place."),
]:
    register_suite(
        TaskSuite(
            name=_name,
            env_id=_env_id,
            train_seeds=range(10_000),
            heldout_seeds=range(100_000, 100_200),
            oracle=babyai_bot_oracle,
            description=_description,
        )
    )
