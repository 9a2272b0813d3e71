"""The LangGraph agent: episodes through the compiled graph, batching, recall, faults."""

import re

import numpy as np
import pytest
from langgraph.graph import END, START, StateGraph

from evolver.agents import Agent, AgentRun, AgentState
from evolver.agents.prompts import step_prompt
from evolver.memory.records import Insight, Reflection, Step, Trajectory, to_json

ENV_IDS = ["evolver/FrozenLake-v0", "tests-agents/Corridor-v0"]
CORRIDOR = "tests-agents/Corridor-v0"


class Recording:
    """Wraps a policy and keeps every prompt it was asked to act on."""

    def __init__(self, policy):
        self.policy, self.prompts = policy, []
        self.name, self.max_context_tokens = policy.name, policy.max_context_tokens

    def act(self, prompts, actions, **kwargs):
        self.prompts += prompts
        return self.policy.act(prompts, actions, **kwargs)

    def complete(self, prompts, **kwargs):
        return self.policy.complete(prompts, **kwargs)

    def count_tokens(self, text):
        return self.policy.count_tokens(text)


def corridor_trajectory(seed, success, *, split="train", episode=0, actions=("left",)):
    steps = tuple(
        Step(f"The door is {2 + seed % 3} steps to the right.", ("left", "right", "wait"), a, 0.0)
        for a in actions
    )
    return Trajectory(
        env_id=CORRIDOR,
        task=f"Task {seed}: walk through the door.",
        seed=seed,
        steps=steps,
        success=success,
        run_id="past",
        generation=0,
        episode=episode,
        split=split,
    )


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_episodes_run_through_the_compiled_graph(policy, env_id):
    run = Agent(policy).run(env_id, [3, 4], run_id="demo", generation=2, episode_offset=10)

    assert [t.id for t in run.trajectories] == ["traj-demo-g002-train-e00010", "traj-demo-g002-train-e00011"]
    for trajectory in run.trajectories:
        assert trajectory.env_id == env_id and trajectory.policy == policy.name
        assert 1 <= trajectory.length and trajectory.error is None
        assert trajectory.total_return == sum(step.reward for step in trajectory.steps)
        assert all(step.action in step.admissible_actions for step in trajectory.steps)
    assert [r.trajectory_id for r in run.reflections] == [t.id for t in run.trajectories]


def test_step_prompt_rebuilds_exactly_the_prompts_acted_on(policy, memory):
    memory.add([corridor_trajectory(1, True, actions=("right", "right", "right"))])
    memory.add([Insight(CORRIDOR, "Walking right reaches the door.", (), "past", 0)])
    recording = Recording(policy)

    run = Agent(recording, memory=memory, preset="expel", batch_size=1).run(CORRIDOR, [4, 7])

    assert all(t.context for t in run.trajectories)
    rebuilt = [step_prompt(t, i) for t in run.trajectories for i in range(t.length)]
    assert rebuilt == recording.prompts


def test_batched_and_one_at_a_time_runs_agree(policy):
    seeds = list(range(6))

    batched = Agent(policy, batch_size=6).run("evolver/FrozenLake-v0", seeds).trajectories
    single = Agent(policy, batch_size=1).run("evolver/FrozenLake-v0", seeds).trajectories

    assert [t.actions for t in batched] == [t.actions for t in single]
    logprobs = [[s.logprob for s in t.steps] for t in batched]
    np.testing.assert_allclose(
        sum(logprobs, []), sum([[s.logprob for s in t.steps] for t in single], []), atol=1e-4
    )


def test_the_graph_shows_the_method_and_a_node_can_be_inserted(policy):
    agent = Agent(policy)
    assert set(agent.graph.get_graph().nodes) >= {"recall", "act", "step", "reflect", "store"}

    seen = []

    class CountingAgent(Agent):
        def build_graph(self):
            graph = StateGraph(AgentState)
            for name in ("reset", "recall", "act", "step", "finish", "judge", "reflect", "store"):
                graph.add_node(name, getattr(self, name))
            graph.add_node("count", lambda state: seen.append(len(state["episodes"])) or {})
            graph.add_edge(START, "reset")
            graph.add_edge("reset", "recall")
            graph.add_edge("recall", "act")
            graph.add_edge("act", "step")
            graph.add_edge("step", "count")
            graph.add_conditional_edges("count", self.route, ["act", "finish"])
            for a, b in [("finish", "judge"), ("judge", "reflect"), ("reflect", "store")]:
                graph.add_edge(a, b)
            graph.add_edge("store", END)
            return graph

    run = CountingAgent(policy).run(CORRIDOR, [0, 1])

    assert len(seen) == max(t.length for t in run.trajectories)


def test_reflexion_recalls_reflections_of_failed_tries_of_the_same_task_only(policy, memory):
    failed = corridor_trajectory(5, False)
    memory.add(
        [
            failed,
            Reflection(failed.id, CORRIDOR, failed.task, "Next time go right, not left.", False, "past", 0),
        ]
    )

    run = Agent(policy, memory=memory, preset="reflexion").run(CORRIDOR, [5, 6], run_id="now")

    assert "Next time go right, not left." in run.trajectories[0].context
    assert run.trajectories[1].context == ""


