/**
 * Inside the isolate: TextEncoder and TextDecoder (WHATWG Encoding). UTF-8 (utf8.ts), UTF-16LE/BE,
 * windows-1252 (what "latin1"/"ascii" mean there) and x-user-defined are decoded here in plain
 * JS; other legacy encodings go to the host (`host.textDecode`, Node's ICU decoder) once per
 * call. Those are stateless on the host, so a multi-byte legacy encoding decoded with
 * `stream: true` is buffered until the final call.
 */
import type { Host } from "./host.ts";
import { toBytes } from "./bytes.ts";
import { EncodingError, Utf8Decoder, encodeUtf8, encodeUtf8Into } from "./utf8.ts";

const REPLACEMENT = 0xfffd;
const CHUNK = 0x2000;

/** Pure-JS encoder and decoder states: each call takes bytes and says whether more follow. */
interface Decoder {
  decode(bytes: Uint8Array, stream: boolean): string;
}

/** Appends UTF-16 code units and turns them into a string in chunks (apply() has a limit). */
class Units {
  out = "";
  buf = new Uint16Array(CHUNK + 2);
  n = 0;
  push(unit: number): void {
    this.buf[this.n++] = unit;
    if (this.n >= CHUNK) this.flush();
  }
  flush(): string {
    if (this.n > 0) {
      this.out += String.fromCharCode.apply(null, this.buf.subarray(0, this.n) as unknown as number[]);
      this.n = 0;
    }
    return this.out;
  }
}

/** The shared UTF-16 decoder (big or little endian). */
class Utf16Decoder implements Decoder {
  #fatal: boolean;
  #be: boolean;
  #leadByte = -1;
  #leadSurrogate = -1;

  constructor(be: boolean, fatal: boolean) {
    this.#be = be;
    this.#fatal = fatal;
  }

  decode(bytes: Uint8Array, stream: boolean): string {
    const units = new Units();
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (this.#leadByte === -1) {
        this.#leadByte = byte;
        continue;
      }
      const unit = this.#be ? (this.#leadByte << 8) | byte : (byte << 8) | this.#leadByte;
      this.#leadByte = -1;
      if (this.#leadSurrogate !== -1) {
        const lead = this.#leadSurrogate;
        this.#leadSurrogate = -1;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          units.push(lead);
          units.push(unit);
          continue;
        }
        this.#error(units);
      }
      if (unit >= 0xd800 && unit <= 0xdbff) this.#leadSurrogate = unit;
      else if (unit >= 0xdc00 && unit <= 0xdfff) this.#error(units);
      else units.push(unit);
    }
    if (!stream && (this.#leadByte !== -1 || this.#leadSurrogate !== -1)) {
      this.#leadByte = -1;
      this.#leadSurrogate = -1;
      this.#error(units);
    }
    return units.flush();
  }

  #error(units: Units): void {
    if (this.#fatal) {
      this.#leadByte = -1;
      this.#leadSurrogate = -1;
      throw new EncodingError(this.#be ? "utf-16be" : "utf-16le");
    }
    units.push(REPLACEMENT);
  }
}

// windows-1252 bytes 0x80..0x9F; the other bytes map to the same code point.
const WINDOWS_1252 = "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178";

/** windows-1252 and x-user-defined: every byte is one code point, no state, never an error. */
class TableDecoder implements Decoder {
  #userDefined: boolean;
  constructor(userDefined: boolean) {
    this.#userDefined = userDefined;
  }
  decode(bytes: Uint8Array): string {
    const units = new Units();
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b < 0x80) units.push(b);
      else if (this.#userDefined) units.push(0xf780 + b - 0x80);
      else units.push(b < 0xa0 ? WINDOWS_1252.charCodeAt(b - 0x80) : b);
    }
    return units.flush();
  }
}

