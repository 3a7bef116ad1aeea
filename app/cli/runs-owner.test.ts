/** `dagwood runs list` by user and machine: --mine, --user, --host, and the "by" column and JSON fields. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedOwnedRuns } from "../api/run-owner-testing";
import { type CliResult, startDagwood } from "./testing";

describe("dagwood runs list by owner", { timeout: 60_000 }, () => {
  let dir: string;
  const cli = (env: Record<string, string>, ...args: string[]): Promise<CliResult> =>
    startDagwood(args, { cwd: dir, env: { ...process.env, ...env } }).done;
  const asAna = (...args: string[]) => cli({ DAGWOOD_USER: "ana" }, ...args);
  const ids = (r: CliResult) => (JSON.parse(r.stdout).runs as { id: string }[]).map((x) => x.id);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-cli-owner-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "cli-owner" }\n');
    seedOwnedRuns(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("shows user@machine in a 'by' column, and the full names in --json", async () => {
    const table = await asAna("runs", "list");
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split("\n");
    expect(lines[0]).toMatch(/^id\s+pipeline\s+status\s+started\s+by\s+duration/);
    expect(lines.find((l) => l.startsWith("r1-ana-ws1"))).toMatch(/\sana@ws-1\s/);
    expect(lines.find((l) => l.startsWith("r3-ben-ws2"))).toMatch(/\sben@ws-2\s/);
    expect(lines.find((l) => l.startsWith("r5-nobody"))).toMatch(/\s—\s/);
    const json = await asAna("runs", "list", "--json");
    const r1 = JSON.parse(json.stdout).runs.find((r: { id: string }) => r.id === "r1-ana-ws1");
    expect(r1).toMatchObject({ user: "ana", host: "ws-1.lab.example" });
    const show = await asAna("runs", "show", "r2-ana-gpu");
    expect(show.stdout).toMatch(/started .* by ana on gpu-7,/);
  });

  it("--mine lists the runs of DAGWOOD_USER on every machine; --user and --host filter", async () => {
    expect(ids(await asAna("runs", "list", "--mine", "--json"))).toEqual(["r2-ana-gpu", "r1-ana-ws1"]);
    expect(ids(await cli({ DAGWOOD_USER: "ben" }, "runs", "list", "--mine", "--json"))).toEqual([
      "r4-ben-ws2",
      "r3-ben-ws2",
    ]);
    expect(ids(await asAna("runs", "list", "--user", "ben", "--json"))).toEqual(["r4-ben-ws2", "r3-ben-ws2"]);
    expect(ids(await asAna("runs", "list", "--host", "gpu-7", "--json"))).toEqual(["r2-ana-gpu"]);
    expect(ids(await asAna("runs", "list", "--mine", "--host", "ws-2", "--json"))).toEqual([]);
    const none = await asAna("runs", "list", "--user", "carl");
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("No runs match.\n");
    const paged = await asAna("runs", "list", "--mine", "--limit", "1");
    expect(paged.stdout).toMatch(/1–1 of 2 runs — --offset 1 for the next page/);
  });

  it("refuses --mine with --user, and an over-long user name, as usage errors", async () => {
    const both = await asAna("runs", "list", "--mine", "--user", "ben");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--mine and --user both name whose runs to list");
    const long = await asAna("runs", "list", "--user", "u".repeat(300));
    expect(long.code).toBe(2);
    expect(long.stderr).toContain("The user name is longer than 256 characters");
    expect(long.stdout).toBe("");
  });
});
