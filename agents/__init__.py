"""Agents that act, recall, reflect and remember: the LangGraph `Agent`, its presets and policies.

Example:
    >>> from evolver.agents import Agent
    >>> from evolver.agents.policies import load_policy
    >>> run = Agent(load_policy("default")).run("evolver/FrozenLake-v0", seeds=range(4))  # doctest: +SKIP
"""

from evolver.agents.graph import Agent, AgentRun, AgentState, Episode, RunRequest
from evolver.agents.recall import PRESETS
from evolver.agents.reflection import distill_insights, heuristic_reflection, judge_trajectories, reflect

__all__ = [
    "PRESETS",
    "Agent",
    "AgentRun",
    "AgentState",
    "Episode",
    "RunRequest",
    "distill_insights",
    "heuristic_reflection",
    "judge_trajectories",
    "reflect",
]
