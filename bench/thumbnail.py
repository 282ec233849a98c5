"""The preview of a 12-megapixel photo: `python -m bench.thumbnail` (issue 30).

A 4000 x 3000 JPEG (a phone camera's, with EXIF and a GPS position) made with Pillow, then
`messaging.attachments.thumbnail_bytes` (what the worker's messaging.make_thumbnail does
besides storing the result) timed 20 times: p50 and p99 in ms, the preview's size, and
Pillow's `draft` mode (the JPEG decoder scales while it decodes) against decoding every
pixel first, which is what the task would do without it.
"""

import io
import statistics
import time

from bench.common import machine, setup_without_reset, table

setup_without_reset()

from PIL import Image, ImageDraw  # noqa: E402

from messaging import attachments  # noqa: E402

RUNS = 20


def photo() -> bytes:
    image = Image.new("RGB", (4000, 3000))
    draw = ImageDraw.Draw(image)
    for y in range(0, 3000, 4):
        draw.line([(0, y), (4000, y)], fill=(y % 256, (y * 7) % 256, 200))
    for x in range(0, 4000, 50):
        draw.line([(x, 0), (4000 - x, 3000)], fill=(255, x % 256, 0), width=3)
    exif = Image.Exif()
    exif[0x010F] = "Phone"
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def full_decode(data: bytes) -> bytes:
    """The same preview without draft mode: every pixel decoded, then shrunk."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image.thumbnail((480, 480))
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=82, optimize=True)
        return out.getvalue()


def timed(make, data: bytes) -> tuple[list[float], int]:
    made = make(io.BytesIO(data)) if make is attachments.thumbnail_bytes else make(data)
    result = []
    for _ in range(RUNS):
        start = time.perf_counter()
        if make is attachments.thumbnail_bytes:
            make(io.BytesIO(data))
        else:
            make(data)
        result.append((time.perf_counter() - start) * 1000)
    return sorted(result), len(made)


def main():
    data = photo()
    rows = []
    for name, make in (
        ("thumbnail_bytes (draft mode, as the task)", attachments.thumbnail_bytes),
        ("decoding every pixel first", full_decode),
    ):
        measured, size = timed(make, data)
        p99 = measured[int(len(measured) * 0.99) - 1]
        rows.append(
            [name, f"{statistics.median(measured):.0f}", f"{p99:.0f}", f"{size / 1024:.0f} KiB"]
        )
    base = float(rows[1][1])
    for row in rows:
        row.append(f"{float(row[1]) / base:.2f}x")
    table(
        f"Preview of a 12-megapixel JPEG ({len(data) / 2**20:.1f} MiB, 4000 x 3000, with EXIF "
        f"and GPS) ({machine()}, {RUNS} runs, ms)",
        ["how", "p50", "p99", "preview", "p50 ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
