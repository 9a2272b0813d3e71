"""Environment steps per second: a bare loop against the full agent, at batch sizes 1, 8 and 32.

The bare loop is the environments plus the same policy scoring (no graph, no memory). The agent
runs the LangGraph graph, without a memory, with a memory that stores every episode and its
reflection (`react`), and with recall too (`expel`, whose prompts are longer by the recalled
context, so the policy itself costs more there). All runs are greedy on the same seeds, so the
bare loop and the agent take the same steps.

    python bench/agent.py            # 64 episodes per batch size (16 at batch size 1)
    python bench/agent.py --quick    # 16 episodes (8 at batch size 1)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bare_loop(policy, env_id: str, seeds: list[int], batch_size: int) -> int:
    """Play the seeds `batch_size` at a time with the policy's scoring only; return the steps taken."""
    from evolver.agents.prompts import build_prompt
    from evolver.envs import make

    steps = 0
    for start in range(0, len(seeds), batch_size):
        live = []
        for seed in seeds[start : start + batch_size]:
            env = make(env_id)
            observation, info = env.reset(seed=seed)
            live.append({"env": env, "task": info["task"], "obs": observation, "info": info, "history": []})
        while live:
            prompts = [
                build_prompt(e["task"], e["obs"], e["info"]["admissible_actions"], e["history"]) for e in live
            ]
            choices = policy.act(prompts, [e["info"]["admissible_actions"] for e in live])
            ended = []
            for episode, choice in zip(live, choices, strict=True):
                episode["obs"], _, terminated, truncated, episode["info"] = episode["env"].step(choice.action)
                episode["history"].append(choice.action)
                steps += 1
                ended.append(terminated or truncated)
            live = [episode for episode, done in zip(live, ended, strict=True) if not done]
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer episodes")
    parser.add_argument("--env", default="evolver/FrozenLake-v0", help="environment id")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()

    import torch

    from evolver.agents import Agent
    from evolver.agents.policies import HFPolicy
    from evolver.agents.policies.default import build_default_policy
    from evolver.memory import ExperienceMemory

    torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="evolver-bench-agent-"))
    policy = HFPolicy(build_default_policy(workdir / "policy"))
    episodes = 16 if args.quick else 64
    rows = []
    for batch_size in (1, 8, 32):
        seeds = list(range(episodes // 2 if batch_size == 1 else episodes))
        timings = {}
        timings["bare"] = _timed(bare_loop, policy, args.env, seeds, batch_size)
        agent = Agent(policy, batch_size=batch_size)
        timings["agent"] = _timed(_agent_steps, agent, args.env, seeds)
        for preset in ("react", "expel"):
            memory = ExperienceMemory(path=workdir / f"memory-{preset}-{batch_size}")
            # Warm the memory (embedding model, collections) and give expel something to recall.
            Agent(policy, memory=memory, batch_size=32).run(args.env, range(1000, 1032), run_id="warm")
            agent = Agent(policy, memory=memory, preset=preset, batch_size=batch_size)
            timings[preset] = _timed(_agent_steps, agent, args.env, seeds)
            memory.close()
        rows.append((batch_size, timings))
    _print(rows, args)


def _agent_steps(agent, env_id: str, seeds: list[int]) -> int:
    return sum(t.length for t in agent.run(env_id, seeds).trajectories)


def _timed(play, *args) -> tuple[int, float]:
    start = time.perf_counter()
    steps = play(*args)
    return steps, time.perf_counter() - start


def _print(rows, args) -> None:
    print(f"env {args.env}, torch threads {args.threads}, greedy, default policy; steps/s (steps taken)")
    header = ["batch", "bare loop", "agent", "agent+memory", "overhead", "agent+memory expel"]
    print(" | ".join(f"{h:>18}" for h in header))
    base_rate = {}
    for batch_size, t in rows:
        rate = {k: steps / seconds for k, (steps, seconds) in t.items()}
        base_rate[batch_size] = rate
        overhead = rate["bare"] / rate["react"] - 1
        cells = [
            str(batch_size),
            f"{rate['bare']:.0f} ({t['bare'][0]})",
            f"{rate['agent']:.0f} ({t['agent'][0]})",
            f"{rate['react']:.0f} ({t['react'][0]})",
            f"{overhead:+.1%}",
            f"{rate['expel']:.0f} ({t['expel'][0]})",
        ]
        print(" | ".join(f"{c:>18}" for c in cells))
    for name in ("bare", "react"):
        speedups = ", ".join(f"{b}: {base_rate[b][name] / base_rate[1][name]:.1f}x" for b in (8, 32))
        print(
            f"speed-up per step over batch 1 ({'bare loop' if name == 'bare' else 'agent+memory'}): {speedups}"
        )


if __name__ == "__main__":
    main()
