"""The HTML report of ``rescale eval``."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from rescale.eval.protocol import SetResult, prepare_method  # noqa: E402
from rescale.eval.report import write_report  # noqa: E402


@pytest.mark.parametrize("name, figures", [("bicubic", ["HR", "bicubic"]), ("lanczos", ["HR", "bicubic", "lanczos"])])
def test_crops_show_bicubic_once(tmp_path, name, figures):
    g = torch.Generator().manual_seed(0)
    hr, sr = (torch.randint(0, 256, (1, 3, 32, 32), generator=g, dtype=torch.uint8) for _ in range(2))
    scores = {"name": "a", "psnr_y": 30.0, "bicubic_psnr_y": 29.0}
    result = SetResult("S", (2.0, 2.0), [scores], [{"name": "a", "hr": hr, "bicubic": sr, "method": sr}])
    html = write_report(tmp_path, prepare_method(name), [result], "| set |\n|---|\n| S |\n").read_text()
    captions = [c.split(" ")[0] for c in re.findall(r"<figcaption>(.*?)</figcaption>", html)]
    assert captions == figures
