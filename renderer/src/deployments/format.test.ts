import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { AuditEntry, ServedModelStatus, VersionTraffic } from "../../../app/api/api";
import {
  deploymentFacts,
  formatDiff,
  inferCurl,
  parityOf,
  parityText,
  rollbackChoices,
  servingText,
  targetLabel,
  tokenSourceText,
  trafficRows,
} from "./format";

const entry = (action: AuditEntry["action"], version: number, details: Record<string, unknown>) =>
  ({ id: 1, at: "2026-01-01T00:00:00Z", actor: "ana", action, model: "m", version, details }) as AuditEntry;

const parity = {
  source: "heldout",
  rows: 86,
  maxAbsDiff: 3e-8,
  labelMismatches: 0,
  tolerance: 1e-5,
  passed: true,
};

describe("parity", () => {
  it("reads the figures a deploy recorded", () => {
    expect(parityText(parityOf({ parity })!)).toBe(
      "parity passed: max |served − registry| 3.0e-8 on 86 held-out rows",
    );
  });
  it("says a failure, with an infinite difference (JSON null) and label mismatches", () => {
    const failed = parityOf({ parity: { ...parity, maxAbsDiff: null, labelMismatches: 3, passed: false } })!;
    expect(parityText(failed)).toBe(
      "parity failed: max |served − registry| ∞ on 86 held-out rows, 3 label(s) differ",
    );
  });
  it("is null when no check ran", () => {
    expect(parityOf({ parity: null })).toBeNull();
    expect(parityOf(undefined)).toBeNull();
  });
  it("formats small and plain differences", () => {
    expect(formatDiff(0)).toBe("0");
    expect(formatDiff(0.25)).toBe("0.25");
    expect(formatDiff(0.000012)).toBe("1.2e-5");
  });
});

describe("tokenSourceText", () => {
  it("names the variable, the keychain, or how to give a token", () => {
    expect(tokenSourceText({ name: "local", tokenSource: "env" })).toBe("token from DAGWOOD_TOKEN_LOCAL");
    expect(tokenSourceText({ name: "prod", tokenSource: "keychain" })).toBe("token from the OS keychain");
    expect(tokenSourceText({ name: "eu-west", tokenSource: null })).toContain("set DAGWOOD_TOKEN_EU_WEST");
  });

  it("the built-in target's token is the app's, running or not", () => {
    expect(tokenSourceText({ name: "local", tokenSource: null, builtin: true })).toBe(
      "token held by the app (.dagwood/serve-token)",
    );
    expect(tokenSourceText({ name: "local", tokenSource: "app", builtin: true })).toContain(
      "held by the app",
    );
  });
});

describe("the built-in target", () => {
  it("is labelled as built in", () => {
    expect(targetLabel({ name: "local", builtin: true })).toBe("local (built in)");
    expect(targetLabel({ name: "local" })).toBe("local");
  });
});

describe("the infer curl", () => {
  const body = {
    inputs: [
      { name: "island", datatype: "BYTES", shape: [1, 1], data: ["O'Brien's \"isle\" $HOME `x`"] },
      { name: "date", datatype: "FP64", shape: [1, 1], data: [1433116800000] },
    ],
  };
  it("posts the body to V2 infer, and a POSIX shell passes the body through unchanged", () => {
    const curl = inferCurl("http://127.0.0.1:8000", "penguins", body);
    expect(curl).toMatch(/^curl -s -X POST http:\/\/127\.0\.0\.1:8000\/v2\/models\/penguins\/infer \\\n/);
    expect(curl).not.toMatch(/authorization/i);
    // The -d argument, as sh reads it (printf prints it back): the exact JSON, quotes and $ untouched.
    const arg = curl
      .split("\n")
      .at(-1)!
      .replace(/^ {2}-d /, "");
    const shell = spawnSync("sh", ["-c", `printf '%s' ${arg}`], { encoding: "utf8" });
    expect(shell.status).toBe(0);
    expect(JSON.parse(shell.stdout)).toEqual(body);
  });
  it("sends the bearer token from a variable when the target guards infer", () => {
    const curl = inferCurl("http://h:1", "m", body, "DAGWOOD_TOKEN_PROD");
    expect(curl).toContain('-H "authorization: Bearer $DAGWOOD_TOKEN_PROD"');
  });
});

const served = (over: Partial<ServedModelStatus> = {}): ServedModelStatus => ({
  name: "m",
  serving: 3,
  versions: [2, 3],
  deployments: [
    entry("deployment.succeeded", 3, { target: "local" }),
    entry("deployment.failed", 4, { target: "local" }),
    entry("deployment.succeeded", 1, { target: "local" }),
  ],
  ...over,
});

describe("rollbackChoices", () => {
  it("offers versions served before or still loaded, not the current one nor a failed one", () => {
    expect(rollbackChoices(served())).toEqual([2, 1]);
  });
});

describe("servingText", () => {
  it("says the primary and the split", () => {
    expect(servingText(served())).toBe("v3");
    expect(
      servingText(
        served({ policy: { primary: 3, canary: { version: 2, percent: 10 }, shadow: { version: 1 } } }),
      ),
    ).toBe("v3 (canary 10 % → v2, shadow v1)");
    expect(servingText(served({ serving: null }))).toBe("not loaded");
  });
});

describe("trafficRows", () => {
  it("keeps one model's versions in order", () => {
    const t = (model: string, version: string, requests: number): VersionTraffic => ({
      model,
      version,
      requests,
      errors: 0,
      timed: requests,
      meanMs: 1,
      p50Ms: 0.5,
      p99Ms: 2.5,
    });
    expect(trafficRows([t("m", "10", 1), t("x", "1", 5), t("m", "2", 7)], "m").map((r) => r.version)).toEqual(
      ["v2", "v10"],
    );
  });
});

describe("deploymentFacts", () => {
  it("lists parity, what was restored and the time", () => {
    const failed = entry("deployment.failed", 2, {
      parity: { ...parity, passed: false, maxAbsDiff: 0.4 },
      restored: 1,
      previous: 1,
      ms: 1234,
    });
    expect(deploymentFacts(failed)).toEqual([
      "parity failed: max |served − registry| 0.4 on 86 held-out rows",
      "rolled back to v1",
      "before: v1",
      "1.2 s",
    ]);
  });
});
