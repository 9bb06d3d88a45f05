"""Photo → MNIST: turn any user image of a handwritten digit into a 28x28 MNIST-style array.

Training (user images) and serving both go through `to_mnist`, so a photo reaches the model
looking like the MNIST images it learned from: white ink on black, strokes of MNIST's width,
the digit's bounding box scaled to 20 px on its longer side and centred by centre of mass in
28x28. Deskewing is the model's job (`model/features.py`), not done here.

The pipeline works on a small grayscale copy (longer side ≤ `WORK_SIZE`): normalise the
background (divide by a coarse, robust estimate of the paper), decide polarity from that
background, threshold against the paper's own noise, drop ruled lines, frames, paper edges and
specks, keep the digit and its nearby pieces, then normalise contrast and stroke width.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

DEFAULT_MAX_PIXELS = 40_000_000
"""Images with more pixels are refused before decoding (decompression bombs)."""

MIN_SIDE = 16
WORK_SIZE = 320
MNIST_BOX = 20
MNIST_SIZE = 28
STROKE_REL = 0.092
"""MNIST's median stroke width over its bounding box's longer side (measured at level 128)."""
STROKE_BAND = (0.05, 0.165)

_MIN_CONTRAST = 0.12
_MIN_INK_PIXELS = 10
_STRONG = 0.4
"""Second pass: the digit's strokes reach this share of its ink level; a faint shadow edge or
ruled line touching it does not."""
_NOISE_SIGMAS = 4.5


class PreprocessError(ValueError):
    """The image cannot be turned into a digit; the message tells the user what to do."""


def to_mnist(data: bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Convert a photo, scan or screenshot of one handwritten digit to MNIST format.

    Parameters
    ----------
    data : bytes or PIL.Image.Image
        Encoded image (JPEG, PNG, WebP, GIF, BMP, TIFF) or an already opened image.
    max_pixels : int
        Refuse images with more pixels than this, before decoding them.

    Returns
    -------
    ndarray of shape (28, 28), uint8
        White ink on black in MNIST's framing.

    Raises
    ------
    PreprocessError
        Not an image, too small, too large, or no ink found.
    """
    gray, scale = _decode(data, max_pixels)
    ink = _ink_map(gray)
    mask, floor = _digit_mask(ink)
    region = _zoom_region(mask, scale)
    if region is not None:
        try:
            zoomed, _ = _decode(data, max_pixels, region)
            ink = _ink_map(zoomed)
            mask, floor = _digit_mask(ink)
        except PreprocessError:
            pass
    return _frame(ink, mask, floor)


def _zoom_region(mask: np.ndarray, scale: float) -> tuple[float, float, float, float] | None:
    """Where to look again at full resolution when the digit is small in a large photo.

    Returns (left, top, right, bottom) as fractions of the image, three digit-sizes wide.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    if scale < 1.5 or side >= _ZOOM_BELOW:
        return None
    height, width = mask.shape
    cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
    return (
        max(0.0, (cx - 1.5 * side) / width),
        max(0.0, (cy - 1.5 * side) / height),
        min(1.0, (cx + 1.5 * side) / width),
        min(1.0, (cy + 1.5 * side) / height),
    )


_ZOOM_BELOW = 48


def _decode(
    data: bytes | Image.Image,
    max_pixels: int,
    region: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Open, check size, rotate by EXIF, crop to `region` (fractions of the upright image) and
    shrink to a float32 grayscale array (0..255); also how much it was shrunk."""
    owned = not isinstance(data, Image.Image)
    image = _open(data) if owned else data
    width, height = image.size
    if width * height > max_pixels:
        raise PreprocessError(
            f"The image has {width}x{height} pixels, more than the {max_pixels:,} allowed; "
            "send a smaller photo."
        )
    if min(width, height) < MIN_SIDE:
        raise PreprocessError(
            f"The image is only {width}x{height} pixels; send one at least "
            f"{MIN_SIDE} pixels on each side."
        )
    try:
        if owned:
            if image.format == "JPEG":
                fraction = (
                    1.0 if region is None else max(region[2] - region[0], region[3] - region[1])
                )
                image.draft("L", (round(WORK_SIZE / fraction),) * 2)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        else:
            image = ImageOps.exif_transpose(image)
        if region is not None:
            w, h = image.size
            image = image.crop(
                (
                    int(region[0] * w),
                    int(region[1] * h),
                    int(np.ceil(region[2] * w)),
                    int(np.ceil(region[3] * h)),
                )
            )
        gray = _grayscale(image)
    except PreprocessError:
        raise
    except Exception as exc:
        raise PreprocessError(
            "The image file is damaged or in a form I cannot read; send it again as a photo."
        ) from exc
    return gray, max(width, height) / max(gray.shape)


