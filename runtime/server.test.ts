import { describe, expect, it } from "vitest";
import { stripPrefix } from "./server.ts";

describe("stripPrefix", () => {
  it.each([
    ["http://h:1/api/items/1?x=2", "api", "http://h:1/items/1?x=2"],
    ["http://h:1/api", "api", "http://h:1/"],
    ["http://h:1/api/", "api", "http://h:1/"],
    ["http://h:1/api?x=1", "api", "http://h:1/?x=1"],
    ["http://h/hello/a/b/", "hello", "http://h/a/b/"],
    ["https://[::1]:8787/api/%20x", "api", "https://[::1]:8787/%20x"],
  ])("%s without /%s is %s", (url, name, expected) => {
    expect(stripPrefix(url, name)).toBe(expected);
  });
});
