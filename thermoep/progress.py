"""Progress reporting for long work: a rich bar on a terminal, plain lines otherwise, or nothing."""

from __future__ import annotations

import sys
import time


class Reporter:
    """Silent reporter (``--quiet``); the base of the others."""

    def start(self, epochs: int, batches: int, first_epoch: int = 1) -> None: ...

    def batch(self, epoch: int, index: int, loss: float, accuracy: float) -> None: ...

    def epoch(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def close(self) -> None: ...


def _line(epoch: int, m: dict[str, float]) -> str:
    parts = [f"epoch {epoch}"]
    for key, label, fmt in (("train_loss", "loss", ".4f"), ("train_accuracy", "train", ".2%"),
                            ("test_accuracy", "test", ".2%"),
                            ("test_accuracy_online", "online", ".2%"),
                            ("nudged_phases", "nudged", ".0f"),
                            ("wall_seconds", "s", ".1f")):
        if key in m and m[key] == m[key]:
            parts.append(f"{label} {m[key]:{fmt}}")
    return "  ".join(parts)


class PlainReporter(Reporter):
    """One line per epoch (stdout is not a terminal: logs, CI)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def epoch(self, epoch, metrics):
        print(_line(epoch, metrics), file=self.stream, flush=True)


class RichReporter(Reporter):
    """A rich progress bar over epochs and batches with live loss and accuracy."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self._last = 0.0

    def start(self, epochs, batches, first_epoch=1):
        self.progress.start()
        self.epochs_task = self.progress.add_task("epochs", total=epochs,
                                                  completed=first_epoch - 1, info="")
        self.batch_task = self.progress.add_task("batches", total=batches, info="")

    def batch(self, epoch, index, loss, accuracy):
        now = time.monotonic()
        if now - self._last > 0.1 or index == 0:
            self.progress.update(self.batch_task, completed=index + 1,
                                 description=f"epoch {epoch}",
                                 info=f"loss {loss:.4f} acc {accuracy:.1%}")
            self._last = now

    def epoch(self, epoch, metrics):
        self.progress.update(self.epochs_task, advance=1,
                             info=f"test {metrics.get('test_accuracy', float('nan')):.2%}")
        self.progress.reset(self.batch_task)
        self.progress.console.print(_line(epoch, metrics))

    def close(self):
        self.progress.stop()


def make_reporter(quiet: bool = False) -> Reporter:
    if quiet:
        return Reporter()
    return RichReporter() if sys.stdout.isatty() else PlainReporter()
