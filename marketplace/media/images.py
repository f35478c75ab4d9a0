"""Pictures people upload, made safe and small: decoded by Pillow (anything else is refused), turned upright,
stripped of metadata (no GPS from a phone photo), resized and re-encoded as WebP."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.i18n import N_

#: Formats we decode; everything is re-encoded, so nothing the browser gets is the uploaded file itself.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
#: A picture bigger than this is refused before it is decoded (a "decompression bomb" would eat the memory).
MAX_PIXELS = 40_000_000

#: The longest side each kind of picture is resized to.
SIZES = {"photo": 480, "logo": 480, "product": 960, "portfolio": 960}


class ImageRejected(ValueError):
    """The upload isn't a picture we accept; ``message`` is a msgid (translated where it is shown)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:24]


def process_image(data: bytes, kind: str, *, max_bytes: int) -> ProcessedImage:
    if not data:
        raise ImageRejected(N_("Choose a picture to upload."))
    if len(data) > max_bytes:
        raise ImageRejected(N_("That picture is too large; pictures can be up to 10 MB."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise ImageRejected(N_("Upload a JPEG, PNG, WebP or GIF picture."))
                if probe.width * probe.height > MAX_PIXELS:
                    raise ImageRejected(N_("That picture has too many pixels; upload a smaller one."))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)  # the first frame of an animation
                picture = ImageOps.exif_transpose(image)
                picture = picture.convert("RGBA" if picture.mode in {"RGBA", "LA", "P", "PA"} else "RGB")
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ImageRejected(N_("That file isn't a picture we can read; upload a JPEG, PNG, WebP or GIF.")) from exc
    side = SIZES[kind]
    picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=82, method=4)
    return ProcessedImage(out.getvalue(), "image/webp", picture.width, picture.height)
