/**
 * Joins byte chunks into one exact buffer. Used on the host and, bundled into the globals
 * script, inside the isolate. A chunk may be a view into a larger (pooled) buffer, all of
 * which a copy into or out of the isolate would carry: only an exact buffer is passed as is.
 * Leaf module: no imports.
 */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1) {
    const only = chunks[0]!;
    if (only.byteOffset === 0 && only.byteLength === only.buffer.byteLength && only.buffer instanceof ArrayBuffer) {
      return only as Uint8Array<ArrayBuffer>;
    }
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
