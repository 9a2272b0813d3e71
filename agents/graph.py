"""The agent: a LangGraph graph that plays a batch of episodes, reflects on them and remembers them.

    reset -> recall -> act -> step --(episodes still live)--> act
                                  \\--(all ended)--> finish -> judge -> reflect -> store

Every node works on the whole batch, so the policy sees a batch of prompts at each step.

Changing the method:
    * Replace a node: subclass `Agent` and override its method (`recall`, `act`, `step`, `finish`,
      `judge`, `reflect`, `store`); the graph calls the methods.
    * Insert a node: override `build_graph`, wiring the nodes yourself::

        class LoggingAgent(Agent):
            def build_graph(self):
                graph = StateGraph(AgentState)
                for name in ("reset", "recall", "act", "step", "finish", "judge", "reflect", "store"):
                    graph.add_node(name, getattr(self, name))
                graph.add_node("log", lambda state: print(len(state["episodes"])) or {})
                graph.add_edge(START, "reset")
                graph.add_edge("reset", "recall")
                graph.add_edge("recall", "act")
                graph.add_edge("act", "step")
                graph.add_edge("step", "log")
                graph.add_conditional_edges("log", self.route, ["act", "finish"])
                for a, b in [("finish", "judge"), ("judge", "reflect"), ("reflect", "store")]:
                    graph.add_edge(a, b)
                graph.add_edge("store", END)
                return graph

    `Agent(...).graph.get_graph().draw_mermaid()` draws the compiled graph.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np

from evolver.agents.policies.base import ActionChoice, Policy
from evolver.agents.prompts import HISTORY_STEPS, build_prompt
from evolver.agents.recall import PRESETS, Preset, fit_context, recall_sections
from evolver.agents.reflection import judge_trajectories, reflect
from evolver.memory.records import Reflection, Split, Step, Trajectory


@dataclass(frozen=True)
class RunRequest:
    """What one `Agent.run` call asked for; every node reads it from the state."""

    env_id: str
    temperature: float
    run_id: str
    generation: int
    split: Split
    env_kwargs: dict[str, Any]
    max_episode_steps: int | None
    policy_name: str
    rng: np.random.Generator


@dataclass
class Episode:
    """One live episode of the batch: its environment and what happened so far."""

    seed: int
    number: int
    env: Any = None
    task: str = ""
    observation: str = ""
    admissible: list[str] = field(default_factory=list)
    context: str = ""
    steps: list[Step] = field(default_factory=list)
    choice: ActionChoice | None = None
    step_limit: int = 0
    done: bool = False
    success: bool = False
    error: str | None = None

    def prompt(self) -> str:
        """The prompt the policy acts on now (the same as `step_prompt` rebuilds later)."""
        history = [step.action for step in self.steps]
        return build_prompt(self.task, self.observation, self.admissible, history, self.context)

    def fail(self, error: str) -> None:
        self.done, self.success, self.error = True, False, error


class AgentState(TypedDict):
    """The graph's state: the request, the batch of episodes, and what the batch produced."""

    request: RunRequest
    episodes: list[Episode]
    trajectories: list[Trajectory]
    reflections: list[Reflection]


@dataclass(frozen=True)
class AgentRun:
    """What `Agent.run` returns: the episodes as trajectories, and the reflections on them."""

    trajectories: list[Trajectory]
    reflections: list[Reflection]

    @property
    def success_rate(self) -> float:
        """The share of episodes that succeeded (0.0 when there were none)."""
        return (
            sum(t.success for t in self.trajectories) / len(self.trajectories) if self.trajectories else 0.0
        )


