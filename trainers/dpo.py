"""`DPODistiller`: teach a policy to prefer what succeeded over what failed, with TRL's `DPOTrainer`.

The reference model is the policy as it enters the stage (after SFT, in `distill`'s SFT-then-DPO
schedule): a frozen copy of it, or, with a LoRA adapter, the same network with the new adapter off.
The reference is always given to TRL explicitly, never loaded by name.

Several GPUs: as for `evolver.trainers.sft`, run the script that calls `distill(...)` under
``accelerate launch --num_processes N``; the frozen reference is placed on each process's GPU by TRL.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from evolver.trainers.card import LOG_FILE, StageSummary, train_and_record
from evolver.trainers.dpo_config import DPODistillerConfig

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class DPODistiller:
    """Train a policy on preference pairs (ETO: successful versus failed actions on the same state).

    Args:
        config: Training settings; `DPODistillerConfig()` when None.

    Example:
        >>> from evolver.trainers.dpo import DPODistiller
        >>> model, summary = DPODistiller().train(model, tokenizer, pairs, log_dir=work)  # doctest: +SKIP
        >>> summary.metrics["rewards/margins"] > 0  # doctest: +SKIP
        True
    """

    def __init__(self, config: DPODistillerConfig | None = None) -> None:
        self.config = config or DPODistillerConfig()

    def train(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        dataset: Dataset,
        *,
        log_dir: str | Path,
    ) -> tuple[PreTrainedModel, StageSummary]:
        """Train `model` on `dataset` (columns `prompt`, `chosen`, `rejected`) and summarize the stage.

        Args:
            model: The policy; trained in place. An adapter-wrapped model (LoRA from a preceding SFT
                stage) goes on training its adapter, against a frozen copy of that adapter.
            tokenizer: Its tokenizer.
            dataset: Pairs, e.g. from `evolver.trainers.data.build_dpo_dataset`.
            log_dir: Where TRL's metrics (`train.log`) and TensorBoard events go.

        Returns:
            The trained model and the stage's summary (its `metrics` hold DPO's reward margins).
        """
        from accelerate.utils import is_peft_model
        from trl import DPOTrainer

        _check_dataset(dataset)
        started = time.perf_counter()
        peft_config = None if is_peft_model(model) else self.config.peft_config()
        uses_adapter = is_peft_model(model) or peft_config is not None
        reference = None if uses_adapter else _frozen_copy(model)
        trainer = DPOTrainer(
            model=model,
            ref_model=reference,
            args=dataclasses.replace(self.config, output_dir=str(log_dir)),
            train_dataset=dataset.select_columns(["prompt", "chosen", "rejected"]),
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        setup_seconds = time.perf_counter() - started
        log_file = Path(log_dir) / LOG_FILE
        summary = train_and_record(
            trainer, stage="dpo", dataset=dataset, setup_seconds=setup_seconds, log_file=log_file
        )
        trained = trainer.model
        if is_peft_model(trained) and "ref" in trained.peft_config:
            trained.delete_adapter("ref")  # TRL's frozen copy of an adapter that was already trained
        return trained, summary


def _frozen_copy(model: PreTrainedModel) -> PreTrainedModel:
    reference = copy.deepcopy(model).eval()
    reference.requires_grad_(False)
    return reference


def _check_dataset(dataset: Dataset) -> None:
    missing = {"prompt", "chosen", "rejected"} - set(dataset.column_names)
    if missing:
        raise ValueError(
            f"Expected `dataset` to have the columns `prompt`, `chosen` and `rejected`, got {dataset.column_names}. "
            "Build it with `evolver.trainers.data.build_dpo_dataset`."
        )
    if len(dataset) == 0:
        raise ValueError(
            "No preference pairs to learn from: the DPO dataset is empty. Pairs need a success and a failure that "
            "act differently on the same state: run more episodes, or sample with a higher temperature."
        )
