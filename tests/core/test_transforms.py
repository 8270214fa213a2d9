"""``rescale.transforms.Rescale`` as a pipeline stage: same results as ``rescale.rescale`` (itself
checked against Pillow elsewhere) and as Pillow directly, inside ``v2.Compose`` and a DataLoader
with worker processes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

import rescale
from rescale.transforms import Rescale


def _img(seed, h=24, w=36, c=3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_pil_result_is_pillows():
    img = Image.fromarray(_img(0))
    out = Rescale(0.5, method="lanczos")(img)
    assert isinstance(out, Image.Image)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.resize((18, 12), Image.Resampling.LANCZOS)))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64, torch.bfloat16])
def test_tensors_match_rescale(dtype):
    x = torch.from_numpy(_img(1)).permute(2, 0, 1).to(dtype)
    t = Rescale(0.5, 0.75, method="bicubic")
    torch.testing.assert_close(t(x), rescale.rescale(x, 0.5, 0.75, method="bicubic"), rtol=0, atol=0)
    batch = torch.stack([x, x.flip(-1)])
    y = t(batch)
    assert y.shape == (2, 3, 18, 18) and y.dtype == dtype
    torch.testing.assert_close(y[1], rescale.rescale(x.flip(-1), 0.5, 0.75), rtol=0, atol=0)


def test_tv_tensors_keep_their_type_and_videos_are_batched():
    x = torch.from_numpy(_img(2)).permute(2, 0, 1)
    img = tv_tensors.Image(x)
    out = Rescale(size=(9, 6))(img)
    assert isinstance(out, tv_tensors.Image) and out.shape == (3, 6, 9)
    video = tv_tensors.Video(torch.stack([x, x.flip(-2), x.flip(-1)]).unsqueeze(0))  # [1, T, C, H, W]
    out = Rescale(0.5)(video)
    assert isinstance(out, tv_tensors.Video) and out.shape == (1, 3, 3, 12, 18)
    torch.testing.assert_close(out[0, 1].as_subclass(torch.Tensor), rescale.rescale(x.flip(-2), 0.5), rtol=0, atol=0)
    with pytest.raises(TypeError, match="images only"):
        Rescale(0.5)(img, tv_tensors.BoundingBoxes([[0, 0, 4, 4]], format="XYXY", canvas_size=(24, 36)))


def test_inside_compose_with_labels():
    pipeline = v2.Compose([v2.PILToTensor(), Rescale(0.5, method="hamming"), v2.ToDtype(torch.float32, scale=True)])
    img = Image.fromarray(_img(3))
    out, label = pipeline(img, 7)
    assert label == 7 and out.dtype == torch.float32 and out.shape == (3, 12, 18)
    ref = np.asarray(img.resize((18, 12), Image.Resampling.HAMMING)).transpose(2, 0, 1) / 255
    torch.testing.assert_close(out, torch.from_numpy(ref).float(), rtol=0, atol=1e-6)


class _Images(Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return self.transform(Image.fromarray(_img(10 + i, 20, 30))), i


def test_dataloader_with_two_workers():
    tf = v2.Compose([v2.PILToTensor(), Rescale(size=(15, 8), method="lanczos")])
    loader = DataLoader(_Images(tf), batch_size=3, num_workers=2)
    seen = []
    for batch, idx in loader:
        assert batch.shape == (3, 3, 8, 15) and batch.dtype == torch.uint8
        for img, i in zip(batch, idx.tolist()):
            ref = Image.fromarray(_img(10 + i, 20, 30)).resize((15, 8), Image.Resampling.LANCZOS)
            np.testing.assert_array_equal(img.permute(1, 2, 0).numpy(), np.asarray(ref))
            seen.append(i)
    assert sorted(seen) == list(range(6))


def test_pickles_and_validates_early():
    t = pickle.loads(pickle.dumps(Rescale(0.25, method="mitchell", antialias=False)))
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(t(x), rescale.rescale(x, 0.25, method="mitchell", antialias=False), rtol=0, atol=0)
    assert "sx=0.25" in repr(t) and "mitchell" in repr(t)
    with pytest.raises(ValueError, match="unknown method"):
        Rescale(0.5, method="nope")
    with pytest.raises(ValueError):
        Rescale(0.0)
    with pytest.raises(TypeError):
        Rescale(0.5, size=(4, 4))
    with pytest.raises(ValueError):
        Rescale(size=(0, 4))
