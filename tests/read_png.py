#!/usr/bin/python3
"""Decodes the plot mode's PNGs with zlib (the PNG specification's filters
re-implemented here, no imaging library) and checks that what is drawn
follows the data.

    read_png.py curves PNG W H      the first palette colour (31,119,180)
                                    draws a rising curve: its pixels'
                                    height grows with x, across the plot
    read_png.py samples PNG W H CH  dark (note) pixels form exactly two bars:
                                    a prefix note at key HI and a held
                                    sampled note at key LO (HI > LO): the
                                    first left of the red boundary line and
                                    higher, by (HI - LO) * CH pixels, the
                                    second starting at the boundary and
                                    running to the panel's end.
Prints "ok ..." and exits 0; any mismatch raises."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, "bad CRC in " + kind.decode()
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
            else:
                assert f == 0, "filter %d" % f
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def components(points):
    """4-connected components of a set of (x, y)."""
    left, out = set(points), []
    while left:
        stack, comp = [left.pop()], []
        while stack:
            x, y = stack.pop()
            comp.append((x, y))
            for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if q in left:
                    left.remove(q)
                    stack.append(q)
        out.append(comp)
    return out


def main():
    what, path, W, H = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    w, h, rows = decode(path)
    assert (w, h) == (W, H), ((w, h), (W, H))
    if what == "curves":
        pts = [(x, y) for y in range(h) for x in range(w)
               if sum(abs(a - b) for a, b in zip(rows[y][x], (31, 119, 180))) < 40]
        # the plot area is x in [90, w - 230]; the legend swatch is outside it
        pts = [(x, y) for x, y in pts if 90 < x < w - 230]
        assert len(pts) > 200, "only %d curve pixels" % len(pts)
        xs = sorted(set(x for x, _ in pts))
        assert xs[-1] - xs[0] > 0.9 * (w - 320), "curve spans x %d..%d" % (xs[0], xs[-1])
        # mean height per tenth of the span: rising to the right (smaller y)
        span = (xs[-1] - xs[0]) / 10.0
        means = []
        for k in range(10):
            ys = [y for x, y in pts if xs[0] + k * span <= x < xs[0] + (k + 1) * span + 1]
            means.append(sum(ys) / len(ys))
        assert all(b < a for a, b in zip(means, means[1:])), means
        assert means[0] - means[-1] > 0.6 * (h - 108), means
        print("ok curves %dx%d, %d pixels of the first curve, rising" % (w, h, len(pts)))
    else:
        ch, hi, lo = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
        dark = [(x, y) for y in range(h) for x in range(w) if max(rows[y][x]) < 60]
        red = sorted(set(x for y in range(h) for x in range(w)
                         if rows[y][x][0] > 180 and rows[y][x][1] < 60 and rows[y][x][2] < 60))
        assert len(red) == 1, "boundary line at x %s" % red
        comps = sorted(components(dark), key=lambda c: min(x for x, _ in c))
        assert len(comps) == 2, "%d dark shapes" % len(comps)
        boxes = []
        for c in comps:
            x0, x1 = min(x for x, _ in c), max(x for x, _ in c)
            y0, y1 = min(y for _, y in c), max(y for _, y in c)
            assert len(c) == (x1 - x0 + 1) * (y1 - y0 + 1), "not a filled bar"
            assert y1 - y0 + 1 == ch, "bar height %d, cell height %d" % (y1 - y0 + 1, ch)
            assert x1 - x0 + 1 > 3 * ch, "not horizontal"
            boxes.append((x0, x1, y0, y1))
        (p0, p1, py, _), (s0, s1, sy, _) = boxes
        assert p1 < red[0] <= s0 + 1, (boxes, red)
        assert sy - py == (hi - lo) * ch, "pitch distance %d, want %d" % (sy - py, (hi - lo) * ch)
        print("ok samples %dx%d, prefix bar x %d..%d, sample bar x %d..%d, boundary %d" % (
            w, h, p0, p1, s0, s1, red[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
