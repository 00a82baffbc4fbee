import { Hono } from "hono";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { validator } from "hono/validator";
import type { ExecutionContext } from "edgefn";

interface Item {
  id: number;
  name: string;
  tags: string[];
}

type Bindings = {
  /** From `spec.env`: the largest page GET /items returns. */
  MAX_PAGE?: string;
};

// Per-isolate state: it lives as long as this function's warm isolate on one runtime, so it
// is a demo store, not a database (another site, or a restarted isolate, starts afresh).
const items = new Map<number, Item>([
  [1, { id: 1, name: "bolt", tags: ["hardware"] }],
  [2, { id: 2, name: "nut", tags: ["hardware"] }],
  [3, { id: 3, name: "gasket", tags: ["seal"] }],
]);
let nextId = 4;

const app = new Hono<{ Bindings: Bindings }>();

/** Hono types `c.executionCtx` as Workers' context; edgefn's adds `site`, `requestId`... */
const edge = (c: Context): ExecutionContext => c.executionCtx as ExecutionContext;

// Middleware: runs around every route, including notFound and onError.
app.use("*", async (c, next) => {
  const started = Date.now();
  await next();
  c.header("x-served-by", edge(c).site);
  c.header("server-timing", `app;dur=${Date.now() - started}`);
});

app.get("/", (c) => c.text("items API: GET /items, GET /items/:id, POST /items\n"));

// GET /items?tag=hardware&limit=10
app.get("/items", (c) => {
  const tag = c.req.query("tag");
  const max = Number(c.env.MAX_PAGE ?? "50");
  const limit = Math.min(Number(c.req.query("limit") ?? max) || max, max);
  const list = [...items.values()].filter((item) => tag === undefined || item.tags.includes(tag));
  return c.json({ items: list.slice(0, limit), total: list.length });
});

app.get("/items/:id", (c) => {
  const id = Number(c.req.param("id"));
  if (!Number.isInteger(id)) {
    throw new HTTPException(400, { message: "id must be an integer" });
  }
  const item = items.get(id);
  if (item === undefined) {
    return c.json({ error: `no item ${id}` }, 404);
  }
  return c.json(item);
});

app.post(
  "/items",
  validator("json", (value, c) => {
    const { name, tags = [] } = value as { name?: unknown; tags?: unknown };
    if (typeof name !== "string" || name.length === 0) {
      return c.json({ error: "body.name must be a non-empty string" }, 400);
    }
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
      return c.json({ error: "body.tags must be an array of strings" }, 400);
    }
    return { name, tags: tags as string[] };
  }),
  (c) => {
    const item: Item = { id: nextId++, ...c.req.valid("json") };
    items.set(item.id, item);
    return c.json(item, 201, { location: `/items/${item.id}` });
  },
);

app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));

app.onError((err, c) => {
  if (err instanceof HTTPException) {
    return c.json({ error: err.message }, err.status);
  }
  // Logged with the request id by the runtime; the client gets no internals.
  console.error(`api: ${c.req.method} ${c.req.path} failed: ${err.message}`);
  return c.json({ error: "internal error", requestId: edge(c).requestId }, 500);
});

export default app;
