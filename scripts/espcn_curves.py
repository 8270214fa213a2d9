"""Plot the shipped ESPCN networks' learning curves (Set5 Y-PSNR against training steps, from the
manifests in weights/) beside issue 19's targets, into docs/espcn_curves.png; thin vertical lines mark
where a resumed run changed its recipe (the manifest's ``stages``).

    .venv/bin/python scripts/espcn_curves.py
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {2: 36.6, 3: 32.55, 4: 30.5}  # issue 19
BICUBIC = {2: 33.67, 3: 30.40, 4: 28.43}  # rescale eval --method bicubic --scale 2 --scale 3 --scale 4 --sets Set5


def main() -> None:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, scale in zip(axes, (2, 3, 4)):
        manifest = json.loads((ROOT / "weights" / f"espcn_x{scale}.json").read_text())
        evals = [e for e in manifest["learning_curve"]["evals"] if e["step"] > 0]
        ax.plot([e["step"] / 1000 for e in evals], [e["psnr_y"] for e in evals], label="ESPCN (ours)")
        ax.axhline(TARGETS[scale], color="tab:red", ls="--", lw=1, label="issue 19 target")
        ax.axhline(BICUBIC[scale], color="grey", ls=":", lw=1, label="bicubic")
        for stage in manifest.get("stages", [])[1:]:  # a resumed run with a changed recipe
            ax.axvline(stage["steps"][0] / 1000, color="grey", lw=0.8, alpha=0.5)
        ax.set_title(f"x{scale}: {manifest['metrics'][f'set5_x{scale}_psnr_y']:.2f} dB at {manifest['steps'] // 1000}k")
        ax.set_xlabel("training steps (thousands)")
        ax.set_ylim(BICUBIC[scale] - 0.5, TARGETS[scale] + 0.4)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Set5 Y-PSNR (dB)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "espcn_curves.png"
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