def _open(data: bytes) -> Image.Image:
    """Read the header lazily; Pillow's own bomb check is turned into our error."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise PreprocessError("That is not an image; send a photo of a handwritten digit.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PreprocessError(
            "The image has too many pixels to be processed safely; send a smaller photo."
        ) from exc
    except Exception as exc:
        raise PreprocessError(
            "That is not an image I can read; send a JPEG or PNG photo of a handwritten digit."
        ) from exc


def _grayscale(image: Image.Image) -> np.ndarray:
    """Luminance as float32 0..255 at working size; a transparent background becomes paper."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0.0, neginf=0.0)
        values -= min(0.0, float(values.min())) if values.size else 0.0
        top = float(values.max()) if values.size else 0.0
        scale = 255.0 / 65535.0 if mode.startswith("I;16") or top > 255 else 1.0
        if top * scale > 255:
            scale = 255.0 / top
        return _shrink(Image.fromarray(np.clip(values * scale, 0, 255).astype(np.float32)))
    if (mode == "P" and "transparency" in image.info) or mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        return _composite(image)
    if image.mode != "L":
        image = image.convert("L")
    return _shrink(image)


def _composite(image: Image.Image) -> np.ndarray:
    """Put transparent pixels on paper that contrasts with the opaque (ink) pixels."""
    image = _shrink_image(image)
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    lum = np.asarray(image.convert("L"), dtype=np.float32)
    if alpha.min() >= 1.0:
        return lum
    opaque_lum = float((lum * alpha).sum() / max(alpha.sum(), 1e-6))
    paper = 255.0 if opaque_lum < 128 else 0.0
    return lum * alpha + paper * (1.0 - alpha)


def _shrink_image(image: Image.Image) -> Image.Image:
    """Longer side at most `WORK_SIZE`: integer box reduction first (fast), then resampling."""
    factor = max(image.size) // WORK_SIZE
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) <= WORK_SIZE:
        return image
    scale = WORK_SIZE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _shrink(image: Image.Image) -> np.ndarray:
    return np.asarray(_shrink_image(image), dtype=np.float32)


