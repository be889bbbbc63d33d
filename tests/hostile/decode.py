"""Find a secret in a page however a hostile learner may have disguised it.

A submission that got hold of a hidden check (or a hidden input) would not print it plainly: it
would escape it as HTML entities, hide it between ANSI colour codes or zero-width characters,
encode it in base64, base32 or hex, or reverse it. ``leaks(page, secret)`` undoes each of those
and says which form of ``secret`` it found.
"""

from __future__ import annotations

import base64
import binascii
import html
import re

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
TAGS = re.compile(r"<[^>]{0,2000}>")


def normalise(page: str) -> str:
    """The page as text: tags dropped, entities decoded (twice: double escaping), codes out."""
    text = TAGS.sub("", page)
    for _ in range(2):
        text = html.unescape(text)
    text = ANSI.sub("", text)
    return ZERO_WIDTH.sub("", text)


def _b64_fragments(secret: bytes, encode) -> list[str]:
    """Encodings of ``secret`` at every alignment, trimmed to the part that never changes."""
    out = []
    block = 3 if encode is base64.b64encode else 5
    for offset in range(block):
        padded = b"\0" * offset + secret
        text = encode(padded).decode().rstrip("=")
        skip = (offset * 8 + (6 if block == 3 else 5) - 1) // (6 if block == 3 else 5)
        out.append(text[skip + 1 : -2])
    return [f for f in out if len(f) >= 8]


def forms(secret: str) -> dict[str, list[str]]:
    raw = secret.encode()
    return {
        "plain": [secret],
        "reversed": [secret[::-1]],
        "hex": [binascii.hexlify(raw).decode(), binascii.hexlify(raw).decode().upper()],
        "base64": _b64_fragments(raw, base64.b64encode)
        + _b64_fragments(raw, base64.urlsafe_b64encode),
        "base32": _b64_fragments(raw, base64.b32encode),
    }


def leaks(page: str, secret: str) -> list[str]:
    """The forms of ``secret`` found in ``page`` (empty: none)."""
    texts = [page, normalise(page)]
    found = []
    for name, variants in forms(secret).items():
        if any(v and v in t for v in variants for t in texts):
            found.append(name)
    return found
