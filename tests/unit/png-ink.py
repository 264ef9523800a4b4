#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""png-ink.py PNG [MIN_DARK_FRACTION]: fail unless the image has ink.

Decodes an 8-bit RGB or RGBA (or grey, grey+alpha) non-interlaced PNG with
the standard library only (zlib, struct; filter types 0-4), counts pixels
darker than luminance 128 (alpha composited over white) and exits 0 when
more than MIN_DARK_FRACTION (default 0.005) of them are dark and not all
pixels are the same. Prints the figures either way; exit 1 when the image
is blank, 2 when it cannot be decoded.
"""
import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


class PNGError(Exception):
    pass


def read_chunks(data):
    if not data.startswith(SIGNATURE):
        raise PNGError("not a PNG (bad signature)")
    pos = len(SIGNATURE)
    while pos + 12 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise PNGError("truncated %s chunk" % ctype.decode("latin-1"))
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise PNGError("bad CRC in %s chunk" % ctype.decode("latin-1"))
        yield ctype, body
        pos += 12 + length
        if ctype == b"IEND":
            return
    raise PNGError("no IEND chunk")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter(raw, width, height, bpp):
    """Undo the per-scanline filters; returns a list of bytearrays."""
    stride = width * bpp
    if len(raw) < height * (stride + 1):
        raise PNGError("image data too short: %d < %d" % (len(raw), height * (stride + 1)))
    rows = []
    prev = bytearray(stride)
    pos = 0
    for _ in range(height):
        ftype = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += stride + 1
        if ftype == 0:
            pass
        elif ftype == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + paeth(left, prev[i], upleft)) & 0xFF
        else:
            raise PNGError("unknown filter type %d" % ftype)
        rows.append(line)
        prev = line
    return rows


def decode(data):
    """Returns (width, height, channels, rows)."""
    header = None
    idat = []
    for ctype, body in read_chunks(data):
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
    if header is None:
        raise PNGError("no IHDR chunk")
    width, height, depth, colour, _compression, _filter, interlace = header
    if depth != 8 or colour not in CHANNELS:
        raise PNGError("unsupported: bit depth %d, colour type %d (want 8-bit grey/RGB/RGBA)" % (depth, colour))
    if interlace:
        raise PNGError("interlaced PNG not supported")
    if width == 0 or height == 0:
        raise PNGError("empty image %dx%d" % (width, height))
    channels = CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    return width, height, channels, unfilter(raw, width, height, channels)


def luminance(px, channels):
    if channels >= 3:
        r, g, b = px[0], px[1], px[2]
    else:
        r = g = b = px[0]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    if channels in (2, 4):  # composite over white
        a = px[channels - 1] / 255.0
        y = y * a + 255.0 * (1.0 - a)
    return y


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: png-ink.py PNG [MIN_DARK_FRACTION]", file=sys.stderr)
        return 2
    want = float(argv[2]) if len(argv) == 3 else 0.005
    try:
        with open(argv[1], "rb") as f:
            width, height, channels, rows = decode(f.read())
    except (OSError, PNGError, zlib.error, struct.error) as e:
        print("%s: %s" % (argv[1], e), file=sys.stderr)
        return 2

    dark = 0
    first = bytes(rows[0][:channels])
    uniform = True
    for line in rows:
        mv = memoryview(line)
        for i in range(0, len(line), channels):
            px = mv[i:i + channels]
            if uniform and bytes(px) != first:
                uniform = False
            if luminance(px, channels) < 128:
                dark += 1
    total = width * height
    fraction = dark / total
    print("%s: %dx%d, %d channels, %d of %d pixels dark (%.3f%%), %s" % (
        argv[1], width, height, channels, dark, total, 100 * fraction,
        "all pixels the same" if uniform else "pixels differ"))
    if uniform:
        print("blank: every pixel is the same", file=sys.stderr)
        return 1
    if fraction <= want:
        print("blank: %.3f%% dark pixels, want more than %.3f%%" % (100 * fraction, 100 * want), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
