"""Image classification data: an image-folder dataset, the standard transforms, and a
synthetic shapes set to try the vision backbone without downloading anything.

Layout (ImageNet's, and torchvision's ``ImageFolder``)::

    root/<class name>/<any name>.png|.jpg|...     one folder per class, sorted by name

The transforms are the usual ImageNet recipe, written with PIL and torch because
torchvision's wheel does not import against every CPU build of torch; any callable
``PIL.Image -> Tensor`` (torchvision's included, where it imports) can replace them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from kinnsci.errors import DataError, OutputExistsError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _pil():
    from PIL import Image

    return Image


def to_tensor(image, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """PIL image -> normalised float tensor (channels, H, W): (pixel / 255 - mean) / std.

    Raises:
        DataError: ``mean``/``std`` do not match the image's channels.
    """
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[..., None]
    if len(mean) != array.shape[-1] or len(std) != array.shape[-1]:
        raise DataError(f"mean/std have {len(mean)}/{len(std)} entries for "
                         f"{array.shape[-1]}-channel images; give one per channel")
    array = (array - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class TrainTransform:
    """Random resized crop (area ``scale``, aspect ``ratio``, torchvision's sampling) to
    ``size`` x ``size``, random horizontal flip, normalise. Draws from torch's RNG, which
    ``DataLoader`` seeds per worker.

    Raises:
        DataError: a size, scale or ratio out of range.
    """

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), flip: bool = True,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD) -> None:
        if size < 1 or not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise DataError(f"need size >= 1, 0 < scale[0] <= scale[1] <= 1 and 0 < "
                             f"ratio[0] <= ratio[1]; got size={size}, scale={scale}, "
                             f"ratio={ratio}")
        self.size, self.scale, self.ratio, self.flip = size, scale, ratio, flip
        self.mean, self.std = tuple(mean), tuple(std)

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, crop width, crop height) of a random crop."""
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * float(torch.empty(1).uniform_(*self.scale))
            aspect = math.exp(float(torch.empty(1).uniform_(*log_ratio)))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                left = int(torch.randint(0, width - w + 1, (1,)))
                top = int(torch.randint(0, height - h + 1, (1,)))
                return left, top, w, h
        # fall back to a central crop with the aspect clamped to the range
        aspect = width / height
        if aspect < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif aspect > self.ratio[1]:
            w, h = round(height * self.ratio[1]), height
        else:
            w, h = width, height
        return (width - w) // 2, (height - h) // 2, w, h

    def __call__(self, image) -> Tensor:
        Image = _pil()
        left, top, w, h = self.crop_box(*image.size)
        image = image.resize((self.size, self.size), Image.BILINEAR,
                             box=(left, top, left + w, top + h))
        if self.flip and bool(torch.rand(1) < 0.5):
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(image, self.mean, self.std)


class EvalTransform:
    """Resize the short side to ``size / crop_fraction``, centre-crop ``size`` x ``size``,
    normalise (the standard 224 / 0.875 = 256 evaluation recipe).

    Raises:
        DataError: a size or crop fraction out of range.
    """

    def __init__(self, size: int, crop_fraction: float = 0.875,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD) -> None:
        if size < 1 or not 0 < crop_fraction <= 1:
            raise DataError(f"need size >= 1 and 0 < crop_fraction <= 1, got {size}, "
                             f"{crop_fraction}")
        self.size, self.crop_fraction = size, crop_fraction
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, image) -> Tensor:
        Image = _pil()
        width, height = image.size
        short = round(self.size / self.crop_fraction)
        scale = short / min(width, height)
        width, height = max(self.size, round(width * scale)), max(self.size, round(height * scale))
        image = image.resize((width, height), Image.BILINEAR)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        return to_tensor(image, self.mean, self.std)


