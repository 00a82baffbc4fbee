import { z } from "zod";
import type { EdgeFunction } from "edgefn";

/** What callers must send. zod checks it at the edge, before any work is done. */
const OrderSchema = z.object({
  sku: z.string().regex(/^[A-Z0-9-]{3,32}$/, "must be 3-32 upper-case letters, digits or '-'"),
  quantity: z.number().int().positive().max(1000),
  email: z.email().optional(),
  tags: z.array(z.string().min(1)).max(10).default([]),
});
type Order = z.output<typeof OrderSchema>;

export default {
  async fetch(request, _env, ctx) {
    if (request.method !== "POST") {
      return Response.json({ error: "POST a JSON body" }, { status: 405, headers: { allow: "POST" } });
    }
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "body is not valid JSON" }, { status: 400 });
    }
    const result = OrderSchema.safeParse(body);
    if (!result.success) {
      // zod's issues carry a path per problem, e.g. ["quantity"], so clients can point at the field.
      return Response.json(
        { error: "invalid order", issues: result.error.issues, summary: z.prettifyError(result.error) },
        { status: 400 },
      );
    }
    const order: Order = result.data;
    return Response.json({ order, site: ctx.site, requestId: ctx.requestId });
  },
} satisfies EdgeFunction<Record<string, never>>;
