"""Self-feedback: reflections on finished episodes, insights across many, and judging outcomes.

With a model (any `Policy`), the model writes: a critique and a corrected plan for an episode
(SELF's self-feedback and self-refinement, Lu et al. 2023), rules across episodes (ExpeL's
insights, Zhao et al. 2023), a score for an episode whose success is not programmatic. Without
one, reflections and insights are computed from the trajectories, deterministically, and marked
``source="heuristic"``.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence

from evolver.agents.policies.base import Policy
from evolver.memory.records import Insight, Reflection, Trajectory

REFLECT_INSTRUCTION = (
    "Reflect on this episode. First write a short critique of what went wrong or right, then a "
    "corrected plan for the next try of the same task.\nCritique:"
)
INSIGHT_INSTRUCTION = (
    "Write up to {n} short, general rules that would help an agent succeed in this environment, "
    "one per line, each starting with '- '.\nRules:\n-"
)
JUDGE_INSTRUCTION = (
    "Did the agent accomplish the task? Reply with 'Score: N/10' on the first line and a "
    "one-sentence rationale on the second.\nScore:"
)


def render_trajectory(trajectory: Trajectory, max_steps: int = 30) -> str:
    """A compact text of an episode for a model to read: task, first observation, steps, outcome."""
    lines = [f"Task: {trajectory.task.strip()}"]
    if trajectory.steps:
        lines.append(f"Observation: {trajectory.steps[0].observation.strip()}")
    shown = trajectory.steps[-max_steps:]
    if len(shown) < len(trajectory.steps):
        lines.append(f"({len(trajectory.steps) - len(shown)} earlier steps left out)")
    first = len(trajectory.steps) - len(shown) + 1
    for number, step in enumerate(shown, start=first):
        lines.append(f"Step {number}: {step.action} (reward {step.reward:g})")
    outcome = "succeeded" if trajectory.success else "failed"
    lines.append(f"Outcome: {outcome}, return {trajectory.total_return:g}, {trajectory.length} steps.")
    if trajectory.error:
        lines.append(f"Error: {trajectory.error}")
    return "\n".join(lines)


def heuristic_reflection(trajectory: Trajectory) -> str:
    """Feedback computed from the trajectory: outcome, invalid actions, loops, where it was lost.

    Example:
        >>> from evolver.memory.records import Step
        >>> steps = (Step("at start", ("left", "right"), "right", 0.0),)
        >>> t = Trajectory(env_id="e", task="Reach the goal.", seed=0, steps=steps, success=False,
        ...                run_id="r", generation=0, episode=0)
        >>> print(heuristic_reflection(t))
        Failed after 1 step (return 0).
        The episode ended right after 'right' at step 1: avoid 'right' in that situation.
        Plan: choose differently where the episode was lost.
    """
    steps = trajectory.steps
    plural = "" if len(steps) == 1 else "s"
    if trajectory.success:
        return (
            f"Succeeded in {len(steps)} step{plural} (return {trajectory.total_return:g}).\n"
            f"Plan: on this task, repeat: {', '.join(trajectory.actions)}."
        )
    lines = [f"Failed after {len(steps)} step{plural} (return {trajectory.total_return:g})."]
    if trajectory.error:
        lines.append(f"The episode stopped on an error: {trajectory.error}")
    invalid = [(i + 1, s.action) for i, s in enumerate(steps) if s.info.get("invalid_action")]
    if invalid:
        listed = ", ".join(f"'{action}' (step {i})" for i, action in invalid[:5])
        lines.append(f"{len(invalid)} invalid action(s): {listed}. Choose only listed actions.")
    repeats = Counter(step.observation for step in steps)
    observation, count = repeats.most_common(1)[0] if steps else ("", 0)
    if count > 2:
        tried = sorted({s.action for s in steps if s.observation == observation})
        lines.append(
            f"Loop: the same observation came back {count} times; actions tried there: {', '.join(tried)}."
        )
    if steps and steps[-1].info.get("truncated"):
        lines.append("The step limit was reached: take a shorter path to the goal.")
    elif steps and not trajectory.error:
        last = steps[-1].action
        lines.append(
            f"The episode ended right after '{last}' at step {len(steps)}: avoid '{last}' in that situation."
        )
    lines.append("Plan: choose differently where the episode was lost.")
    return "\n".join(lines)


def reflect(trajectories: Sequence[Trajectory], model: Policy | None = None) -> list[Reflection]:
    """Write one reflection per trajectory: by `model` when given, else `heuristic_reflection`.

    An empty model answer falls back to the heuristic reflection for that trajectory.
    """
    texts: list[str | None] = [None] * len(trajectories)
    if model is not None and trajectories:
        prompts = [f"{render_trajectory(t)}\n{REFLECT_INSTRUCTION}" for t in trajectories]
        answers = model.complete(prompts, max_new_tokens=160)
        texts = [("Critique: " + a.strip()) if a.strip() else None for a in answers]
    return [
        Reflection(
            trajectory_id=t.id,
            env_id=t.env_id,
            task=t.task,
            text=text or heuristic_reflection(t),
            success=t.success,
            run_id=t.run_id,
            generation=t.generation,
            source="model" if text else "heuristic",
        )
        for t, text in zip(trajectories, texts, strict=True)
    ]


def distill_insights(
    trajectories: Sequence[Trajectory],
    *,
    model: Policy | None = None,
    run_id: str,
    generation: int,
    max_insights: int = 5,
) -> list[Insight]:
    """Distill short rules per environment from many trajectories (ExpeL's insight extraction).

    With a `model`, it reads successes and failures and writes the rules. Without one, the rules
    say which actions are frequent in successes and rare in failures, which action failures most
    often ended on, and how long successes take. Held-out or errored trajectories are ignored.

    Returns:
        Up to `max_insights` insights per environment.
    """
    by_env: dict[str, list[Trajectory]] = {}
    for t in trajectories:
        if t.split == "train" and t.error is None:
            by_env.setdefault(t.env_id, []).append(t)
    insights = []
    for env_id, group in sorted(by_env.items()):
        texts = _model_insights(group, model, max_insights) if model else []
        texts = texts or _heuristic_insights(group)
        ids = tuple(t.id for t in group)
        insights += [Insight(env_id, text, ids, run_id, generation) for text in texts[:max_insights]]
    return insights


def judge_trajectories(
    trajectories: Sequence[Trajectory], judge: Policy, *, threshold: float = 7.0
) -> list[Trajectory]:
    """Score each finished trajectory against its task with `judge`; the score decides success.

    Errored trajectories stay as they are (failed). An answer without a readable score counts as
    a failure, with the answer kept in the rationale.

    Returns:
        The trajectories with `judged=True`, `judge_rationale` ("Score N/10. ...") and `success`
        set to score >= `threshold`.
    """
    todo = [i for i, t in enumerate(trajectories) if t.error is None]
    prompts = [f"{render_trajectory(trajectories[i])}\n{JUDGE_INSTRUCTION}" for i in todo]
    answers = judge.complete(prompts, max_new_tokens=64) if todo else []
    judged = list(trajectories)
    for i, answer in zip(todo, answers, strict=True):
        found = re.search(r"(\d+(?:\.\d+)?)\s*(?:/\s*10)?", answer)
        if found is None:
            rationale, success = f"Unreadable judgement: {answer.strip()!r}", False
        else:
            score = min(float(found.group(1)), 10.0)
            rest = answer[found.end() :].strip()
            rationale, success = f"Score {score:g}/10. {rest}".strip(), score >= threshold
        judged[i] = dataclasses.replace(judged[i], judged=True, judge_rationale=rationale, success=success)
    return judged


def _model_insights(group: list[Trajectory], model: Policy, max_insights: int) -> list[str]:
    successes = [t for t in group if t.success][:3]
    failures = [t for t in group if not t.success][:3]
    shown = "\n\n".join(render_trajectory(t, max_steps=10) for t in successes + failures)
    prompt = f"{shown}\n\n{INSIGHT_INSTRUCTION.format(n=max_insights)}"
    answer = "-" + model.complete([prompt], max_new_tokens=200)[0]
    rules = [line.strip().lstrip("-*0123456789. ").strip() for line in answer.splitlines()]
    return [rule for rule in rules if len(rule) > 3]


def _heuristic_insights(group: list[Trajectory]) -> list[str]:
    successes = [t for t in group if t.success]
    failures = [t for t in group if not t.success]
    insights = []
    won, lost = _action_shares(successes), _action_shares(failures)
    for action, share in sorted(won.items(), key=lambda item: -item[1]):
        if share >= 2 * lost.get(action, 0.0) and share >= 0.1:
            insights.append(
                f"Prefer '{action}': {share:.0%} of actions in successful episodes, "
                f"{lost.get(action, 0.0):.0%} in failed ones."
            )
    endings = Counter(t.actions[-1] for t in failures if t.steps and not t.steps[-1].info.get("truncated"))
    if endings:
        action, count = endings.most_common(1)[0]
        insights.append(f"Failures most often ended right after '{action}' ({count} of {len(failures)}).")
    if successes:
        mean = sum(t.length for t in successes) / len(successes)
        insights.append(f"Successful episodes took {mean:.1f} steps on average.")
    return insights


def _action_shares(trajectories: list[Trajectory]) -> dict[str, float]:
    counts = Counter(action for t in trajectories for action in t.actions)
    total = sum(counts.values())
    return {action: count / total for action, count in counts.items()} if total else {}