// Node 24's own table (lib/internal/encoding.js, from the WHATWG list): "name:label,label;...".
// Kept as one string and parsed on first use of a label other than "utf-8".
const LABELS =
  "utf-8:unicode-1-1-utf-8,unicode11utf8,unicode20utf8,utf8,x-unicode20utf8;ibm866:866,cp866,csibm866;iso-8859-2:csisolatin2,iso-ir-101,iso8859-2,iso88592,iso_8859-2,iso_8859-2:1987,l2,latin2;iso-8859-3:csisolatin3,iso-ir-109,iso8859-3,iso88593,iso_8859-3,iso_8859-3:1988,l3,latin3;iso-8859-4:csisolatin4,iso-ir-110,iso8859-4,iso88594,iso_8859-4,iso_8859-4:1988,l4,latin4;iso-8859-5:csisolatincyrillic,cyrillic,iso-ir-144,iso8859-5,iso88595,iso_8859-5,iso_8859-5:1988;iso-8859-6:arabic,asmo-708,csiso88596e,csiso88596i,csisolatinarabic,ecma-114,iso-8859-6-e,iso-8859-6-i,iso-ir-127,iso8859-6,iso88596,iso_8859-6,iso_8859-6:1987;iso-8859-7:csisolatingreek,ecma-118,elot_928,greek,greek8,iso-ir-126,iso8859-7,iso88597,iso_8859-7,iso_8859-7:1987,sun_eu_greek;iso-8859-8:csiso88598e,csisolatinhebrew,hebrew,iso-8859-8-e,iso-ir-138,iso8859-8,iso88598,iso_8859-8,iso_8859-8:1988,visual;iso-8859-8-i:csiso88598i,logical;iso-8859-10:csisolatin6,iso-ir-157,iso8859-10,iso885910,l6,latin6;iso-8859-13:iso8859-13,iso885913;iso-8859-14:iso8859-14,iso885914;iso-8859-15:csisolatin9,iso8859-15,iso885915,iso_8859-15,l9;iso-8859-16:;koi8-r:cskoi8r,koi,koi8,koi8_r;koi8-u:koi8-ru;macintosh:csmacintosh,mac,x-mac-roman;windows-874:dos-874,iso-8859-11,iso8859-11,iso885911,tis-620;windows-1250:cp1250,x-cp1250;windows-1251:cp1251,x-cp1251;windows-1252:ansi_x3.4-1968,ascii,cp1252,cp819,csisolatin1,ibm819,iso-8859-1,iso-ir-100,iso8859-1,iso88591,iso_8859-1,iso_8859-1:1987,l1,latin1,us-ascii,x-cp1252;windows-1253:cp1253,x-cp1253;windows-1254:cp1254,csisolatin5,iso-8859-9,iso-ir-148,iso8859-9,iso88599,iso_8859-9,iso_8859-9:1989,l5,latin5,x-cp1254;windows-1255:cp1255,x-cp1255;windows-1256:cp1256,x-cp1256;windows-1257:cp1257,x-cp1257;windows-1258:cp1258,x-cp1258;x-mac-cyrillic:x-mac-ukrainian;gbk:chinese,csgb2312,csiso58gb231280,gb2312,gb_2312,gb_2312-80,iso-ir-58,x-gbk;gb18030:;big5:big5-hkscs,cn-big5,csbig5,x-x-big5;euc-jp:cseucpkdfmtjapanese,x-euc-jp;iso-2022-jp:csiso2022jp;shift_jis:csshiftjis,ms932,ms_kanji,shift-jis,sjis,windows-31j,x-sjis;euc-kr:cseuckr,csksc56011987,iso-ir-149,korean,ks_c_5601-1987,ks_c_5601-1989,ksc5601,ksc_5601,windows-949;replacement:csiso2022kr,hz-gb-2312,iso-2022-cn,iso-2022-cn-ext,iso-2022-kr;utf-16be:unicodefffe;utf-16le:csunicode,iso-10646-ucs-2,ucs-2,unicode,unicodefeff,utf-16;x-user-defined:";
const MULTI_BYTE = ["gbk", "gb18030", "big5", "euc-jp", "iso-2022-jp", "shift_jis", "euc-kr"];

let labels: Map<string, string> | undefined;

/** The encoding's name for a label, or undefined ("replacement" is a name no decoder takes). */
export function encodingForLabel(label: string): string | undefined {
  // ASCII whitespace only (String#trim would also remove U+00A0 and friends).
  const key = label.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "").toLowerCase();
  if (key === "utf-8" || key === "utf8" || key === "unicode-1-1-utf-8") return "utf-8";
  if (labels === undefined) {
    labels = new Map();
    for (const group of LABELS.split(";")) {
      const colon = group.indexOf(":"); // labels such as "iso_8859-2:1987" hold colons too
      const name = group.slice(0, colon);
      const list = group.slice(colon + 1);
      labels.set(name, name);
      if (list !== "") for (const alias of list.split(",")) labels.set(alias, name);
    }
  }
  return labels.get(key);
}

