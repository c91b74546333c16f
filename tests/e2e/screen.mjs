// The whole virtual screen (Xvfb's root window, not only a webview): where a
// window is (`xwininfo`), and a PNG of everything on it (`xwd -root`,
// converted here: no image tool to install).

import { execFileSync } from "node:child_process";
import { deflateSync } from "node:zlib";

/** The geometry of the screen, or of the top-level window titled `name`. */
export function geometry(name) {
  const args = name === undefined ? ["-root"] : ["-name", name];
  const text = execFileSync("xwininfo", args, { encoding: "utf8" });
  const field = (label) => Number(new RegExp(`${label}:\\s+(-?\\d+)`).exec(text)?.[1]);
  return { x: field("Absolute upper-left X"), y: field("Absolute upper-left Y"), width: field("Width"), height: field("Height") };
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG of the whole screen, from an XWD dump of the root window (24/32-bit TrueColor). */
export function screenPng() {
  const xwd = execFileSync("xwd", ["-root", "-silent"], { maxBuffer: 64 * 1024 * 1024 });
  const u32 = (i) => xwd.readUInt32BE(i * 4);
  const [headerSize, , , , width, height, , byteOrder, , , , bitsPerPixel, bytesPerLine] = Array.from({ length: 13 }, (_, i) => u32(i));
  const [redMask, greenMask, blueMask] = [u32(14), u32(15), u32(16)];
  const colors = u32(19);
  if (bitsPerPixel !== 32 && bitsPerPixel !== 24) throw new Error(`xwd gave ${bitsPerPixel} bits per pixel; 24 and 32 are read here`);
  const bytes = bitsPerPixel / 8;
  const shift = (mask) => 31 - Math.clz32(mask & -mask);
  const pixels = headerSize + colors * 12;
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width * 3 + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const at = pixels + y * bytesPerLine + x * bytes;
      const value = byteOrder === 0 ? xwd.readUIntLE(at, bytes) : xwd.readUIntBE(at, bytes);
      const out = y * (width * 3 + 1) + 1 + x * 3;
      rows[out] = (value & redMask) >>> shift(redMask);
      rows[out + 1] = (value & greenMask) >>> shift(greenMask);
      rows[out + 2] = (value & blueMask) >>> shift(blueMask);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
