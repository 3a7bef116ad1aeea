import { describe, expect, it } from "vitest";
import { ownerLabel, shortHost } from "./run-owner";

describe("a run's owner in a table", () => {
  it("cuts a machine to its first label, but keeps an IP address whole", () => {
    expect(shortHost("ws-1.lab.example")).toBe("ws-1");
    expect(shortHost("gpu-7")).toBe("gpu-7");
    expect(shortHost("10.0.12.7")).toBe("10.0.12.7");
    expect(shortHost("fe80::1")).toBe("fe80::1");
    expect(shortHost(".odd")).toBe(".odd");
  });

  it("reads user@machine, and says what is missing", () => {
    expect(ownerLabel({ user: "ana", host: "ws-1.lab.example" })).toBe("ana@ws-1");
    expect(ownerLabel({ user: "ana", host: null })).toBe("ana");
    expect(ownerLabel({ user: null, host: "ws-2" })).toBe("@ws-2");
    expect(ownerLabel({ user: null, host: null })).toBe("—");
  });
});
