"""Early stopping: stop once validation accuracy has not improved for `epochs` epochs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Patience:
    epochs: int  # 0 = never stop early
    best: float = 0.0
    since_best: int = 0

    @classmethod
    def replay(cls, epochs: int, history: list[dict]) -> Patience:
        """The state an uninterrupted run would have after `history` (so a resumed run stops alike)."""
        patience = cls(epochs)
        for record in history:
            patience.update(record["val_accuracy"])
        return patience

    def update(self, val_accuracy: float) -> None:
        if val_accuracy > self.best:
            self.best, self.since_best = val_accuracy, 0
        else:
            self.since_best += 1

    @property
    def exhausted(self) -> bool:
        return bool(self.epochs) and self.since_best >= self.epochs
