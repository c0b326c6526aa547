"""Progress reporting for long work: a rich progress bar on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger("eihpredict")

ProgressCallback = Callable[[int, "int | None"], None]


@contextmanager
def progress_bar(description: str, *, unit: str = "rows", enabled: bool = True,
                 interval: float = 5.0) -> Iterator[ProgressCallback]:
    """Yield a callback ``update(position, total)`` that shows progress.

    On a terminal (stderr is a TTY) a rich bar with rate and time left; otherwise an
    INFO log line at most every ``interval`` seconds, so CI logs and files stay short.
    """
    if not enabled:
        yield lambda position, total: None
        return
    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            """Items per second (rows/s, refits/s)."""

            def render(self, task) -> Text:
                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{speed:,.0f} {unit}/s", style="cyan")

        byte_columns = unit == "bytes"
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                   TransferSpeedColumn() if byte_columns else MofNCompleteColumn(),
                   *([] if byte_columns else [RateColumn()]),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=None)

            def update(position: int, total: int | None) -> None:
                bar.update(task, completed=position, total=total)

            yield update
        return
    start = last = time.monotonic()

    def log_update(position: int, total: int | None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < interval and (total is None or position < total):
            return
        last = now
        share = f" ({100 * position / total:.0f} %)" if total else ""
        logger.info("%s: %d %s%s, %.0f %s/s", description, position, unit, share,
                    position / max(now - start, 1e-9), unit)

    yield log_update