class Agent:
    """A policy acting on batches of environments, with recall, reflection and memory around it.

    Args:
        policy: Chooses the actions.
        memory: An `ExperienceMemory`; when given, episodes and reflections are stored in it, and
            the preset recalls from it.
        preset: ``"react"``, ``"reflexion"`` or ``"expel"`` (see `evolver.agents.recall`).
        reflector: A policy that writes the reflections; heuristic reflections when None.
        judge: A policy that scores finished episodes and so decides their success, for
            environments whose success is not programmatic.
        judge_threshold: The score out of 10 from which a judged episode counts as a success.
        recall_tokens: The most tokens recalled experience may take in a prompt; it shrinks so
            that prompts stay within the policy's context.
        batch_size: Environments stepped together.

    Example:
        >>> from evolver.agents import Agent
        >>> from evolver.agents.policies import load_policy
        >>> agent = Agent(load_policy("default"))  # doctest: +SKIP
        >>> run = agent.run("evolver/FrozenLake-v0", seeds=range(8))  # doctest: +SKIP
        >>> run.success_rate  # doctest: +SKIP
        0.125
    """

    def __init__(
        self,
        policy: Policy,
        *,
        memory: Any = None,
        preset: Preset = "react",
        reflector: Policy | None = None,
        judge: Policy | None = None,
        judge_threshold: float = 7.0,
        recall_tokens: int = 512,
        batch_size: int = 32,
    ) -> None:
        if preset not in PRESETS:
            close = difflib.get_close_matches(str(preset), PRESETS, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise ValueError(f"Expected `preset` to be one of {list(PRESETS)}, got {preset!r}.{hint}")
        if preset != "react" and memory is None:
            raise ValueError(
                f"The `{preset}` preset recalls from a memory: pass `memory=ExperienceMemory(...)`."
            )
        if batch_size <= 0:
            raise ValueError(f"Expected `batch_size` to be positive, got {batch_size}.")
        self.policy = policy
        self.memory = memory
        self.preset = preset
        self.reflector = reflector
        self.judge_policy = judge
        self.judge_threshold = judge_threshold
        self.recall_tokens = recall_tokens
        self.batch_size = batch_size
        self._graph = None

    @property
    def graph(self):
        """The compiled graph (built by `build_graph` on first use)."""
        if self._graph is None:
            self._graph = self.build_graph().compile()
        return self._graph

    def build_graph(self):
        """The uncompiled LangGraph `StateGraph` of the agent; override to insert nodes."""
        from langgraph.graph import END, START, StateGraph

        graph = StateGraph(AgentState)
        for name in ("reset", "recall", "act", "step", "finish", "judge", "reflect", "store"):
            graph.add_node(name, getattr(self, name))
        graph.add_edge(START, "reset")
        graph.add_edge("reset", "recall")
        graph.add_edge("recall", "act")
        graph.add_edge("act", "step")
        graph.add_conditional_edges("step", self.route, ["act", "finish"])
        graph.add_edge("finish", "judge")
        graph.add_edge("judge", "reflect")
        graph.add_edge("reflect", "store")
        graph.add_edge("store", END)
        return graph

    def run(
        self,
        env_id: str,
        seeds: Sequence[int],
        *,
        temperature: float = 0.0,
        run_id: str = "run",
        generation: int = 0,
        split: Split = "train",
        episode_offset: int = 0,
        env_kwargs: dict[str, Any] | None = None,
        max_episode_steps: int | None = None,
        policy_name: str = "",
        rng: np.random.Generator | None = None,
    ) -> AgentRun:
        """Play one episode per seed, `batch_size` at a time, and return what happened.

        Episode `i` is numbered `episode_offset + i`, so trajectory ids are deterministic.

        Args:
            env_id: An evolver environment id (or ``module:EnvId``).
            seeds: One episode per seed; the seed chooses the task.
            temperature: Sampling temperature of the policy; 0 is greedy.
            run_id: Recorded on every trajectory and reflection.
            generation: Recorded likewise.
            split: ``"train"`` or ``"heldout"``; held-out episodes are never recalled.
            episode_offset: The number of the first episode.
            env_kwargs: Keyword arguments for the environment.
            max_episode_steps: A step limit, instead of the environment's own.
            policy_name: Recorded on trajectories; the policy's name by default.
            rng: Draws the samples at temperature > 0; a fresh generator by default.
        """
        if split not in ("train", "heldout"):
            raise ValueError(f"Expected `split` to be 'train' or 'heldout', got {split!r}.")
        if max_episode_steps is not None and max_episode_steps <= 0:
            raise ValueError(f"Expected `max_episode_steps` to be positive, got {max_episode_steps}.")
        request = RunRequest(
            env_id=env_id,
            temperature=temperature,
            run_id=run_id,
            generation=generation,
            split=split,
            env_kwargs=dict(env_kwargs or {}),
            max_episode_steps=max_episode_steps,
            policy_name=policy_name or self.policy.name,
            rng=rng or np.random.default_rng(),
        )
        seeds = list(seeds)
        trajectories: list[Trajectory] = []
        reflections: list[Reflection] = []
        for start in range(0, len(seeds), self.batch_size):
            episodes = [
                Episode(seed=seed, number=episode_offset + start + i)
                for i, seed in enumerate(seeds[start : start + self.batch_size])
            ]
            state = {"request": request, "episodes": episodes, "trajectories": [], "reflections": []}
            # The loop ends by the step limit of every episode, so LangGraph's own guard is lifted.
            out = self.graph.invoke(state, {"recursion_limit": 1_000_000})
            trajectories += out["trajectories"]
            reflections += out["reflections"]
        return AgentRun(trajectories, reflections)

    # -- nodes ----------------------------------------------------------------------------------

    def reset(self, state: AgentState) -> dict:
        """Make and reset one environment per episode; an environment that fails ends its episode."""
        from evolver.envs import make

        request = state["request"]
        kwargs = dict(request.env_kwargs)
        if request.max_episode_steps is not None:
            kwargs["max_episode_steps"] = request.max_episode_steps
        for episode in state["episodes"]:
            episode.env = make(request.env_id, **kwargs)
            spec = episode.env.spec
            episode.step_limit = request.max_episode_steps or (spec.max_episode_steps if spec else None) or 0
            if not episode.step_limit:
                raise ValueError(
                    f"The environment `{request.env_id}` has no step limit: pass `max_episode_steps`."
                )
            try:
                observation, info = episode.env.reset(seed=episode.seed)
            except Exception as err:  # recorded on the episode; the batch goes on
                episode.fail(f"reset raised {type(err).__name__}: {err}")
                continue
            episode.task = info["task"]
            episode.observation = observation
            episode.admissible = list(info["admissible_actions"])
        return {}

    def recall(self, state: AgentState) -> dict:
        """Put the preset's recalled experience, within the token budget, into every episode's context."""
        if self.preset == "react":
            return {}
        request = state["request"]
        for episode in _live(state):
            bare = build_prompt(
                episode.task,
                episode.observation,
                episode.admissible,
                history=[max(episode.admissible, key=len)] * HISTORY_STEPS,
            )
            # Room for the prompt to grow over the episode (longer observations, more history).
            reserve = 2 * self.policy.count_tokens(bare) + 16
            budget = min(self.recall_tokens, self.policy.max_context_tokens - reserve)
            query = f"{episode.task}\n{episode.observation}"
            sections = recall_sections(self.memory, self.preset, request.env_id, episode.seed, query)
            episode.context = fit_context(sections, budget, self.policy.count_tokens)
        return {}

    def act(self, state: AgentState) -> dict:
        """Ask the policy for an action in every live episode, as one batch."""
        request = state["request"]
        live = _live(state)
        choices = self.policy.act(
            [episode.prompt() for episode in live],
            [episode.admissible for episode in live],
            temperature=request.temperature,
            rng=request.rng,
        )
        for episode, choice in zip(live, choices, strict=True):
            episode.choice = choice
            if choice.action is None:
                episode.fail(choice.error or "The policy chose no action.")
        return {}

    def step(self, state: AgentState) -> dict:
        """Send every chosen action to its environment and record the step."""
        for episode in _live(state):
            choice = episode.choice
            try:
                observation, reward, terminated, truncated, info = episode.env.step(choice.action)
            except Exception as err:  # recorded on the episode; the batch goes on
                episode.fail(f"step raised {type(err).__name__}: {err}")
                continue
            truncated = truncated or len(episode.steps) + 1 >= episode.step_limit
            scalars = {
                k: v.item() if isinstance(v, np.generic) else v
                for k, v in info.items()
                if k not in ("task", "admissible_actions") and _scalar(v)
            }
            if truncated and not terminated:
                scalars["truncated"] = True
            episode.steps.append(
                Step(
                    observation=episode.observation,
                    admissible_actions=tuple(episode.admissible),
                    action=choice.action,
                    reward=float(reward),
                    raw_action=choice.raw,
                    logprob=choice.logprob,
                    info=scalars,
                )
            )
            episode.observation = observation
            episode.admissible = list(info.get("admissible_actions", []))
            if terminated or truncated:
                episode.done, episode.success = True, bool(info.get("success", False))
        return {}

    def route(self, state: AgentState) -> Literal["act", "finish"]:
        """Loop back to `act` while any episode is live."""
        return "act" if _live(state) else "finish"

    def finish(self, state: AgentState) -> dict:
        """Close the environments and turn the episodes into trajectories."""
        request = state["request"]
        trajectories = []
        for episode in state["episodes"]:
            if episode.env is not None:
                episode.env.close()
            trajectories.append(
                Trajectory(
                    env_id=request.env_id,
                    task=episode.task,
                    seed=episode.seed,
                    steps=tuple(episode.steps),
                    success=episode.success,
                    run_id=request.run_id,
                    generation=request.generation,
                    episode=episode.number,
                    split=request.split,
                    policy=request.policy_name,
                    context=episode.context,
                    total_return=sum(step.reward for step in episode.steps),
                    error=episode.error,
                )
            )
        return {"trajectories": trajectories}

    def judge(self, state: AgentState) -> dict:
        """With a judge, score the finished episodes and let the score decide their success."""
        if self.judge_policy is None:
            return {}
        judged = judge_trajectories(state["trajectories"], self.judge_policy, threshold=self.judge_threshold)
        return {"trajectories": judged}

    def reflect(self, state: AgentState) -> dict:
        """Write a reflection on every episode (by the reflector, or heuristic)."""
        return {"reflections": reflect(state["trajectories"], self.reflector)}

    def store(self, state: AgentState) -> dict:
        """Write the trajectories and reflections to the memory, when there is one."""
        if self.memory is not None:
            self.memory.add([*state["trajectories"], *state["reflections"]])
        return {}


def _live(state: AgentState) -> list[Episode]:
    return [episode for episode in state["episodes"] if not episode.done]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str | np.bool_ | np.number)
