/**
 * `npm run demo`: a local VAN of three sites serving the example functions, and a short tour.
 *
 *   edge-1 --(cost 1)-- cloud --(cost 5)-- edge-2
 *
 * Each site is a real `edgefn site up`-style runtime process with its own router; edge-1 and
 * edge-2 link to cloud (which holds the network CA) with one-time tokens, over mutual TLS.
 * hello runs at edge-1 only; api, json-echo and stream at cloud; greet comes from a git
 * repository (<dir>/fleet) that edge-2 pulls (GitOps). The tour makes real requests and
 * prints what came back, then the commands to try next. Ctrl+C stops all three.
 *
 *   node cli/demo.ts [--port-offset N] [--dir .edgefn/demo]
 *     ports 8081-8083 (ingress), 9081-9083 (control), 5671-5673 (VAN), each + N
 */
import fs, { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import git from "isomorphic-git";
import { parseDocument } from "yaml";
import { bundleFunction, deploymentOf } from "./bundle.ts";
import { scaffoldFunction } from "./commands/init.ts";
import { createOutput } from "./output.ts";
import { discoverFunctions } from "./project.ts";
import { SITE_MAIN, startRuntimeProcess, type RuntimeProcess } from "./runtime-process.ts";
import { createSiteClient, type SiteClient } from "./site-client.ts";
import { createSiteDir } from "./site-dir.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

interface DemoSite {
  name: string;
  index: number;
  /** Example functions deployed here. */
  functions: string[];
}

const SITES: DemoSite[] = [
  { name: "cloud", index: 1, functions: ["api", "json-echo", "stream"] },
  { name: "edge-1", index: 2, functions: ["hello"] },
  { name: "edge-2", index: 3, functions: [] },
];
/** edge-2 checks the fleet repository this often (and at once on `edgefn gitops sync`). */
const GITOPS_INTERVAL_S = 5;
/** edge-1 and edge-2 link to cloud, which issues the tokens (it founded the network). */
const LINKS = [
  { from: "edge-1", cost: 1 },
  { from: "edge-2", cost: 5 },
];

const { values: args } = parseArgs({
  options: { "port-offset": { type: "string", default: "0" }, dir: { type: "string", default: path.join(REPO, ".edgefn", "demo") } },
});
const offset = Number(args["port-offset"]);
/** Where the three site directories go; emptied first. */
const DEMO_DIR = path.resolve(args.dir);
const out = createOutput({});

if (!Number.isInteger(offset) || offset < -5000 || offset > 50000) {
  out.error(new Error(`--port-offset must be an integer (ports are 8081+N, 9081+N, 5671+N), got ${args["port-offset"]}`));
  process.exit(2);
}

const running: RuntimeProcess[] = [];
const stopAll = async () => {
  await Promise.all(running.map((r) => r.stop()));
};
let stopping = false;
const onSignal = () => {
  if (stopping) {
    process.exit(130);
  }
  stopping = true;
  out.log();
  out.step("Stopping the three sites…");
  void stopAll().then(() => process.exit(0));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

try {
  await main();
} catch (err) {
  out.error(err);
  await stopAll();
  process.exit(1);
}

async function main(): Promise<void> {
  await rm(DEMO_DIR, { recursive: true, force: true });
  out.step(`A local network of three sites in ${path.relative(process.cwd(), DEMO_DIR) || DEMO_DIR}:`);
  out.log("  edge-1 --(cost 1)-- cloud --(cost 5)-- edge-2");
  out.log();

  const clients = new Map<string, SiteClient>();
  const urls = new Map<string, string>();
  await out.task("Starting cloud, edge-1 and edge-2", async () => {
    await Promise.all(
      SITES.map(async (site) => {
        const dir = path.join(DEMO_DIR, site.name);
        const made = await createSiteDir(dir, { name: site.name, region: site.name === "cloud" ? "central" : site.name, force: false });
        const runtime = await startRuntimeProcess({
          host: "127.0.0.1",
          port: 8080 + site.index + offset,
          control: { host: "127.0.0.1", port: 9080 + site.index + offset },
          van: { host: "127.0.0.1", port: 5670 + site.index + offset },
          site: site.name,
          region: made.config.region,
          token: made.token,
          trust: "trusted",
          addressFlags: "--port-offset",
          env: { EDGEFN_STATE_DIR: dir, EDGEFN_LOG: "warn" },
          entry: SITE_MAIN,
          onLine: (line, stream) => {
            if (stream === "stderr" || /"level":"(warn|error|fatal)"/.test(line)) process.stderr.write(`[${site.name}] ${line}\n`);
          },
        });
        running.push(runtime);
        urls.set(site.name, runtime.ready.url);
        clients.set(site.name, createSiteClient({ url: runtime.ready.controlUrl, token: made.token, from: { url: "demo", token: "demo" } }));
      }),
    );
  });

  await out.task("Linking edge-1 (cost 1) and edge-2 (cost 5) to cloud with one-time tokens, over mutual TLS", async () => {
    const cloud = clients.get("cloud")!;
    for (const link of LINKS) {
      const token = await cloud.createToken({});
      const made = await clients.get(link.from)!.createLink({ token, cost: link.cost });
      if (made.state !== "up") throw new Error(`the link ${link.from} -> cloud did not come up: ${made.error}`);
    }
  });

  const discovery = await discoverFunctions(path.join(REPO, "functions"));
  await out.task("Deploying hello at edge-1; api, json-echo and stream at cloud", async () => {
    for (const site of SITES) {
      for (const name of site.functions) {
        const fn = discovery.functions.find((f) => f.name === name);
        if (fn === undefined) throw new Error(`functions/${name} is missing`);
        await clients.get(site.name)!.deploy(name, deploymentOf(fn, await bundleFunction(fn.entry)));
      }
    }
    // Until edge-2 sees hello at edge-1 (two hops), so the tour's first call finds it.
    const until = Date.now() + 5_000;
    while (!(await clients.get("edge-2")!.status()).network?.sites.some((s) => s.site === "edge-1" && s.functions.includes("hello"))) {
      if (Date.now() > until) throw new Error("edge-2 did not learn of hello at edge-1 within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });

  const fleet = path.join(DEMO_DIR, "fleet");
  await out.task(`Committing greet to a git repository (${path.relative(process.cwd(), fleet)}) and letting edge-2 pull it`, async () => {
    await createFleet(fleet);
    const { gitops } = await clients.get("edge-2")!.gitopsAttach({ repo: fleet, branch: "main", intervalS: GITOPS_INTERVAL_S });
    if (gitops.state !== "synced") throw new Error(`edge-2 did not apply the fleet repository: ${gitops.error?.message ?? gitops.state}`);
  });

  await tour(urls, clients, fleet);
}

/** A git repository (isomorphic-git: no git binary needed) with one function, greet, placed at edge-2. */
async function createFleet(dir: string): Promise<void> {
  await git.init({ fs, dir, defaultBranch: "main" });
  const fnDir = path.join(dir, "functions", "greet");
  await scaffoldFunction(fnDir, "greet");
  const manifestPath = path.join(fnDir, "edgefn.yaml");
  const doc = parseDocument(await readFile(manifestPath, "utf8"));
  doc.setIn(["spec", "env", "GREETING"], "Hello from git");
  doc.setIn(["spec", "placement", "sites"], ["edge-2"]);
  await writeFile(manifestPath, doc.toString());
  await git.add({ fs, dir, filepath: "." });
  await git.commit({ fs, dir, message: "greet, for edge-2", author: { name: "edgefn demo", email: "demo@edgefn.invalid" } });
}

async function tour(urls: Map<string, string>, clients: Map<string, SiteClient>, fleet: string): Promise<void> {
  const [cloud, edge1, edge2] = ["cloud", "edge-1", "edge-2"].map((n) => urls.get(n)!);
  const dim = (text: string) => out.style("dim", text);
  out.log();
  out.log(out.style("bold", "The tour"));

  out.log();
  out.log(`1. hello runs only at edge-1. Ask edge-2 for it: the call crosses cloud to edge-1.`);
  const hello = await show(`curl -i ${edge2}/hello/`);
  out.log(dim(`   x-edgefn-site says who ran it: ${hello.headers.get("x-edgefn-site")}.`));

  out.log();
  out.log("2. api runs at cloud. edge-1's ingress sends it there (one hop):");
  await show(`curl ${edge1}/api/items/1`);

  out.log();
  out.log("3. What cloud sees: sites, links, costs, and who serves what.");
  const status = await clients.get("cloud")!.status();
  for (const s of status.network?.sites ?? []) {
    out.log(`   ${s.site.padEnd(7)} cost ${String(s.cost).padEnd(2)} via ${(s.via ?? "-").padEnd(7)} serves ${s.functions.join(", ") || "-"}`);
  }

  out.log();
  out.log(`4. greet is not deployed by anyone: edge-2 pulled it from git (${path.relative(process.cwd(), fleet)}). Ask edge-1:`);
  await show(`curl ${edge1}/greet/`);

  const token = (name: string) => `$(cat ${path.relative(process.cwd(), path.join(DEMO_DIR, name, "control.token"))})`;
  const control = (name: string) => clients.get(name)!.target.url;
  out.log();
  out.log(`${out.style("bold", "Try next")} ${dim("(from another terminal, in this folder)")}`);
  out.log(`  npx edgefn status --site ${control("edge-2")} --token ${token("edge-2")}`);
  out.log(dim("  # hello at edge-2 too: edge-2 then serves it itself (cost 0)"));
  out.log(`  npx edgefn deploy functions/hello --site ${control("edge-2")} --token ${token("edge-2")}`);
  out.log(`  curl -i ${edge2}/hello/`);
  out.log(dim("  # remove it at edge-1, and edge-1's ingress finds the nearest other copy"));
  out.log(`  npx edgefn rm hello --site ${control("edge-1")} --token ${token("edge-1")}`);
  out.log(`  curl -i ${edge1}/hello/`);
  out.log(`  curl ${cloud}/stream/   ${dim("# server-sent events, streamed")}`);
  out.log(dim(`  # change greet in git: edge-2 applies the commit within ${GITOPS_INTERVAL_S} s`));
  const fleetPath = path.relative(process.cwd(), fleet);
  out.log(`  sed -i 's/Hello from git/Hi from git/' ${fleetPath}/functions/greet/edgefn.yaml && git -C ${fleetPath} commit -qam "Hi"`);
  out.log(`  curl ${edge2}/greet/`);
  out.log(`  npx edgefn gitops status --site ${control("edge-2")} --token ${token("edge-2")}`);
  out.log();
  out.success("The network is up. Press Ctrl+C to stop it.");
}

/** Prints `command`, makes the request it stands for, prints the status, x-edgefn-site and body. */
async function show(command: string): Promise<Response> {
  out.log(`   $ ${command}`);
  const url = command.split(" ").pop()!;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.clone().text();
  out.log(`   HTTP ${res.status}  x-edgefn-site: ${res.headers.get("x-edgefn-site") ?? "-"}`);
  out.log(`   ${body.length > 200 ? `${body.slice(0, 200)}…` : body}`);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${body}`);
  return res;
}
