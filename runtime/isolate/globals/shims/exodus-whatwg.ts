/**
 * Inside the isolate: stands in for `@exodus/bytes/whatwg.js` under whatwg-url (esbuild alias).
 * The URL API always percent-encodes after UTF-8 (legacy document encodings only matter to
 * HTML form submission), so the legacy encoders and their tables stay out of every context.
 */
import { encodeUtf8 } from "../utf8.ts";

const HEX = "0123456789ABCDEF";
const cache = new Map<string, string[]>();

function table(set: string, spaceAsPlus: boolean): string[] {
  const key = set + (spaceAsPlus ? "+" : "");
  let map = cache.get(key);
  if (map === undefined) {
    map = [];
    for (let b = 0; b < 256; b++) {
      const escaped = "%" + HEX[b >> 4]! + HEX[b & 15]!;
      map.push(b < 0x20 || b > 0x7e || set.includes(String.fromCharCode(b)) ? escaped : String.fromCharCode(b));
    }
    if (spaceAsPlus) map[0x20] = "+";
    cache.set(key, map);
  }
  return map;
}

export function percentEncodeAfterEncoding(encoding: string, input: string, percentEncodeSet: string, spaceAsPlus = false): string {
  if (encoding.toLowerCase() !== "utf-8" && encoding.toLowerCase() !== "utf8") {
    throw new RangeError(`edgefn: only UTF-8 percent-encoding is available, not ${encoding}`);
  }
  const map = table(percentEncodeSet, spaceAsPlus);
  const bytes = encodeUtf8(input);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += map[bytes[i]!]!;
  return out;
}
