import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { publishedHost } from "../../scripts/servers/containers.ts";

describe("the address tests use for a container's published port", () => {
  it("is loopback for an engine on this machine, even when testcontainers reports the bridge gateway", () => {
    assert.equal(publishedHost("172.17.0.1", undefined), "127.0.0.1");
    assert.equal(publishedHost("172.17.0.1", "unix:///var/run/docker.sock"), "127.0.0.1");
    assert.equal(publishedHost("localhost", undefined), "127.0.0.1");
  });

  it("is the reported host for a remote engine", () => {
    assert.equal(publishedHost("10.0.0.5", "tcp://10.0.0.5:2375"), "10.0.0.5");
    assert.equal(publishedHost("localhost", "tcp://127.0.0.1:2375"), "127.0.0.1");
  });
});
