#!/usr/bin/env python3
"""Draws Callcard's icons (app icon and the three tray states) as RGBA PNGs.

No image library needed: shapes are signed-distance functions sampled with
4x4 supersampling, written with zlib. Run from the project root; the PNGs are
committed, so this only runs when the design changes.
"""
import math, struct, zlib, os

def png(path, size, shade):
    rows = bytearray()
    ss = 4
    for y in range(size):
        rows.append(0)
        for x in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(ss):
                for sx in range(ss):
                    u = (x + (sx + 0.5) / ss) / size
                    v = (y + (sy + 0.5) / ss) / size
                    r, g, b, a = shade(u, v)
                    acc[0] += r * a; acc[1] += g * a; acc[2] += b * a; acc[3] += a
            n = ss * ss
            a = acc[3] / n
            if a > 0:
                rows += bytes([round(acc[0] / acc[3]), round(acc[1] / acc[3]), round(acc[2] / acc[3]), round(a * 255)])
            else:
                rows += bytes([0, 0, 0, 0])
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)

def rounded_box(u, v, cx, cy, hw, hh, r):
    dx = max(abs(u - cx) - hw + r, 0); dy = max(abs(v - cy) - hh + r, 0)
    return math.hypot(dx, dy) - r <= 0 and abs(u - cx) <= hw and abs(v - cy) <= hh

def over(layers):
    def shade(u, v):
        for test, color in layers:
            if test(u, v):
                return color
        return (0, 0, 0, 0)
    return shade

BLUE = (31, 111, 235, 1); WHITE = (255, 255, 255, 1); INK = (31, 111, 235, 1)
GREY = (110, 118, 129, 1); RED = (218, 54, 51, 1)

def card_layers(bg):
    return [
        # text lines on the card
        (lambda u, v: rounded_box(u, v, 0.56, 0.44, 0.14, 0.035, 0.03), bg),
        (lambda u, v: rounded_box(u, v, 0.52, 0.58, 0.10, 0.03, 0.03), bg),
        # the "photo" circle
        (lambda u, v: math.hypot(u - 0.34, v - 0.5) <= 0.09, bg),
        # the card
        (lambda u, v: rounded_box(u, v, 0.5, 0.5, 0.30, 0.21, 0.06), WHITE),
        (lambda u, v: rounded_box(u, v, 0.5, 0.5, 0.46, 0.46, 0.14), bg),
    ]

os.makedirs("icons", exist_ok=True)
app = over(card_layers(BLUE))
for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
    png(os.path.join("icons", name), size, app)

png("icons/tray-normal.png", 64, over(card_layers(BLUE)))
paused = [
    (lambda u, v: rounded_box(u, v, 0.40, 0.5, 0.06, 0.2, 0.03), WHITE),
    (lambda u, v: rounded_box(u, v, 0.60, 0.5, 0.06, 0.2, 0.03), WHITE),
    (lambda u, v: rounded_box(u, v, 0.5, 0.5, 0.46, 0.46, 0.14), GREY),
]
png("icons/tray-paused.png", 64, over(paused))
trouble = [
    (lambda u, v: rounded_box(u, v, 0.5, 0.42, 0.06, 0.22, 0.05), WHITE),
    (lambda u, v: math.hypot(u - 0.5, v - 0.76) <= 0.07, WHITE),
    (lambda u, v: rounded_box(u, v, 0.5, 0.5, 0.46, 0.46, 0.14), RED),
]
png("icons/tray-trouble.png", 64, over(trouble))