class ImageFolder(Dataset):
    """Images under ``root/<class>/``, as (image (channels, H, W), label) pairs.

    Args:
        root: folder with one sub-folder per class (sorted names -> labels 0, 1, ...).
        transform: ``PIL.Image -> Tensor``; default :class:`EvalTransform` (224).
        mode: PIL mode every image is converted to ("RGB": 3 channels, "L": 1).
        classes: use these class folders (in this order) instead of all of them, e.g. to
            give a validation folder the training set's labels.

    Raises:
        DataError: the folder, a class folder or its images are missing.
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 mode: str = "RGB", classes: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist or is not a folder")
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if classes is None:
            classes = found
        missing = sorted(set(classes) - set(found))
        if missing:
            raise DataError(f"{self.root} has no folder for classes {missing}; found: {found}")
        if not classes:
            raise DataError(f"{self.root} holds no class folders; expected the layout "
                            "root/<class name>/<image files>")
        self.classes = list(classes)
        self.class_to_index = {c: i for i, c in enumerate(self.classes)}
        self.samples: list[tuple[Path, int]] = []
        for name in self.classes:
            files = sorted(p for p in (self.root / name).iterdir()
                           if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not files:
                raise DataError(f"class folder {self.root / name} holds no images (looked for "
                                f"{', '.join(IMAGE_EXTENSIONS)})")
            self.samples += [(p, self.class_to_index[name]) for p in files]
        self.transform = transform or EvalTransform(224)
        self.mode = mode

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def load(self, index: int):
        """The PIL image at ``index``, converted to ``mode``.

        Raises:
            DataError: the image cannot be read.
        """
        path = self.samples[index][0]
        try:
            with _pil().open(path) as image:
                return image.convert(self.mode)
        except OSError as exc:
            raise DataError(f"cannot read image {path}: {exc}") from exc

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image = self.transform(self.load(index))
        return image, torch.tensor(self.samples[index][1])


SHAPES = ("disc", "square", "triangle", "ring", "cross")


def _shape_mask(kind: str, size: int, cx: float, cy: float, r: float, angle: float):
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy  # rotated frame
    if kind == "disc":
        return dx**2 + dy**2 <= r**2
    if kind == "ring":
        d = np.sqrt(dx**2 + dy**2)
        return (d <= r) & (d >= 0.55 * r)
    if kind == "square":
        return (np.abs(u) <= 0.8 * r) & (np.abs(v) <= 0.8 * r)
    if kind == "cross":
        arm = 0.3 * r
        return ((np.abs(u) <= r) & (np.abs(v) <= arm)) | ((np.abs(v) <= r) & (np.abs(u) <= arm))
    # triangle: three half-planes at 120 degrees
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):
        t = angle + 2 * math.pi * k / 3
        inside &= (math.cos(t) * dx + math.sin(t) * dy) <= 0.5 * r
    return inside


def make_shapes_image_folder(root: str | os.PathLike, n_per_class: int = 100, size: int = 32,
                             seed: int = 0, overwrite: bool = False) -> Path:
    """Write a seeded synthetic classification set: PNGs of discs, squares, triangles,
    rings and crosses (random size, position, rotation, colours and noise) in the
    image-folder layout, ``n_per_class`` per class. Returns ``root``.

    Colour and area are random in every class, so only shape tells the classes apart.

    Raises:
        OutputExistsError: ``root`` is not empty and ``overwrite`` is False.
    """
    Image = _pil()
    root = Path(root)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise OutputExistsError(f"{root} is not empty; pass overwrite=True or choose another root")
    rng = np.random.default_rng(seed)
    for kind in SHAPES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            r = rng.uniform(0.2, 0.35) * size
            cx, cy = rng.uniform(r, size - r, 2)
            mask = _shape_mask(kind, size, cx, cy, r, rng.uniform(0, 2 * math.pi))
            # a dark background and a bright shape of random hue: contrast marks the edge,
            # colour and brightness carry no class information
            background, colour = rng.uniform(0, 90, 3), rng.uniform(140, 255, 3)
            pixels = np.where(mask[..., None], colour, background)
            pixels = pixels + rng.normal(0, 12, pixels.shape)
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                root / kind / f"{i:04d}.png")
    return root
