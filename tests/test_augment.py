"""Training-time augmentation: every output is an exact flip/shift of its input, seeded."""

import pytest
import torch

from thermoep.config import RunConfig
from thermoep.data import load_dataset
from thermoep.data.augment import Augment
from thermoep.experiment import run


def _reference(img: torch.Tensor, flip: bool, dy: int, dx: int, fill: float) -> torch.Tensor:
    """The transform written pixel by pixel: x'[i, j] = x[i - dy, m(j - dx)], m the mirror."""
    h, w = img.shape
    out = torch.full_like(img, fill)
    for i in range(h):
        for j in range(w):
            si, sj = i - dy, j - dx
            if 0 <= si < h and 0 <= sj < w:
                out[i, j] = img[si, w - 1 - sj if flip else sj]
    return out


def _explain(img, new, translate, fill):
    """All (flip, dy, dx) that turn img into new."""
    return [(f, dy, dx) for f in (False, True) for dy in range(-translate, translate + 1)
            for dx in range(-translate, translate + 1)
            if torch.equal(_reference(img, f, dy, dx, fill), new)]


def test_each_sample_is_an_exact_flip_and_shift_and_all_occur():
    h, w, t = 5, 6, 2
    x = torch.randn(400, h * w)  # distinct values: a transform is identified uniquely
    aug = Augment((h, w), hflip=True, translate=t, fill=-9.0)
    y = aug(x, torch.Generator().manual_seed(0))
    seen = set()
    for img, new in zip(x.reshape(-1, h, w), y.reshape(-1, h, w), strict=True):
        found = _explain(img, new, t, -9.0)
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) == 2 * (2 * t + 1) ** 2  # every flip/shift combination is drawn


def test_augmentation_is_seeded_and_off_by_default():
    x = torch.randn(16, 3 * 4 * 4)
    aug = Augment((3, 4, 4), hflip=True, translate=1)
    a = aug(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, aug(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, x)
    off = Augment((3, 4, 4))
    assert not off.active and off(x, torch.Generator()) is x


def test_channels_move_together_and_fill_is_per_pixel():
    x = torch.arange(2 * 3 * 3, dtype=torch.float32).repeat(8, 1)  # [8, C=2 x 3 x 3]
    fill = -torch.arange(1, 19, dtype=torch.float32)
    y = Augment((2, 3, 3), translate=1, fill=fill)(x, torch.Generator().manual_seed(1))
    imgs, outs = x.reshape(8, 2, 3, 3), y.reshape(8, 2, 3, 3)
    for img, new in zip(imgs, outs, strict=True):
        blank = new < 0
        assert torch.equal(blank[0], blank[1])  # the same shift for both channels
        assert torch.equal(new[blank], fill.reshape(2, 3, 3)[blank])
        assert torch.equal(new[1][~blank[1]] - new[0][~blank[0]],
                           torch.full_like(new[0][~blank[0]], 9.0))
        assert set(new[~blank].tolist()) <= set(img.flatten().tolist())


def test_fill_for_standardised_data_is_the_blank_pixel():
    raw = load_dataset("digits", limit_train=200)
    data = load_dataset("digits", limit_train=200, standardize="global")
    blank = -raw.train_x.mean() / raw.train_x.std(unbiased=False)  # where pixel 0 lands
    fill = Augment.for_data(data.train_x, data.image_shape, translate=1).fill.flatten()
    has_blank = raw.train_x.min(0).values == 0
    assert has_blank.sum() > 32
    torch.testing.assert_close(fill[has_blank], blank.expand(int(has_blank.sum())))


def test_bad_augmentation_settings_raise():
    with pytest.raises(ValueError, match="images"):
        Augment((64,), hflip=True)
    with pytest.raises(ValueError, match="out of its frame"):
        Augment((8, 8), translate=8)
    with pytest.raises(ValueError, match="translate"):
        RunConfig.of(translate=-1).resolved()


def test_training_with_augmentation_runs_and_is_reproducible():
    cfg = RunConfig.of(epochs=2, limit_train=200, limit_test=100, hidden=(16,), batch_size=50,
                      hflip=True, translate=1)
    a, b = run(cfg, quiet=True), run(cfg, quiet=True)
    plain = run(RunConfig.of(epochs=2, limit_train=200, limit_test=100, hidden=(16,),
                            batch_size=50), quiet=True)
    assert a["train_loss"].values.tolist() == b["train_loss"].values.tolist()
    assert a["train_loss"].values.tolist() != plain["train_loss"].values.tolist()
    assert a.attrs["data.translate"] == 1 and a.attrs["data.hflip"] == 1
