/**
 * The control API of a real runtime on 127.0.0.1: it refuses wrong tokens without changing
 * anything, and refuses invalid deployments with the path of what is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inlineFunction } from "./helpers/inline.ts";
import { startRuntime, type Deployment, type RuntimeHandle } from "./helpers/runtime.ts";

let rt: RuntimeHandle;
let hello: Deployment;

beforeAll(async () => {
  rt = await startRuntime({ site: "control" });
  hello = await inlineFunction("hello", `export default { fetch() { return new Response("v1"); } };`);
  await rt.deploy(hello);
});
afterAll(() => rt.stop());

function call(method: string, path: string, body?: unknown, token: string | null = rt.token): Promise<Response> {
  return fetch(`${rt.controlUrl}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

describe("control API auth", () => {
  const v2 = () => inlineFunction("hello", `export default { fetch() { return new Response("v2"); } };`);
  it.each([
    ["no token", null],
    ["a wrong token", "0".repeat(48)],
    ["a token one character short", "short"],
  ])("answers 401 to %s, and nothing changes", async (_case, token) => {
    const attempts = [
      await call("PUT", "/v1/functions/hello", await v2(), token),
      await call("DELETE", "/v1/functions/hello", undefined, token),
      await call("POST", "/v1/functions/hello/rollback", {}, token),
      await call("PUT", "/v1/functions/hello/secrets/API_KEY", "x", token),
      await call("GET", "/v1/functions", undefined, token),
      await call("GET", "/v1/logs", undefined, token),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_UNAUTHORIZED");
    }
    expect(await (await fetch(`${rt.url}/hello/`)).text()).toBe("v1");
  });
});

describe("invalid deployments", () => {
  const with_ = (patch: (d: Record<string, any>) => unknown) => {
    const copy = structuredClone(hello) as unknown as Record<string, any>;
    patch(copy);
    return copy;
  };
  it.each<[string, (d: Record<string, any>) => unknown, string]>([
    ["cpuMs of 0", (d) => (d.manifest.spec.limits.cpuMs = 0), "manifest.spec.limits.cpuMs"],
    ["memoryMb of 4", (d) => (d.manifest.spec.limits.memoryMb = 4), "manifest.spec.limits.memoryMb"],
    ["timeoutMs as a string", (d) => (d.manifest.spec.limits.timeoutMs = "10s"), "manifest.spec.limits.timeoutMs"],
    ["concurrency of 0", (d) => (d.manifest.spec.limits.concurrency = 0), "manifest.spec.limits.concurrency"],
    ["an unknown limit", (d) => (d.manifest.spec.limits.cpu = 5), "manifest.spec.limits"],
    ["an unknown spec field", (d) => (d.manifest.spec.limitz = {}), "manifest.spec"],
    ["a priority not in the list", (d) => (d.manifest.spec.priority = "urgent"), "manifest.spec.priority"],
    ["an egress entry without a port", (d) => (d.manifest.spec.egress = ["api.example.com"]), "manifest.spec.egress.0"],
    ["an egress port of 70000", (d) => (d.manifest.spec.egress = ["api.example.com:70000"]), "manifest.spec.egress.0"],
    ["an env value that is a number", (d) => (d.manifest.spec.env = { PORT: 80 }), "manifest.spec.env.PORT"],
    ["a service binding to a bad name", (d) => (d.manifest.spec.services = { INV: "Inventory!" }), "manifest.spec.services.INV"],
    ["a secret without a key", (d) => (d.manifest.spec.secrets = [{ name: "API_KEY", secretRef: { name: "s" } }]), "manifest.spec.secrets.0.secretRef.key"],
    ["a placement trust level that does not exist", (d) => (d.manifest.spec.placement = { trust: "maybe" }), "manifest.spec.placement.trust"],
    ["an access caller that is not a name", (d) => (d.manifest.spec.access = { callers: ["Bad Name"] }), "manifest.spec.access.callers.0"],
    ["a wrong apiVersion", (d) => (d.manifest.apiVersion = "edgefn.dev/v1"), "manifest.apiVersion"],
    ["a wrong kind", (d) => (d.manifest.kind = "Function"), "manifest.kind"],
    ["a digest that is not sha256", (d) => (d.bundle.digest = "md5:abc"), "bundle.digest"],
    ["no code", (d) => (d.bundle.code = ""), "bundle.code"],
    ["no manifest", (d) => delete d.manifest, "manifest"],
  ])("refuses %s with 400 and the path %s", async (_case, patch, path) => {
    const res = await call("PUT", "/v1/functions/hello", with_(patch));
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; issues: { path: string; message: string }[] } };
    expect(error.code).toBe("ERR_MANIFEST_INVALID");
    expect(error.issues[0]!.path).toBe(path);
    expect(await (await fetch(`${rt.url}/hello/`)).text()).toBe("v1");
  });

  it("refuses a body that is not JSON, and a bundle whose digest does not match", async () => {
    expect((await call("PUT", "/v1/functions/hello", "{not json")).status).toBe(400);
    const res = await call("PUT", "/v1/functions/hello", with_((d) => (d.bundle.code = "export default {};")));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_DIGEST_MISMATCH");
    expect(await (await fetch(`${rt.url}/hello/`)).text()).toBe("v1");
  });
});

describe("concurrent deploys", () => {
  it("serializes deploys of one function: each gets its own version, the last acknowledged serves", async () => {
    const bodies = ["a", "b", "c", "d", "e"];
    const deployments = await Promise.all(bodies.map((b) => inlineFunction("race", `export default { fetch() { return new Response("${b}"); } };`)));
    const answers = await Promise.all(
      deployments.map(async (d, i) => {
        const res = await call("PUT", "/v1/functions/race", d);
        return { body: bodies[i]!, status: res.status, version: ((await res.json()) as { function: { version: number } }).function.version };
      }),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.map((a) => a.version).sort()).toEqual([1, 2, 3, 4, 5]);
    const last = answers.reduce((a, b) => (b.version > a.version ? b : a));
    expect(await (await fetch(`${rt.url}/race/`)).text()).toBe(last.body);
  });
});

describe("rollback and secrets", () => {
  it("rolls back to the previous kept version, and refuses when there is none", async () => {
    await rt.deploy(await inlineFunction("roll", `export default { fetch() { return new Response("one"); } };`));
    expect((await call("POST", "/v1/functions/roll/rollback", {})).status).toBe(409);
    await rt.deploy(await inlineFunction("roll", `export default { fetch() { return new Response("two"); } };`));
    expect(await (await fetch(`${rt.url}/roll/`)).text()).toBe("two");
    const res = await call("POST", "/v1/functions/roll/rollback", {});
    expect(((await res.json()) as { function: { version: number } }).function.version).toBe(1);
    expect(await (await fetch(`${rt.url}/roll/`)).text()).toBe("one");
  });

  it("puts a secret into env, never returns it, and redacts it from the function's logs", async () => {
    await rt.deploy(
      await inlineFunction("secretive", `export default { fetch(r: Request, env: { API_KEY?: string }) { console.log("key is", env.API_KEY); return new Response(String(env.API_KEY === "s3cret-value")); } };`),
    );
    expect(await (await fetch(`${rt.url}/secretive/`)).text()).toBe("false");
    const put = await call("PUT", "/v1/functions/secretive/secrets/API_KEY", "s3cret-value");
    expect(await put.text()).not.toContain("s3cret-value");
    const res = await fetch(`${rt.url}/secretive/`);
    expect(await res.text()).toBe("true");
    const requestId = res.headers.get("x-request-id")!;
    await expect.poll(() => rt.logs.find((l) => l.includes(requestId) && l.includes("key is"))).toContain("[redacted]");
    expect(rt.logs.some((l) => l.includes("s3cret-value"))).toBe(false);
    const info = await (await call("GET", "/v1/functions/secretive")).text();
    expect(info).toContain('"secrets":["API_KEY"]');
    expect(info).not.toContain("s3cret-value");
  });
});