def test_expel_recalls_successes_and_insights_of_this_env(policy, memory):
    memory.add(
        [
            corridor_trajectory(1, True, actions=("right", "right", "right")),
            Insight(CORRIDOR, "Walking right reaches the door.", (), "past", 0),
            Insight("evolver/FrozenLake-v0", "Avoid the holes.", (), "past", 0),
        ]
    )

    context = Agent(policy, memory=memory, preset="expel").run(CORRIDOR, [4]).trajectories[0].context

    assert "Walking right reaches the door." in context
    assert "Actions (succeeded): right, right, right" in context
    assert "Avoid the holes." not in context


def test_heldout_episodes_are_never_recalled(policy, memory):
    memory.add([corridor_trajectory(1, True, split="heldout", actions=("right",) * 3)])

    run = Agent(policy, memory=memory, preset="expel").run(CORRIDOR, [4])

    assert run.trajectories[0].context == ""


def test_prompts_stay_within_the_context_whatever_the_memory_holds(default_policy_path, memory):
    from evolver.agents.policies import HFPolicy

    small = HFPolicy(default_policy_path)
    small.max_context_tokens = 160
    memory.add(
        [Insight(CORRIDOR, "Go right. " * 400, (), "past", 0), Insight(CORRIDOR, "Go right.", (), "past", 0)]
    )
    memory.add([corridor_trajectory(s, True, episode=s, actions=("right",) * 200) for s in range(3)])

    run = Agent(small, memory=memory, preset="expel").run(CORRIDOR, [4, 5])

    assert all("Go right." in t.context for t in run.trajectories)
    lengths = [small.count_tokens(step_prompt(t, i)) for t in run.trajectories for i in range(t.length)]
    assert max(lengths) <= 160


def test_a_memory_receives_the_trajectories_and_reflections(policy, memory):
    run = Agent(policy, memory=memory).run(CORRIDOR, [0, 1, 2], split="heldout")

    assert memory.count("trajectory", where={"split": "heldout"}) == 3
    assert memory.get(run.reflections[0].id) == run.reflections[0]


def test_an_environment_that_raises_fails_its_episode_only(policy):
    run = Agent(policy).run(CORRIDOR, [12, 13, 14], max_episode_steps=4)

    broken = run.trajectories[1]
    assert broken.error == "step raised RuntimeError: the corridor collapsed"
    assert not broken.success and broken.length == 1
    assert [t.error for t in run.trajectories[::2]] == [None, None]
    assert all(t.length == 4 or t.success for t in run.trajectories[::2])


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        (["jump over it"], "matches no admissible action"),
        ([""], "empty answer"),
        ([500], "InternalServerError"),
    ],
)
def test_an_unusable_model_answer_fails_its_episode_only(chat, replies, error):
    chat.script = {"Task 1:": replies}

    run = Agent(chat.policy(max_retries=1)).run(CORRIDOR, [0, 1, 2])

    assert error in run.trajectories[1].error
    assert not run.trajectories[1].success and run.trajectories[1].length == 0
    assert [t.success for t in run.trajectories[::2]] == [True, True]


def test_a_hosted_model_plays_and_its_key_is_never_recorded(chat, memory):
    chat.script = {"Task 3:": ["Right."]}

    run = Agent(chat.policy(), memory=memory).run(CORRIDOR, [3])

    assert run.trajectories[0].success
    assert run.trajectories[0].steps[0].raw_action == "Right."
    assert "sk-test-secret" not in "".join(to_json(r) for r in memory.records())


def test_a_judge_decides_the_outcome_of_the_episodes(policy, chat):
    chat.script = {"Task 0:": ["9/10\nThe agent reached the door."], "Task 1:": ["2/10\nIt never arrived."]}

    run = Agent(policy, judge=chat.policy()).run(CORRIDOR, [0, 1], max_episode_steps=2)

    assert [(t.judged, t.success) for t in run.trajectories] == [(True, True), (True, False)]
    assert run.trajectories[0].judge_rationale == "Score 9/10. The agent reached the door."


def test_a_reflection_model_writes_the_reflections(policy, chat):
    chat.script = {"Reflect on this episode": ["Walking left led away from the door. Plan: go right."]}

    run = Agent(policy, reflector=chat.policy()).run(CORRIDOR, [0])

    reflection = run.reflections[0]
    assert reflection.source == "model"
    assert reflection.text == "Critique: Walking left led away from the door. Plan: go right."


def test_bad_agent_arguments_are_refused(policy):
    with pytest.raises(ValueError, match=re.escape("got 'reflxion'. Did you mean `reflexion`?")):
        Agent(policy, preset="reflxion")
    with pytest.raises(ValueError, match=re.escape("The `expel` preset recalls from a memory: pass")):
        Agent(policy, preset="expel")
    with pytest.raises(
        ValueError, match=re.escape("Expected `split` to be 'train' or 'heldout', got 'test'.")
    ):
        Agent(policy).run(CORRIDOR, [0], split="test")


def test_the_success_rate_counts_successes():
    trajectories = [corridor_trajectory(0, True), corridor_trajectory(1, False)]

    assert AgentRun(trajectories, []).success_rate == 0.5
    assert AgentRun([], []).success_rate == 0.0
