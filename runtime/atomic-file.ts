/**
 * Files that are whole after any crash: written to a temporary file, fsynced, renamed over the
 * old one, and the directory fsynced. Leaf module (node only), shared by runtime/ and cli/.
 */
import { randomBytes } from "node:crypto";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";

/** write, fsync, rename, fsync the directory: the file is whole, old or new, after any crash. */
export async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncDir(join(path, ".."));
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
