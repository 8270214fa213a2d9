"""What a batch command reports per file: a :class:`Result`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Result"]


@dataclass
class Result:
    name: str
    src: str
    dst: str | None
    status: str  # "done", "skipped", "failed" or "planned" (dry run)
    reason: str | None = None
    size: tuple[int, int] | None = None  # input, upright
    out_size: tuple[int, int] | None = None
    mode: str | None = None  # of the output file
    converted: str | None = None  # mode conversions on reading and writing, e.g. "P -> RGBA"
    seconds: float = 0.0
    method: str | None = None  # the method rescale down / up used (resize: None, left out of the JSON)
    note: str | None = None  # something the user should know about a done file (left out if None)

    @property
    def megapixels(self) -> float:
        return self.size[0] * self.size[1] / 1e6 if self.size else 0.0

    def to_json(self) -> dict:
        return (
            {
                "input": self.src,
                "output": self.dst,
                "status": self.status,
                "error": self.reason,
                "size": list(self.size) if self.size else None,
                "out_size": list(self.out_size) if self.out_size else None,
                "mode": self.mode,
                "converted": self.converted,
                "seconds": round(self.seconds, 4),
            }
            | ({"method": self.method} if self.method is not None else {})
            | ({"note": self.note} if self.note else {})
        )
