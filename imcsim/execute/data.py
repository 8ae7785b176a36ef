"""Datasets for execution: scikit-learn's bundled ``load_digits`` (nothing downloaded) or a user ``.npz``.

``load_digits`` ships 1,797 real 8x8 handwritten digits (pixel values 0-16) inside scikit-learn
[SKLEARN-DIGITS]. Images are returned as float (N, 1, H, W) scaled to [0, 1]; the split into train and
held-out parts is a seeded, stratified-by-shuffle split so that every run with the same seed sees the
same images. A user file holds ``images`` (N, H, W) or (N, C, H, W), any real dtype, and ``labels``
(N,) integers in [0, classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imcsim.errors import SpecError

BUILTIN = ("digits",)


@dataclass(frozen=True)
class Dataset:
    """Images (N, C, H, W) float in [0, 1] and labels (N,) int64."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: int
    file: str = "--dataset"   # what a bad-input message names: the user's file, or the flag for the built-in

    def subset(self, mask: np.ndarray) -> Dataset:
        return Dataset(self.name, self.images[mask], self.labels[mask], self.classes, self.file)

    def check_fits(self, input_shape: tuple[int, ...], outputs: int) -> None:
        """The images fit a network input of ``input_shape`` (C, H, W) (1 or C channels; any size, resized)
        and every label is one of its ``outputs`` classes; else a SpecError naming the file."""
        if len(input_shape) != 3:
            raise SpecError(self.file, "images", f"images {tuple(self.images.shape[1:])}",
                            "a network whose input is a feature map (C, H, W)",
                            problem=f"the network's input {tuple(input_shape)} is not an image:")
        ch = self.images.shape[1]
        if ch not in (1, input_shape[0]):
            raise SpecError(self.file, "images", f"{ch} channels (shape {tuple(self.images.shape)})",
                            f"1 or {input_shape[0]} channels (the network's input {tuple(input_shape)})")
        if self.labels.size and int(self.labels.max()) >= outputs:
            raise SpecError(self.file, "labels", int(self.labels.max()),
                            f"integers 0..{outputs - 1} (the network has {outputs} outputs)",
                            problem="label out of range:")

    def split(self, held_out: float = 0.3, seed: int = 0) -> tuple[Dataset, Dataset]:
        """(train, held-out), a seeded permutation."""
        order = np.random.default_rng([seed, 0xD1]).permutation(len(self.labels))
        cut = int(round(len(order) * (1.0 - held_out)))
        return self.subset(np.sort(order[:cut])), self.subset(np.sort(order[cut:]))


def load_dataset(name_or_path: str) -> Dataset:
    """``digits`` (built in) or a ``.npz`` with ``images`` and ``labels``; bad files are SpecErrors."""
    if name_or_path == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return Dataset("digits", (d.images / 16.0)[:, None].astype(np.float64), d.target.astype(np.int64), 10)
    path = Path(name_or_path)
    if path.suffix != ".npz" or not path.is_file():
        raise SpecError("--dataset", "dataset", name_or_path, "digits, or an existing .npz file with images and labels")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "images" not in f or "labels" not in f:
                raise SpecError(str(path), "images/labels", sorted(f.files), "arrays named images and labels")
            images, labels = f["images"], f["labels"]
    except (OSError, ValueError) as exc:
        raise SpecError(str(path), "dataset", path.name, "a readable .npz file", problem=f"unreadable ({exc}):") from None
    if images.dtype.kind not in "fiu" or images.ndim not in (3, 4):
        raise SpecError(str(path), "images", f"{images.dtype} {images.shape}", "a real array (N, H, W) or (N, C, H, W)")
    if labels.dtype.kind not in "iu" or labels.shape != (images.shape[0],):
        raise SpecError(str(path), "labels", f"{labels.dtype} {labels.shape}",
                        f"integers of shape ({images.shape[0]},), one per image")
    images = images.astype(np.float64)
    if not np.isfinite(images).all():
        raise SpecError(str(path), "images", "NaN/inf", "finite values")
    if labels.size and labels.min() < 0:
        raise SpecError(str(path), "labels", int(labels.min()), "integers >= 0", problem="label out of range:")
    if images.shape[0] < 2 or 0 in images.shape:
        raise SpecError(str(path), "images", f"shape {images.shape}",
                        "at least 2 non-empty images (a calibration/training part and a held-out part)")
    if images.ndim == 3:
        images = images[:, None]
    lo, hi = float(images.min()), float(images.max())
    images = (images - lo) / (hi - lo) if hi > lo else images * 0.0
    classes = int(labels.max()) + 1 if labels.size else 0
    return Dataset(path.stem, images, labels.astype(np.int64), classes, str(path))
