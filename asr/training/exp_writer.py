"""What training writes into the exp dir, behind one object: rank 0's ExpWriter writes `log/train.log`, the
screening reports, the model dir's config.yaml and tokenizer files, TensorBoard events, the progress bar,
checkpoints and `model.pt`; the other ranks get a NullExpWriter, the same calls writing nothing, so the loop
never asks which rank it is. BatchLog (`--log-batches`) is every rank's own.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm

from asr.data.screen import ScreenReport
from asr.model.store import save_weights, write_config
from asr.text.tokenizer import Tokenizer
from asr.training.checkpoints import LAST, keep_epoch_checkpoint, save_best, save_checkpoint

log = logging.getLogger("asr.train")


class ExpWriter:
    """Rank 0's writer (one process: the only one). Opens `log/train.log` for the `asr.train` logger."""

    def __init__(self, exp_dir: Path, progress: bool):
        self.exp_dir, self.ckpt_dir, self.progress, self.events = exp_dir, exp_dir / "checkpoints", progress, None
        (exp_dir / "log").mkdir(parents=True, exist_ok=True)
        for old in [h for h in log.handlers if isinstance(h, logging.FileHandler)]:  # an earlier run in this process
            log.removeHandler(old)
            old.close()
        handler = logging.FileHandler(exp_dir / "log" / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)

    @staticmethod
    def for_rank(rank: int, exp_dir: Path, progress: bool) -> "ExpWriter":
        return ExpWriter(exp_dir, progress) if rank == 0 else NullExpWriter(exp_dir)

    def report(self, report: ScreenReport, path: Path) -> None:
        report.write(path)

    def model_dir(self, tok: Tokenizer, config: dict) -> None:
        """The exp dir as a model dir (asr.model.store): tokenizer files and config.yaml (model.pt: save_best)."""
        tok.save_dir(self.exp_dir)
        write_config(self.exp_dir, config)

    def open_events(self, step: int) -> None:
        """TensorBoard events in `tensorboard/` from update `step` on (a resumed run's later events dropped);
        close() ends them."""
        from torch.utils.tensorboard import SummaryWriter

        self.events = SummaryWriter(str(self.exp_dir / "tensorboard"), purge_step=step + 1 if step else None)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.events.add_scalar(tag, value, step)

    def bar(self, batches: list, done: int, desc: str) -> tqdm:
        """`batches` with a progress bar (when asked for) that counts `done` batches already trained."""
        return tqdm(batches, initial=done, total=done + len(batches), unit="batch", desc=desc,
                    disable=not self.progress, leave=False)

    def echo(self, msg: str) -> None:
        if self.progress:
            tqdm.write(msg)

    def save_last(self, state: dict) -> Path:
        return save_checkpoint(state, self.ckpt_dir)

    def save_best(self, state: dict, model: torch.nn.Module) -> None:
        """best.pt, then its weights as the model dir's model.pt."""
        save_best(state, self.ckpt_dir)
        save_weights(model, self.exp_dir)

    def keep_epoch(self, state: dict, keep: int, metric: str) -> None:
        keep_epoch_checkpoint(self.ckpt_dir, state, keep, metric)

    def close(self) -> None:
        if self.events is not None:
            self.events.close()


class NullExpWriter(ExpWriter):
    """The writer of ranks other than 0: writes nothing (a checkpoint's path is where rank 0 saves it)."""

    def __init__(self, exp_dir: Path):
        self.exp_dir, self.ckpt_dir, self.progress, self.events = exp_dir, exp_dir / "checkpoints", False, None

    def report(self, report: ScreenReport, path: Path) -> None:
        pass

    def model_dir(self, tok: Tokenizer, config: dict) -> None:
        pass

    def open_events(self, step: int) -> None:
        pass

    def scalar(self, tag: str, value: float, step: int) -> None:
        pass

    def save_last(self, state: dict) -> Path:
        return self.ckpt_dir / LAST

    def save_best(self, state: dict, model: torch.nn.Module) -> None:
        pass

    def keep_epoch(self, state: dict, keep: int, metric: str) -> None:
        pass


class BatchLog:
    """`--log-batches`: each rank appends `epoch<TAB>global batch<TAB>utterance ids` per step it trains to
    `log/batches.rank<R>.txt`, to check the sharding (disjoint ranks covering the epoch)."""

    def __init__(self, path=None):
        self.file = open(path, "a", encoding="utf-8") if path else None

    def write(self, epoch: int, batch: int, utt_ids: list[str]) -> None:
        if self.file:
            self.file.write(f"{epoch}\t{batch}\t{' '.join(utt_ids)}\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()