def _ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (0 = paper) after dividing out the lit background.

    Polarity follows the background (`_light_ink`). The paper is then a morphological closing
    of a coarse copy, wider than any stroke, so it follows gradients and hard shadow edges but
    not the ink.
    """
    height, width = gray.shape
    factor = max(1, max(height, width) // _COARSE)
    image = Image.fromarray(gray)
    coarse = np.asarray(image.reduce(factor) if factor > 1 else image, dtype=np.float32)
    if _light_ink(coarse):
        gray, coarse = 255.0 - gray, 255.0 - coarse
    size = max(7, max(coarse.shape) // 4)
    paper = ndimage.grey_closing(coarse, size=(size, size))
    paper = np.asarray(
        Image.fromarray(paper).resize((width, height), Image.Resampling.BILINEAR), np.float32
    )
    return 1.0 - gray / np.maximum(paper, 8.0)


def _light_ink(coarse: np.ndarray) -> bool:
    """Whether the ink is lighter than the background.

    An image the digit fills (MNIST itself, a screenshot) has a flat background, so its median
    tells. On a photo, evidence adds up in log-odds: how much thin dark and thin light features
    stand out from their surroundings (morphological top-hats) at a pen's width and, on a copy
    halved again, at a marker's, where steps such as a paper edge or a shadow and symmetric
    textures cancel out; and whether the border, mostly background, is darker than mid-range.
    Dark ink on paper is the usual photo, so light ink needs clear evidence.
    """
    low, high = np.percentile(coarse, [1, 99])
    if max(coarse.shape) < _COARSE:
        return float(np.median(coarse)) < (low + high) / 2
    ring = np.concatenate([coarse[0], coarse[-1], coarse[1:-1, 0], coarse[1:-1, -1]])
    evidence = float(np.clip(((low + high) / 2 - np.median(ring)) / 20.0, -2.0, 2.0))
    height, width = (coarse.shape[0] // 2) * 2, (coarse.shape[1] // 2) * 2
    halved = coarse[:height, :width].reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    for image in (coarse, halved):
        dark = ndimage.grey_closing(image, size=(5, 5)) - image
        light = image - ndimage.grey_opening(image, size=(5, 5))
        margin = 3.0 * float(np.median(dark + light)) + 4.0
        dark_mass = np.clip(dark - margin, 0, None).sum()
        light_mass = np.clip(light - margin, 0, None).sum()
        evidence += float(np.log((light_mass + 1.0) / (dark_mass + 1.0)))
    return evidence > _LIGHT_INK_EVIDENCE


_LIGHT_INK_EVIDENCE = 1.0
_COARSE = 64


def _digit_mask(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The digit's pixels (everything else on the page is dropped) and the paper's noise level
    (zero on a clean image, whose faintest anti-aliased pixels are then kept)."""
    sample = ink[::4, ::4]
    centre = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - centre)))
    threshold = max(0.07, centre + _NOISE_SIGMAS * sigma)
    mask = ink > threshold
    parts = _Components(ink, mask)
    frames = parts.frames()
    if frames.any():
        mask &= ~np.concatenate([[False], frames])[parts.labels]
    without_lines = _remove_lines(mask)
    if frames.any() or without_lines is not mask:
        parts = _Components(ink, without_lines)
    digit = parts.digit_mask()
    if digit.any():
        rows = np.flatnonzero(digit.any(axis=1))
        cols = np.flatnonzero(digit.any(axis=0))
        box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        inside, faint = digit[box], ink[box]
        strong = inside & (faint >= _STRONG * float(np.percentile(faint[inside], 90)))
        core = _Components(faint, strong).digit_mask()
        digit[box] = inside & ndimage.binary_dilation(core, iterations=2)
    pixels = ink[digit]
    if pixels.size < _MIN_INK_PIXELS or pixels.max() < max(_MIN_CONTRAST, threshold + 2 * sigma):
        raise PreprocessError(_NO_INK)
    return digit, max(0.0, centre + _NOISE_SIGMAS * sigma)


def _remove_lines(mask: np.ndarray) -> np.ndarray:
    """Drop ruled or squared paper lines and long straight edges, keeping strokes that cross them.

    A line is a thin band, within ±10° of horizontal or vertical, that covers most of the
    image's width or height; strokes are restored where ink continues on both sides of it.
    """
    if mask.sum() == 0:
        return mask
    lines = _lines_along(mask) | _lines_along(mask.T).T
    if not lines.any():
        return mask
    rest = mask & ~lines
    across = ndimage.binary_closing(rest, structure=np.ones((9, 1), bool)) | ndimage.binary_closing(
        rest, structure=np.ones((1, 9), bool)
    )
    rest |= lines & mask & across
    if rest.sum() < max(15, 0.01 * mask.sum()):
        return mask
    return rest


def _lines_along(mask: np.ndarray) -> np.ndarray:
    """Pixels of near-horizontal thin straight lines covering most of the width.

    A 3-pixel band counts as a line when it covers 60% of the columns and, at most of them,
    the rows 2 pixels beyond it are clear: a thick stroke or a blob is not a line.

    The lines' slope is the one whose row projection is sharpest (projection-profile skew
    estimation); a second pass catches lines that perspective tilted differently.
    """
    width = mask.shape[1]
    result = np.zeros_like(mask)
    if width < _LINE_MIN_IMAGE or mask.any(axis=0).sum() < _LINE_COVER * width:
        return result
    ys, xs = np.nonzero(mask)
    for _ in range(2):
        if ys.size == 0:
            break
        slope = _sharpest_slope(ys, xs, _SLOPES)
        slope = _sharpest_slope(ys, xs, slope + _SLOPE_STEPS)
        rows = np.floor(ys + xs * slope).astype(np.intp)
        rows -= rows.min()
        hits = np.zeros((rows.max() + 8, width), bool)
        hits[rows + 3, xs] = True
        band = hits[3:-4] | hits[4:-3] | hits[5:-2]
        flanked = band & hits[1:-6] & hits[7:]
        covered = band.sum(axis=1)
        thin = flanked.sum(axis=1) <= _LINE_FLANKED * covered
        lines = np.flatnonzero((covered >= _LINE_COVER * width) & thin)
        if lines.size == 0:
            break
        on_band = np.zeros(hits.shape[0], bool)
        for offset in range(3):
            on_band[lines + offset] = True
        on_line = on_band[rows]
        result[ys[on_line], xs[on_line]] = True
        ys, xs = ys[~on_line], xs[~on_line]
    return result


