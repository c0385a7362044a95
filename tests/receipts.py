"""Receipts as a citizen photographs them: a printed page (title, lines of text, the QR code or barcode of the
dossier code or of a lookup link) turned, scaled, blurred, noisy and lit unevenly, saved as a phone would (JPEG)."""

from __future__ import annotations

import io

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter


def page(content: str, *, barcode: bool = False) -> Image.Image:
    """An A5 receipt at 150 dpi with the code printed as a QR code (or a Code 128 barcode) near its top right."""
    sheet = Image.new("L", (874, 1240), 255)
    draw = ImageDraw.Draw(sheet)
    draw.text((60, 60), "UBND XA HUU LUNG - TRUNG TAM PHUC VU HANH CHINH CONG", fill=0)
    draw.text((60, 200), "GIAY TIEP NHAN HO SO VA HEN TRA KET QUA", fill=0)
    for line in range(14):
        draw.text((60, 260 + line * 36), f"{line + 1}. Noi dung ho so ................................", fill=40)
    kind = zxingcpp.BarcodeFormat.Code128 if barcode else zxingcpp.BarcodeFormat.QRCode
    code = Image.fromarray(np.asarray(zxingcpp.create_barcode(content, kind).to_image(scale=2 if barcode else 5)))
    sheet.paste(code, (874 - code.width - 50, 90) if not barcode else (60, 880))
    return sheet


def photographed(sheet: Image.Image, *, angle: float, scale: float, blur: float, noise: float, seed: int = 1) -> bytes:
    """The page as a phone photo of it on a desk: turned by `angle` degrees, scaled, blurred, with sensor noise
    and light falling off to one side; a JPEG."""
    turned = sheet.rotate(angle, expand=True, fillcolor=110, resample=Image.Resampling.BILINEAR)
    size = (round(turned.width * scale), round(turned.height * scale))
    shot = turned.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(shot).astype(np.float32)
    light = np.linspace(1.0, 0.75, pixels.shape[1], dtype=np.float32)[None, :]
    pixels = pixels * light + np.random.default_rng(seed).normal(0, noise, pixels.shape).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB").save(out, format="JPEG", quality=82)
    return out.getvalue()


def blank_photo() -> bytes:
    """A photo with no code on it (a page of text)."""
    sheet = Image.new("L", (600, 800), 250)
    ImageDraw.Draw(sheet).text((40, 40), "Khong co ma", fill=0)
    out = io.BytesIO()
    sheet.convert("RGB").save(out, format="JPEG")
    return out.getvalue()
