"""Heuristic and model reflections, insights and judging, on hand-made trajectories."""

from evolver.agents import distill_insights, heuristic_reflection, judge_trajectories, reflect
from evolver.memory.records import Step, Trajectory

ENV = "tests-agents/Corridor-v0"


def trajectory(actions, success, *, episode=0, observations=None, infos=None, error=None, split="train"):
    observations = observations or [f"at {i}" for i in range(len(actions))]
    infos = infos or [{} for _ in actions]
    steps = tuple(
        Step(o, ("left", "right", "wait", "jump"), a, float(success and i == len(actions) - 1), info=info)
        for i, (a, o, info) in enumerate(zip(actions, observations, infos, strict=True))
    )
    return Trajectory(
        env_id=ENV,
        task="Walk through the door.",
        seed=episode,
        steps=steps,
        success=success,
        run_id="r",
        generation=1,
        episode=episode,
        split=split,
        error=error,
        total_return=float(success),
    )


def test_a_success_is_reflected_as_the_plan_to_repeat():
    text = heuristic_reflection(trajectory(["right", "right"], True))

    assert text == "Succeeded in 2 steps (return 1).\nPlan: on this task, repeat: right, right."


def test_a_failure_names_invalid_actions_loops_and_the_step_limit():
    t = trajectory(
        ["jump", "wait", "wait", "wait"],
        False,
        observations=["start", "start", "start", "start"],
        infos=[{"invalid_action": True}, {}, {}, {"truncated": True}],
    )

    assert heuristic_reflection(t).splitlines() == [
        "Failed after 4 steps (return 0).",
        "1 invalid action(s): 'jump' (step 1). Choose only listed actions.",
        "Loop: the same observation came back 4 times; actions tried there: jump, wait.",
        "The step limit was reached: take a shorter path to the goal.",
        "Plan: choose differently where the episode was lost.",
    ]


def test_an_errored_episode_says_so():
    text = heuristic_reflection(trajectory(["left"], False, error="step raised RuntimeError: boom"))

    assert "The episode stopped on an error: step raised RuntimeError: boom" in text


def test_without_a_model_reflections_are_heuristic_and_keyed_by_trajectory():
    t = trajectory(["left"], False)

    (reflection,) = reflect([t])

    assert (reflection.id, reflection.source, reflection.success) == (
        "refl-r-g001-train-e00000",
        "heuristic",
        False,
    )
    assert reflection.text == heuristic_reflection(t)


def test_an_empty_model_reflection_falls_back_to_the_heuristic(chat):
    chat.default = ""

    (reflection,) = reflect([trajectory(["left"], False)], chat.policy())

    assert reflection.source == "heuristic"


def test_heuristic_insights_prefer_actions_of_successes():
    group = [trajectory(["right", "right"], True, episode=i) for i in range(3)]
    group += [trajectory(["left", "wait"], False, episode=10 + i) for i in range(3)]
    group.append(trajectory(["right"], True, episode=99, split="heldout"))

    insights = distill_insights(group, run_id="r", generation=1)

    assert [i.text for i in insights] == [
        "Prefer 'right': 100% of actions in successful episodes, 0% in failed ones.",
        "Failures most often ended right after 'wait' (3 of 3).",
        "Successful episodes took 2.0 steps on average.",
    ]
    assert all(i.env_id == ENV and len(i.source_ids) == 6 for i in insights)


def test_a_model_writes_insights_one_rule_per_line(chat):
    chat.script = {"general rules": [" Walk right.\n- Never wait.\n3. Count the steps."]}

    insights = distill_insights([trajectory(["right"], True)], model=chat.policy(), run_id="r", generation=1)

    assert [i.text for i in insights] == ["Walk right.", "Never wait.", "Count the steps."]


def test_a_judge_answer_without_a_score_fails_the_episode(chat):
    chat.default = "I cannot tell."
    ended_in_error = trajectory(["left"], False, episode=1, error="boom")

    judged = judge_trajectories([trajectory(["right"], True), ended_in_error], chat.policy())

    assert (judged[0].judged, judged[0].success) == (True, False)
    assert judged[0].judge_rationale == "Unreadable judgement: 'I cannot tell.'"
    assert judged[1] == ended_in_error
