"""Pictures of digits: grids of 28x28 images and the confusion matrix, drawn with Pillow."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["confusion_image", "grid_image"]


def grid_image(
    images: np.ndarray, *, columns: int = 8, scale: int = 3, gap: int = 2
) -> Image.Image:
    """Tile images, shape (n, 28, 28) uint8 white on black, into one grayscale picture."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"expected a non-empty stack of images (n, h, w), got {images.shape}")
    n, h, w = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    cell_h, cell_w = h * scale + gap, w * scale + gap
    canvas = Image.new("L", (columns * cell_w + gap, rows * cell_h + gap), color=40)
    for i, img in enumerate(images):
        tile = Image.fromarray(img).resize((w * scale, h * scale), Image.Resampling.NEAREST)
        canvas.paste(tile, (gap + (i % columns) * cell_w, gap + (i // columns) * cell_h))
    return canvas


def confusion_image(confusion: np.ndarray, *, cell: int = 36) -> Image.Image:
    """Heat map of a (n_clusters, 10) confusion table, rows = clusters, columns = digits."""
    table = np.asarray(confusion)
    n_rows, n_cols = table.shape
    margin = cell
    image = Image.new("RGB", (margin + n_cols * cell, margin + n_rows * cell), "white")
    draw = ImageDraw.Draw(image)
    peak = max(int(table.max()), 1)
    for d in range(n_cols):
        draw.text((margin + d * cell + cell // 3, cell // 3), str(d), fill="black")
    for c in range(n_rows):
        draw.text((cell // 4, margin + c * cell + cell // 3), f"c{c}", fill="black")
        for d in range(n_cols):
            shade = 255 - int(200 * table[c, d] / peak)
            box = (
                margin + d * cell,
                margin + c * cell,
                margin + (d + 1) * cell,
                margin + (c + 1) * cell,
            )
            draw.rectangle(box, fill=(shade, shade, 255), outline="white")
            if table[c, d]:
                colour = "white" if shade < 140 else "black"
                draw.text((box[0] + 3, box[1] + cell // 3), str(int(table[c, d])), fill=colour)
    return image
