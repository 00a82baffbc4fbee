/**
 * `edgefn invoke <name> [path]`: one HTTP request to `<url>/<name><path>`. The status line goes
 * to stderr and the body to stdout, so `edgefn invoke hello | jq` works; `--include` prints
 * the status line and headers before the body on stdout, as `curl -i` does. Exit 1 for a
 * non-2xx answer, with an edgefn error (`{"error":{code,message,hint,requestId}}`) rendered.
 */
import { readFile } from "node:fs/promises";
import { text as readStream } from "node:stream/consumers";
import { z } from "zod";
import { FunctionNameSchema } from "../../runtime/manifest.ts";
import { defineCommand, validateArgs } from "../command.ts";
import { CliError, isCodedError } from "../errors.ts";
import { createOutput } from "../output.ts";

const DEFAULT_URL = "http://127.0.0.1:8787";

const args = {
  name: { type: "positional", required: true, description: "Function to call (metadata.name)" },
  path: { type: "positional", default: "/", description: "Path inside the function" },
  url: {
    type: "string",
    alias: "u",
    valueHint: "base",
    description: `Base URL of a runtime's ingress (default: $EDGEFN_URL or ${DEFAULT_URL})`,
  },
  method: { type: "string", alias: "X", valueHint: "method", description: "HTTP method (default: GET, or POST with --data)" },
  data: { type: "string", alias: "d", valueHint: "body|@file|@-", description: "Request body; @file reads a file, @- stdin" },
  header: { type: "string", alias: "H", multiple: true, valueHint: "name: value", description: "Request header" },
  include: { type: "boolean", alias: "i", description: "Print the status line and response headers before the body" },
  json: { type: "boolean", description: "Print status, headers and body as one JSON object" },
} as const;

const HeaderSchema = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/, 'must look like "name: value"')
  .transform((h): [string, string] => [h.slice(0, h.indexOf(":")).trim(), h.slice(h.indexOf(":") + 1).trim()]);

const ArgsSchema = z.object({
  name: FunctionNameSchema,
  path: z.string().transform((p) => (p.startsWith("/") ? p : `/${p}`)),
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
  method: z
    .string()
    .regex(/^[A-Za-z]+$/, "must be an HTTP method such as GET or POST")
    .transform((m) => m.toUpperCase())
    .optional(),
  data: z.string().optional(),
  header: z.array(HeaderSchema),
  include: z.boolean(),
  json: z.boolean(),
});

/** What an edgefn runtime answers on failure. */
const EdgefnErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    hint: z.string().optional(),
    requestId: z.string().optional(),
  }),
});

export default defineCommand({
  meta: {
    name: "invoke",
    description: "Call a function over HTTP and print its response.",
    examples: [
      "edgefn invoke hello",
      "edgefn invoke hello /some/path --url http://127.0.0.1:8787",
      `edgefn invoke json-echo --data '{"sku":"AB-1","quantity":2}' -H 'content-type: application/json'`,
    ],
  },
  args,
  async run(ctx) {
    const a = validateArgs(ctx, args, ArgsSchema);
    const out = createOutput({ json: a.json });
    const base = (a.url ?? process.env["EDGEFN_URL"] ?? DEFAULT_URL).replace(/\/+$/, "");
    const url = `${base}/${a.name}${a.path}`;
    const body = a.data === undefined ? undefined : await readData(a.data);
    const method = a.method ?? (body === undefined ? "GET" : "POST");
    const headers = new Headers(a.header);

    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
    } catch (err) {
      throw connectionError(err, url);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const durationMs = Math.round(performance.now() - started);
    const text = new TextDecoder().decode(bytes);
    const edgefnError = res.ok ? undefined : parseEdgefnError(text, res.headers);

    if (out.json) {
      out.data({
        url,
        method,
        status: res.status,
        statusText: res.statusText,
        headers: Object.fromEntries(res.headers),
        body: jsonOrText(text, res.headers),
        durationMs,
      });
    } else {
      const statusLine = `HTTP ${res.status} ${res.statusText}`.trimEnd();
      if (a.include) {
        out.log(statusLine);
        for (const [k, v] of res.headers) out.log(`${k}: ${v}`);
        out.log();
      } else {
        out.note(`${out.style(res.ok ? "green" : "red", statusLine, "stderr")} ${out.style("dim", `${method} ${url} (${durationMs} ms)`, "stderr")}`);
      }
      // The body goes out as bytes: it may be binary, and may lack a final newline.
      if (edgefnError === undefined || a.include) out.raw(bytes);
    }

    if (res.ok) return;
    if (edgefnError !== undefined) throw edgefnError;
    throw new CliError("ERR_HTTP_STATUS", `${a.name} answered ${res.status} ${res.statusText}.`.replace(" .", "."), {
      hint: "The function returned this status itself; its body is printed above.",
    });
  },
});

async function readData(data: string): Promise<string | Uint8Array<ArrayBuffer>> {
  if (!data.startsWith("@")) return data;
  const file = data.slice(1);
  if (file === "-") return readStream(process.stdin);
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    throw new CliError("ERR_FILE_NOT_FOUND", `Cannot read --data file ${file}: ${(err as Error).message}.`, {
      hint: "Pass an existing file after @, or the body itself without @.",
      cause: err,
    });
  }
}

/** The runtime's `{"error":{...}}` as a coded error, rendered like our own. */
function parseEdgefnError(text: string, headers: Headers): { code: string; message: string; hint?: string; requestId?: string } | undefined {
  if (!(headers.get("content-type") ?? "").includes("json")) return undefined;
  try {
    const parsed = EdgefnErrorBodySchema.safeParse(JSON.parse(text));
    if (!parsed.success) return undefined;
    const e = parsed.data.error;
    const requestId = e.requestId ?? headers.get("x-request-id") ?? undefined;
    return { ...e, ...(requestId === undefined ? {} : { requestId }) };
  } catch {
    return undefined;
  }
}

function jsonOrText(text: string, headers: Headers): unknown {
  if ((headers.get("content-type") ?? "").includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      // Says it is JSON but is not: show what came back.
    }
  }
  return text;
}

function connectionError(err: unknown, url: string): CliError {
  const cause = (err as { cause?: unknown }).cause;
  const code = isCodedError(cause) ? cause.code : undefined;
  if (code === "ECONNREFUSED") {
    return new CliError("ERR_CONNECTION_REFUSED", `Could not connect to ${url}: connection refused.`, {
      hint: "Is a runtime listening there? Start one with `edgefn dev <dir>`, or pass its address with --url.",
      cause: err,
    });
  }
  const reason = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  if (reason === "bad port") {
    // fetch() refuses ports on the Fetch standard's blocklist (1, 25, 6000, 6665-6669, ...).
    return new CliError("ERR_CONNECTION_FAILED", `Request to ${url} refused by fetch: the port is on the Fetch standard's blocked list.`, {
      hint: "Serve the runtime on another port (e.g. `edgefn dev --port 8787`) and pass it with --url.",
      cause: err,
    });
  }
  return new CliError("ERR_CONNECTION_FAILED", `Request to ${url} failed: ${reason}.`, {
    hint: "Check the --url host and port, and that the runtime is running.",
    cause: err,
  });
}
