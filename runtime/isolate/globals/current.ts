/**
 * Inside the isolate: which request the code now running works for, so console lines and
 * host calls carry its id. Set at every entry from the host (dispatch, timers, host promises
 * resolving); a best effort when requests interleave, exact when they do not.
 */
let current = "";

export function currentRequestId(): string {
  return current;
}

export function setCurrentRequestId(id: string): void {
  current = id;
}
