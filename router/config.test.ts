import { describe, expect, it } from "vitest";
import { ConfigError, parseRouterConfig } from "./config.ts";

describe("parseRouterConfig: EDGEFN_ROUTER_LINKS", () => {
  it.each([
    [undefined, []],
    ["", []],
    ["10.0.0.2:5672@5", [{ host: "10.0.0.2", port: 5672, cost: 5 }]],
    ["b.example:5672", [{ host: "b.example", port: 5672, cost: 1 }]],
    [" a:1@2.5 , [::1]:7@1 ", [{ host: "a", port: 1, cost: 2.5 }, { host: "::1", port: 7, cost: 1 }]],
  ])("%j -> %j", (value, links) => {
    expect(parseRouterConfig({ EDGEFN_ROUTER_LINKS: value }).EDGEFN_ROUTER_LINKS).toEqual(links);
  });

  it.each([
    ["b.example", /host:port@cost/],
    ["b.example:5672@", /host:port@cost/],
    ["b.example:5672@0", /cost must be greater than 0/],
    ["b.example:0@1", /port must be 1-65535/],
    ["b.example:70000", /port must be 1-65535/],
  ])("rejects %j", (value, message) => {
    expect(() => parseRouterConfig({ EDGEFN_ROUTER_LINKS: value })).toThrow(ConfigError);
    expect(() => parseRouterConfig({ EDGEFN_ROUTER_LINKS: value })).toThrow(message);
  });
});
