"""The receipt (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) in a photo: its QR code or barcode read with `zxing-cpp`,
and the dossier code it carries (bare, or inside a provincial portal's lookup link).

Images come from people: they are bounded before anything decodes them (bytes, pixels, time: `MAX_BYTES`,
`MAX_PIXELS`, `FETCH_TIMEOUT`), read in a worker thread, and never stored.
"""

from __future__ import annotations

import asyncio
import io
import weakref
from collections.abc import Iterable, Iterator

import httpx

from bot.dossiers import typed_code

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # what a phone or a chat app sends; nothing more is parsed
MAX_BYTES = 10 * 1024 * 1024  # Telegram's photos are at most 10 MB; a receipt's photo is far less
MAX_PIXELS = 50_000_000  # a 50-megapixel phone photo; more is a decompression bomb, not a receipt
WORK_SIDE = 2400  # larger photos are scaled down to this before decoding (a receipt's QR stays hundreds of pixels)
SMALL_SIDE = 1200  # smaller ones are also tried scaled up (a QR photographed from afar)
TILTS = (-15, 15, -30, 30)  # degrees a photo is turned back, last, to level a tilted barcode
FETCH_TIMEOUT = 15.0  # seconds to download an image


class ImageRefused(Exception):
    """The image is too large, or not an image: an answer, not a traceback."""


# Per event loop: photos are decoded one after another.
_ONE_AT_A_TIME: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def read_codes(data: bytes) -> list[str]:
    """`decode` in a worker thread, one photo at a time: a burst of photos takes turns instead of taking both cores
    from every other chat."""
    loop = asyncio.get_running_loop()
    gate = _ONE_AT_A_TIME.setdefault(loop, asyncio.Semaphore(1))
    async with gate:
        return await asyncio.to_thread(decode, data)


def decode(data: bytes) -> list[str]:
    """The texts of the QR codes and barcodes in an image (empty when it has none that can be read). Tries the
    photo as it is, then with its noise smoothed, then (a small one) scaled up. ImageRefused for what is too
    large or not an image."""
    import zxingcpp
    from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ImageRefused(f"{len(data)} bytes")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise ImageRefused(f"{width}×{height} pixels")
            image = ImageOps.exif_transpose(opened).convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageRefused(str(exc)) from exc
    if max(image.size) > WORK_SIDE:
        image.thumbnail((WORK_SIDE, WORK_SIDE))

    def attempts() -> Iterator[Image.Image]:
        yield image
        yield image.filter(ImageFilter.GaussianBlur(1))  # (a median filter would hold the GIL for most of a second)
        if max(image.size) < SMALL_SIDE:
            yield image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)
        for angle in TILTS:  # a barcode's bars read only when nearly level (a QR code reads at any angle)
            yield image.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BILINEAR)

    for attempt in attempts():
        found = [result.text for result in zxingcpp.read_barcodes(attempt) if result.text]
        if found:
            return found
    return []


def code_in(texts: Iterable[str]) -> str | None:
    """The dossier code a receipt's QR code or barcode carries: the text itself, or a link with the code in it
    (`typed_code`)."""
    return next((code for text in texts if (code := typed_code(text))), None)


async def fetch_image(url: str, client: httpx.AsyncClient | None = None) -> bytes:
    """An image by its https URL (Zalo sends photos so), at most MAX_BYTES, within FETCH_TIMEOUT seconds.
    ImageRefused for anything else (the error is the answer, not a traceback)."""
    if not url.startswith("https://") and not url.startswith("http://"):
        raise ImageRefused("not a web address")
    own = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(FETCH_TIMEOUT), follow_redirects=True)
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            async with http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ImageRefused(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_BYTES:
                    raise ImageRefused(f"{declared} bytes")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise ImageRefused("more than the limit")
                return bytes(body)
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
        raise ImageRefused(f"could not download: {exc}") from exc
    finally:
        if own:
            await http.aclose()
