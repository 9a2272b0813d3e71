"""`evolver eval`: evaluate any saved policy of a run, greedily, on held-out or chosen seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolver.trainers.evolution import resolve_suite
from evolver.trainers.run_dir import RunDir


def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-99"``, ``"3,5,8"`` or a mix (``"0-9,20"``) into a list of seeds.

    Example:
        >>> parse_seeds("0-2,7")
        [0, 1, 2, 7]
    """
    seeds: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            seeds += list(range(int(first), int(last) + 1)) if dash else [int(first)]
        except ValueError:
            raise ValueError(
                f"Expected `seeds` like `0-99` or `3,5,8`, got {text!r} (the part {part.strip()!r} is not a number "
                "or a range)."
            ) from None
    return seeds


def evaluate_run(
    run_dir: str | Path, *, env: str | None = None, seeds: str | None = None, policy: str | None = None
) -> dict[str, Any]:
    """Act greedily with a run's best policy (or `policy`) and return success, return and length.

    Args:
        run_dir: A run folder made by `evolver run`.
        env: A suite or env id; the run's own by default.
        seeds: Seeds as `parse_seeds` reads them; the suite's held-out seeds (as many as the run used)
            by default.
        policy: A policy folder; the run's best policy by default.
    """
    from evolver.agents import Agent
    from evolver.agents.policies import load_policy

    run = RunDir.open(run_dir)
    config = run.read_config()
    lines = run.metrics()
    if policy is None and not lines:
        raise ValueError(f"Run {str(run.path)!r} has no finished generation yet: pass `--policy FOLDER`.")
    suite = resolve_suite(env or config.env)
    chosen = parse_seeds(seeds) if seeds else list(suite.heldout_seeds)[: config.heldout_episodes]
    folder = policy or lines[-1]["best_policy"]
    agent = Agent(load_policy(folder), batch_size=config.envs_per_batch)
    result = agent.run(
        suite.env_id, chosen, env_kwargs=dict(suite.env_kwargs), max_episode_steps=suite.max_episode_steps,
        run_id=run.run_id, split="heldout",
    )  # fmt: skip
    trajectories = result.trajectories
    return {
        "policy": folder,
        "env": suite.name,
        "episodes": len(trajectories),
        "success": result.success_rate,
        "mean_return": sum(t.total_return for t in trajectories) / len(trajectories),
        "mean_length": sum(t.length for t in trajectories) / len(trajectories),
    }