/** Decodes one host-supported legacy encoding; multi-byte ones buffer while streaming. */
class HostDecoder implements Decoder {
  #host: Host;
  #name: string;
  #fatal: boolean;
  #pending: Uint8Array[] | null = null;

  constructor(host: Host, name: string, fatal: boolean) {
    this.#host = host;
    this.#name = name;
    this.#fatal = fatal;
  }

  decode(bytes: Uint8Array, stream: boolean): string {
    if (MULTI_BYTE.includes(this.#name) && (stream || this.#pending !== null)) {
      (this.#pending ??= []).push(bytes.slice());
      if (stream) return "";
      bytes = concat(this.#pending);
      this.#pending = null;
    }
    if (bytes.length === 0) return "";
    try {
      return this.#host.textDecode(bytes, this.#name, this.#fatal);
    } catch {
      // Only decoding errors reach here (the label was checked when the decoder was made).
      throw new EncodingError(this.#name);
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export class TextEncoder {
  get encoding(): string {
    return "utf-8";
  }

  encode(input: unknown = ""): Uint8Array<ArrayBuffer> {
    return encodeUtf8(String(input));
  }

  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    if (!(destination instanceof Uint8Array)) {
      throw new TypeError('The "dest" argument must be an instance of Uint8Array.');
    }
    return encodeUtf8Into(String(source), destination);
  }
}

export function createTextDecoderClass(host: Host) {
  return class TextDecoder {
    #encoding: string;
    #fatal: boolean;
    #ignoreBOM: boolean;
    #decoder: Decoder | null = null;
    #bomSeen = false;

    constructor(label: unknown = "utf-8", options: { fatal?: boolean; ignoreBOM?: boolean } | null = {}) {
      const encoding = encodingForLabel(String(label));
      if (encoding === undefined || encoding === "replacement") {
        throw new RangeError(`The "${encoding ?? String(label)}" encoding is not supported`);
      }
      if (options !== null && options !== undefined && typeof options !== "object") {
        throw new TypeError('The "options" argument must be of type object.');
      }
      this.#encoding = encoding;
      this.#fatal = Boolean(options?.fatal);
      this.#ignoreBOM = Boolean(options?.ignoreBOM);
      if (!isPureJs(encoding)) {
        // Fail now, as Node does, when the host cannot decode this encoding at all.
        try {
          host.textDecode(new Uint8Array(0), encoding, false);
        } catch {
          throw new RangeError(`The "${encoding}" encoding is not supported`);
        }
      }
    }

    get encoding(): string {
      return this.#encoding;
    }
    get fatal(): boolean {
      return this.#fatal;
    }
    get ignoreBOM(): boolean {
      return this.#ignoreBOM;
    }

    decode(input?: unknown, options?: { stream?: boolean } | null): string {
      const bytes = input === undefined ? new Uint8Array(0) : toBytes(input, "input");
      const stream = Boolean(options?.stream);
      const decoder = (this.#decoder ??= this.#create());
      let text: string;
      try {
        text = decoder.decode(bytes, stream);
      } catch (error) {
        this.#decoder = null;
        this.#bomSeen = false;
        throw error;
      }
      // A BOM only counts as the first code point of the stream.
      if (!this.#bomSeen && text.length > 0) {
        this.#bomSeen = true;
        if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff && hasBom(this.#encoding)) text = text.slice(1);
      }
      if (!stream) {
        this.#decoder = null;
        this.#bomSeen = false;
      }
      return text;
    }

    #create(): Decoder {
      const name = this.#encoding;
      // ignoreBOM here: decode() drops the BOM itself, the same way for UTF-8 and UTF-16.
      if (name === "utf-8") return new Utf8Decoder(true, this.#fatal);
      if (name === "utf-16le" || name === "utf-16be") return new Utf16Decoder(name === "utf-16be", this.#fatal);
      if (name === "windows-1252" || name === "x-user-defined") return new TableDecoder(name === "x-user-defined");
      return new HostDecoder(host, name, this.#fatal);
    }
  };
}

function isPureJs(name: string): boolean {
  return name === "utf-8" || name === "utf-16le" || name === "utf-16be" || name === "windows-1252" || name === "x-user-defined";
}

function hasBom(name: string): boolean {
  return name === "utf-8" || name === "utf-16le" || name === "utf-16be";
}
