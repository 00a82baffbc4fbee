/**
 * Entry of the globals script: runs first in every isolate context (see ../wire.ts).
 * Its default export becomes the script's completion value (the IsolateApi).
 */
import { captureHost, completeHostCall } from "./host.ts";
import { currentRequestId } from "./current.ts";
import { installPlatform } from "./platform.ts";
import { installFetch, createIsolateApi } from "./fetch.ts";
import type { IsolateApi } from "../wire.ts";

const host = captureHost();
installPlatform(globalThis, host);
installFetch(globalThis, host);

const api: IsolateApi = { ...createIsolateApi(host), complete: completeHostCall, current: currentRequestId };
export default api;