def _sharpest_slope(ys: np.ndarray, xs: np.ndarray, slopes: np.ndarray) -> float:
    scores = []
    for slope in slopes:
        rows = np.floor(ys + xs * slope).astype(np.intp)
        counts = np.bincount(rows - rows.min())
        scores.append(float(np.dot(counts, counts)))
    return float(slopes[int(np.argmax(scores))])


_LINE_COVER = 0.6
_LINE_FLANKED = 0.3
_LINE_MIN_IMAGE = 96
_SLOPES = np.tan(np.deg2rad(np.arange(-10.0, 10.5, 1.0)))
_SLOPE_STEPS = np.tan(np.deg2rad(np.arange(-0.75, 0.8, 0.25)))

_NO_INK = (
    "I could not find a digit in this picture; write one digit in dark ink on plain paper "
    "and photograph it up close, in good light."
)


class _Components:
    """Connected ink components with their mass and bounding box (top, bottom, left, right)."""

    def __init__(self, ink: np.ndarray, mask: np.ndarray) -> None:
        self.labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
        self.shape = mask.shape
        self.mass = np.bincount(self.labels[mask], ink[mask], count + 1)[1:]
        slices = ndimage.find_objects(self.labels)
        self.box = np.array(
            [[s[0].start, s[0].stop, s[1].start, s[1].stop] for s in slices], float
        ).reshape(-1, 4)
        height, width = self.shape
        box = self.box
        self.touches = (box[:, 0] == 0) | (box[:, 2] == 0)
        self.touches |= (box[:, 1] == height) | (box[:, 3] == width)
        self.substantial = self.mass >= 0.002 * max(float(self.mass.sum()), 1e-9)

    def frames(self) -> np.ndarray:
        """Components whose box encloses another substantial one: a frame or a circle drawn
        around the digit is not the digit."""
        box, mass = self.box, self.mass
        result = np.zeros(len(box), bool)
        for i in np.flatnonzero(self.substantial):
            inner = (
                (box[:, 0] > box[i, 0])
                & (box[:, 1] < box[i, 1])
                & (box[:, 2] > box[i, 2])
                & (box[:, 3] < box[i, 3])
                & (mass >= 0.15 * mass[i])
            )
            result[i] = inner.any()
        return result

    def digit_mask(self) -> np.ndarray:
        """Boolean mask of `digit`'s components."""
        chosen = np.zeros(len(self.mass) + 1, bool)
        chosen[self.digit()] = True
        return chosen[self.labels]

    def digit(self) -> list[int]:
        """Labels of the digit: the heaviest central component, preferring ones clear of the
        image border (paper edges, tables, shadows), plus pieces close to it (the detached top
        of a 5, the two strokes of an open 4) and no larger than it (a paper edge is not)."""
        if not self.substantial.any():
            return []
        height, width = self.shape
        box, mass = self.box, self.mass
        cy = (box[:, 0] + box[:, 1]) / 2 / height - 0.5
        cx = (box[:, 2] + box[:, 3]) / 2 / width - 0.5
        score = mass * (1.0 - 0.8 * np.hypot(cy, cx)) * np.where(self.touches, 0.25, 1.0)
        main = int(np.argmax(np.where(self.substantial, score, -1.0)))
        chosen = {main}
        union = box[main].copy()
        grew = True
        while grew:
            grew = False
            side = max(union[1] - union[0], union[3] - union[2])
            core = mass[list(chosen)].sum()
            gap_y = np.maximum(np.maximum(union[0] - box[:, 1], box[:, 0] - union[1]), 0)
            gap_x = np.maximum(np.maximum(union[2] - box[:, 3], box[:, 2] - union[3]), 0)
            near = (np.maximum(gap_y, gap_x) <= 0.3 * side) & (mass >= 0.05 * core)
            inside = (gap_y == 0) & (gap_x == 0) & (mass >= 0.02 * core)
            clear = ~self.touches | (mass >= 0.2 * core)
            extent = np.maximum(box[:, 1] - box[:, 0], box[:, 3] - box[:, 2])
            piece = (near | inside) & clear & (extent <= 1.2 * side) & self.substantial
            new = [i for i in np.flatnonzero(piece)]
            new = [int(i) for i in new if int(i) not in chosen]
            if new:
                chosen.update(new)
                union = np.array(
                    [
                        min(union[0], box[new, 0].min()),
                        max(union[1], box[new, 1].max()),
                        min(union[2], box[new, 2].min()),
                        max(union[3], box[new, 3].max()),
                    ]
                )
                grew = True
        return [i + 1 for i in chosen]


