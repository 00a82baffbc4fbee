/**
 * The batching that replaces rhea's (see rhea-dispositions.ts). Its effect end to end is in
 * test/admission.int.test.ts: without it, a few spilled calls in a thousand were reported
 * ACCEPTED where the runtime had RELEASED them, and stalled until their deadline.
 */
import { expect, it } from "vitest";
import { writeDispositions } from "./rhea-dispositions.ts";

const ACCEPTED = { descriptor: { value: 0x24 } };
const RELEASED = { descriptor: { value: 0x26 } };

function recorder() {
  const frames: Record<string, unknown>[] = [];
  const link = { is_receiver: () => true, session: { output: (frame: unknown) => frames.push((frame as { performative?: Record<string, unknown> }).performative ?? (frame as Record<string, unknown>)) } };
  return { frames, at: (id: number, state: unknown, settled = true) => ({ id, state, settled, link }) };
}

it("starts a new range when the outcome changes, even after a range of one (rhea merges those)", () => {
  const { frames, at } = recorder();
  writeDispositions([at(7, ACCEPTED), at(8, RELEASED), at(9, RELEASED), at(10, ACCEPTED), at(11, ACCEPTED), at(13, ACCEPTED)]);
  expect(frames.map((f) => [f.first, f.last, (f.state as typeof ACCEPTED | undefined)?.descriptor?.value ?? f.state])).toEqual([
    [7, 7, 0x24],
    [8, 9, 0x26],
    // 9 joins 8: the same outcome object
    [10, 11, 0x24],
    [13, 13, 0x24],
  ]);
});
