"""One distillation step: from a policy folder to a NEW policy folder, SFT then DPO.

`distill` loads the parent policy, fine-tunes it on the SFT examples, then trains it on the
preference pairs (each stage only when it has data), and writes the result as a new Hugging Face
folder: the model (or the LoRA adapter alone), its tokenizer, `policy_card.json` and, unless
`log_dir` is given, the training log.

The parent is never touched, and a folder that already exists is refused. The new policy is written
to a hidden staging folder beside `output_dir` (``.NAME.partial``) and renamed into place only once
complete, so a run killed midway never leaves a folder at `output_dir` that looks finished (the next
distillation to the same folder clears the staging folder a killed run left).

Several GPUs: run the script that calls `distill` under ``accelerate launch --num_processes N``
(see `evolver.trainers.sft`); every process trains its share of each batch, and only the main
process writes the log and the new policy.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolver.trainers.card import LOG_FILE, PolicyCard, StageSummary, library_versions, log_to_file, utc_now
from evolver.trainers.dpo import DPODistiller
from evolver.trainers.dpo_config import DPODistillerConfig
from evolver.trainers.sft import SFTDistiller
from evolver.trainers.sft_config import SFTDistillerConfig

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel


def distill(
    policy_dir: str | Path,
    output_dir: str | Path,
    *,
    sft_data: Dataset | None = None,
    dpo_data: Dataset | None = None,
    sft_config: SFTDistillerConfig | None = None,
    dpo_config: DPODistillerConfig | None = None,
    log_dir: str | Path | None = None,
) -> PolicyCard:
    """Distill experience into a new policy: SFT on `sft_data`, then DPO on `dpo_data`.

    Args:
        policy_dir: The parent policy (a Hugging Face folder with full weights).
        output_dir: The new policy's folder; must not exist yet.
        sft_data: Examples (`build_sft_dataset`, possibly with `build_reflection_dataset`'s rows
            concatenated); skipped when None or empty.
        dpo_data: Preference pairs (`build_dpo_dataset`); skipped when None or empty.
        sft_config: Settings of the SFT stage; `SFTDistillerConfig()` when None.
        dpo_config: Settings of the DPO stage; `DPODistillerConfig()` when None. When both stages run
            they must agree on the LoRA settings (the DPO stage goes on training the SFT adapter).
        log_dir: Folder for the training log and TensorBoard events (in a subfolder named after
            `output_dir`); None keeps them in the new policy's folder.

    Returns:
        The new policy's card (also written to `output_dir / "policy_card.json"`).

    Example:
        >>> from evolver.trainers.distill import distill
        >>> card = distill("runs/demo/policy/gen-000", "runs/demo/policy/gen-001",
        ...                sft_data=examples, dpo_data=pairs)  # doctest: +SKIP
        >>> [stage.stage for stage in card.stages]  # doctest: +SKIP
        ['sft', 'dpo']
    """
    started = time.perf_counter()
    policy_dir, output_dir = Path(policy_dir).resolve(), Path(output_dir)
    sft_config = sft_config or SFTDistillerConfig()
    dpo_config = dpo_config or DPODistillerConfig()
    run_sft, run_dpo = sft_data is not None and len(sft_data) > 0, dpo_data is not None and len(dpo_data) > 0
    _check_arguments(policy_dir, output_dir, run_sft, run_dpo, sft_config, dpo_config)
    first = sft_config if run_sft else dpo_config  # decides the adapter: both agree when both stages run

    from accelerate import PartialState

    # Under `accelerate launch` every process trains; only the main one logs and writes the policy.
    main = PartialState().is_main_process
    staging = output_dir.parent / f".{output_dir.name}.partial"
    if main:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
    logs = Path(log_dir) / output_dir.name if log_dir is not None else staging
    stages: list[StageSummary] = []
    try:
        with log_to_file(logs / LOG_FILE) if main else contextlib.nullcontext():
            model, tokenizer = _load_policy(policy_dir)
            if run_sft:
                model, summary = SFTDistiller(sft_config).train(model, tokenizer, sft_data, log_dir=logs)
                stages.append(summary)
            if run_dpo:
                model, summary = DPODistiller(dpo_config).train(model, tokenizer, dpo_data, log_dir=logs)
                stages.append(summary)
            if main:
                _save_policy(model, staging, policy_dir, merge=first.merge_lora)
                tokenizer.save_pretrained(staging)
        card = PolicyCard(
            parent=str(policy_dir),
            stages=tuple(stages),
            lora=_lora_record(first),
            seconds=round(time.perf_counter() - started, 3),
            created_at=utc_now(),
            device=str(first.device.type),
            versions=library_versions(),
        )
        if main:
            card.save(staging)
            staging.rename(output_dir)
    except BaseException:
        if main:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    PartialState().wait_for_everyone()
    return card


def _check_arguments(
    policy_dir: Path,
    output_dir: Path,
    run_sft: bool,
    run_dpo: bool,
    sft_config: SFTDistillerConfig,
    dpo_config: DPODistillerConfig,
) -> None:
    if not run_sft and not run_dpo:
        raise ValueError(
            "No successful train trajectories to distill and no preference pairs: `sft_data` and `dpo_data` are "
            "both empty. Run more episodes, or let `build_sft_dataset` learn from the best failures with "
            "`top_return_fraction` above 0."
        )
    if output_dir.exists():
        raise ValueError(
            f"Expected `output_dir` to be a new folder, but {output_dir} exists: a distillation never overwrites "
            "a policy. Choose another folder, or delete that one first."
        )
    if not (policy_dir / "config.json").is_file():
        hint = (
            " It holds a LoRA adapter kept apart from its weights: distill from a folder with full weights "
            "(`merge_lora=True` writes one)."
            if (policy_dir / "adapter_config.json").is_file()
            else " Build one with `evolver.agents.policies.default.build_default_policy`."
        )
        raise ValueError(
            f"Expected `policy_dir` to be a policy folder with full weights, got {policy_dir}.{hint}"
        )
    lora = ("lora_rank", "lora_alpha", "lora_target_modules", "merge_lora")
    if run_sft and run_dpo:
        for name in lora:
            if getattr(sft_config, name) != getattr(dpo_config, name):
                raise ValueError(
                    f"Expected `sft_config.{name}` and `dpo_config.{name}` to agree, got "
                    f"{getattr(sft_config, name)!r} and {getattr(dpo_config, name)!r}: the DPO stage goes on "
                    "training what the SFT stage trained. Set the same LoRA settings in both configs."
                )


def _load_policy(policy_dir: Path) -> tuple[PreTrainedModel, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(policy_dir), AutoTokenizer.from_pretrained(policy_dir)


def _save_policy(model: PreTrainedModel, folder: Path, parent: Path, *, merge: bool) -> None:
    from accelerate.utils import is_peft_model

    if is_peft_model(model) and merge:
        model = model.merge_and_unload()
    elif is_peft_model(model):
        model.peft_config["default"].base_model_name_or_path = str(parent)  # loads from any working directory
    model.save_pretrained(folder)


def _lora_record(config: SFTDistillerConfig | DPODistillerConfig) -> dict[str, Any] | None:
    lora = config.peft_config()
    return None if lora is None else {"rank": lora.r, "alpha": lora.lora_alpha, "merged": config.merge_lora}
