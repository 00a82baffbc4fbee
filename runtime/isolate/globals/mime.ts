/** Inside the isolate: the MIME Sniffing Standard's parse and serialize, for Content-Type. */
import { TOKEN } from "./convert.ts";

export interface MimeType {
  type: string;
  subtype: string;
  /** Lower-case names; values as sent. */
  parameters: Map<string, string>;
}

const QUOTED_STRING_TOKEN = /^[\t\x20-\x7e\x80-\xff]*$/;
const isWhitespace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r";

export function parseMimeType(input: string): MimeType | null {
  let start = 0;
  let end = input.length;
  while (start < end && isWhitespace(input[start])) start++;
  while (end > start && isWhitespace(input[end - 1])) end--;
  const s = input.slice(start, end);

  let pos = s.indexOf("/");
  if (pos <= 0) return null;
  const type = s.slice(0, pos);
  if (!TOKEN.test(type)) return null;
  pos++;
  let semi = s.indexOf(";", pos);
  if (semi === -1) semi = s.length;
  const subtype = s.slice(pos, semi).replace(/[ \t\n\r]+$/, "");
  if (subtype === "" || !TOKEN.test(subtype)) return null;
  const mime: MimeType = { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters: new Map() };
  pos = semi;

  while (pos < s.length) {
    pos++; // past ";"
    while (pos < s.length && isWhitespace(s[pos])) pos++;
    let nameEnd = pos;
    while (nameEnd < s.length && s[nameEnd] !== ";" && s[nameEnd] !== "=") nameEnd++;
    const name = s.slice(pos, nameEnd).toLowerCase();
    pos = nameEnd;
    if (pos < s.length) {
      if (s[pos] === ";") continue;
      pos++; // past "="
    }
    if (pos >= s.length) break;
    let value: string;
    if (s[pos] === '"') {
      [value, pos] = collectQuotedString(s, pos);
      while (pos < s.length && s[pos] !== ";") pos++;
    } else {
      let valueEnd = s.indexOf(";", pos);
      if (valueEnd === -1) valueEnd = s.length;
      value = s.slice(pos, valueEnd).replace(/[ \t\n\r]+$/, "");
      pos = valueEnd;
      if (value === "") continue;
    }
    if (name !== "" && TOKEN.test(name) && QUOTED_STRING_TOKEN.test(value) && !mime.parameters.has(name)) {
      mime.parameters.set(name, value);
    }
  }
  return mime;
}

/** Fetch's "collect an HTTP quoted string" with the value extracted; pos is at the `"`. */
function collectQuotedString(s: string, pos: number): [string, number] {
  let value = "";
  pos++;
  while (pos < s.length) {
    const c = s[pos]!;
    if (c === '"') return [value, pos + 1];
    if (c === "\\") {
      pos++;
      if (pos >= s.length) return [value + "\\", pos];
      value += s[pos]!;
      pos++;
      continue;
    }
    value += c;
    pos++;
  }
  return [value, pos];
}

export function serializeMimeType(mime: MimeType): string {
  let out = `${mime.type}/${mime.subtype}`;
  for (const [name, value] of mime.parameters) {
    const quoted = value === "" || !TOKEN.test(value);
    out += `;${name}=${quoted ? `"${value.replace(/(["\\])/g, "\\$1")}"` : value}`;
  }
  return out;
}

export function essence(mime: MimeType): string {
  return `${mime.type}/${mime.subtype}`;
}