def _frame(ink: np.ndarray, mask: np.ndarray, floor: float) -> np.ndarray:
    """MNIST framing of the chosen ink: contrast and stroke normalised, 20 px box, centred."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    keep = ndimage.binary_dilation(mask[top:bottom, left:right], iterations=1)
    crop = np.where(keep, ink[top:bottom, left:right], 0.0)
    level = float(np.percentile(crop[mask[top:bottom, left:right]], 90))
    crop = np.clip((crop - floor) / max(level - floor, 1e-3), 0.0, 1.0)
    crop = _normalise_stroke(crop)
    return _centre(_fit_box(crop))


def _stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width: twice the area over the perimeter (exact for long straight strokes)."""
    padded = np.pad(binary, 1)
    perimeter = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(
        padded[:, 1:] != padded[:, :-1]
    )
    return 2.0 * np.count_nonzero(binary) / max(perimeter, 1)


def _normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Thicken hairlines, and thin down marker strokes, to MNIST's relative stroke width.

    A crop already at MNIST's scale is left alone: its strokes were drawn at that scale.
    """
    side = max(crop.shape)
    width = _stroke_width(crop >= 0.5) / side
    if side <= MNIST_BOX + 2 or STROKE_BAND[0] <= width <= STROKE_BAND[1]:
        return crop
    work = 2 * MNIST_BOX
    scale = work / side
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    crop = np.asarray(
        Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.BILINEAR),
        dtype=np.float32,
    )
    level = float(crop.max())
    if level > 0:
        crop = np.clip(crop / max(level * 0.8, 1e-3), 0.0, 1.0)
    width = _stroke_width(crop >= 0.5)
    target = STROKE_REL * work
    radius = round((target - width) / 2)
    if radius > 0:
        crop = ndimage.grey_dilation(crop, footprint=_disk(radius))
    elif radius < 0:
        eroded = ndimage.grey_erosion(crop, footprint=_disk(-radius))
        if eroded.max() >= 0.5:
            crop = eroded
    return _tight(crop)


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius + radius


def _tight(crop: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero((crop > 0.05).any(axis=1))
    cols = np.flatnonzero((crop > 0.05).any(axis=0))
    return crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the box's longer side is 20 px, aspect kept, anti-aliased.

    The box is that of the strokes at half their level: in MNIST the box of every inked pixel
    is also the box at half level, so a blur halo outside it is not part of the digit.
    """
    rows = np.flatnonzero((crop >= _BOX_LEVEL).any(axis=1))
    cols = np.flatnonzero((crop >= _BOX_LEVEL).any(axis=0))
    crop = crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = MNIST_BOX / max(crop.shape)
    if scale == 1.0:
        return crop
    size = (
        max(1, min(MNIST_BOX, round(crop.shape[1] * scale))),
        max(1, min(MNIST_BOX, round(crop.shape[0] * scale))),
    )
    kernel = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    image = Image.fromarray(crop.astype(np.float32)).resize(size, kernel)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


_BOX_LEVEL = 0.5


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so the centre of mass lands on the centre, as MNIST did."""
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    height, width = digit.shape
    total = float(digit.sum())
    if total > 0:
        cy = float((digit.sum(axis=1) * np.arange(height)).sum() / total)
        cx = float((digit.sum(axis=0) * np.arange(width)).sum() / total)
    else:
        cy, cx = (height - 1) / 2, (width - 1) / 2
    top = int(np.clip(round(MNIST_SIZE / 2 - cy), 0, MNIST_SIZE - height))
    left = int(np.clip(round(MNIST_SIZE / 2 - cx), 0, MNIST_SIZE - width))
    out[top : top + height, left : left + width] = digit
    return np.round(out * (255.0 / max(float(out.max()), 1e-6))).astype(np.uint8)
