/**
 * The bench's echo consumer, run as its own process (test/bench/van.ts spawns it) so that the
 * caller and the consumer do not share one rhea event loop: a process that both sends and
 * receives at full speed is the bottleneck otherwise. It connects to one router, attaches a
 * receiver on one `fn/<name>` address with a credit window, and answers every call 200 with
 * the request body echoed (or 1 KB when the call has none, as a GET), `x-consumer: <label>`.
 * Calls are decoded with `fromAmqpRequest` and answered with `toAmqpResponse` (router/protocol.ts),
 * as a real consumer would. Prints `{"event":"ready","port":<router port>,"pid":…}` once the
 * router accepted the attach; exits when the router goes, when stdin closes (the bench went), or
 * on SIGTERM.
 *
 *   node test/bench/van-consumer.ts --port 5672 --address fn/echo [--label echo] [--credit 500]
 */
import { parseArgs } from "node:util";
import "../../router/rhea-dispositions.ts"; // before any rhea session: fixes how rhea batches dispositions
import rhea from "rhea";
import type { AmqpError, EventContext, Message, Sender } from "rhea";
import { fromAmqpRequest, toAmqpResponse, withDataSection } from "../../router/protocol.ts";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    address: { type: "string", default: "fn/echo" },
    label: { type: "string", default: "echo" },
    credit: { type: "string", default: "500" },
  },
});
const port = Number(args.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  process.stderr.write(`van-consumer: --port must be the router's port (1-65535), not ${String(args.port)}\n`);
  process.exit(2);
}
const { address, label } = args;
const credit = Number(args.credit);
const FALLBACK_BODY = new Uint8Array(1024).fill(0x62); // "b" x 1 KB, for calls with no body

const connection = rhea.create_container({ id: label }).connect({ host: "127.0.0.1", port, reconnect: false });
const replies: Sender = connection.open_sender({ target: {} as { address: string } }); // anonymous: `to` on each reply
const receiver = connection.open_receiver({ source: { address }, autoaccept: false, credit_window: credit });

receiver.on("message", (ctx: EventContext) => {
  const delivery = ctx.delivery!;
  let call;
  try {
    call = fromAmqpRequest(ctx.message);
  } catch (err) {
    delivery.reject((err as { toAmqpError(): AmqpError }).toAmqpError());
    return;
  }
  const body = call.request.body !== null && call.request.body.byteLength > 0 ? call.request.body : FALLBACK_BODY;
  const response = toAmqpResponse({ status: 200, headers: [["x-consumer", label]], body }, { reply_to: call.replyTo, message_id: call.messageId });
  replies.send(withDataSection(response, rhea.message.data_section) as Message); // rhea types `body` as required
  delivery.accept();
});

const startup = setTimeout(() => {
  process.stderr.write(`van-consumer ${label}: no attach to ${address} at 127.0.0.1:${port} within 10 s\n`);
  process.exit(1);
}, 10_000);
receiver.once("receiver_open", () => {
  if ((receiver.source as { address?: string } | undefined)?.address !== address) return; // refused: a detach follows
  clearTimeout(startup);
  process.stdout.write(`${JSON.stringify({ event: "ready", port, pid: process.pid, address, label })}\n`);
});
receiver.once("receiver_close", () => {
  process.stderr.write(`van-consumer ${label}: receiver on ${address} closed: ${JSON.stringify(receiver.error ?? null)}\n`);
  process.exit(1);
});
connection.on("connection_error", () => process.exit(1));
connection.on("disconnected", () => process.exit(0)); // the router went (the failover bench kills it)
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
