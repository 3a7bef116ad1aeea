/**
 * Whose run is whose through the Api: searchRuns and listRuns filter by user and machine, `mine`
 * means the engine's own user (DAGWOOD_USER here), whoAmI says who that is; bad filters are 400s.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { ApiError } from "./api";
import { type CoreApi, createCoreApi } from "./core";
import { OWNED_RUNS, seedOwnedRuns } from "./run-owner-testing";
import { ownerFilter } from "./tracking";

const RUNS = OWNED_RUNS;

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => ({ status: 200, message: "" }),
    (e) =>
      e instanceof ApiError ? { status: e.status, message: e.message } : { status: -1, message: String(e) },
  );

describe("runs by user and machine through the Api", () => {
  let dir: string;
  let api: CoreApi;
  const previousUser = process.env.DAGWOOD_USER;

  beforeAll(async () => {
    process.env.DAGWOOD_USER = "ana";
    dir = mkdtempSync(join(tmpdir(), "dagwood-owner-"));
    seedOwnedRuns(dir);
    api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
    if (previousUser === undefined) delete process.env.DAGWOOD_USER;
    else process.env.DAGWOOD_USER = previousUser;
  });

  const ids = (runs: { id: string }[]) => runs.map((r) => r.id).sort();

  it("every run carries its user and machine", async () => {
    const page = await api.searchRuns({});
    expect(page.total).toBe(5);
    const byId = new Map(page.runs.map((r) => [r.id, { user: r.user, host: r.host }]));
    for (const r of RUNS) expect(byId.get(r.id)).toEqual({ user: r.user, host: r.host });
  });

  it("searchRuns filters by user, by machine and by both", async () => {
    const ben = await api.searchRuns({ user: "ben" });
    expect(ben.total).toBe(2);
    expect(ids(ben.runs)).toEqual(["r3-ben-ws2", "r4-ben-ws2"]);
    expect(ids((await api.searchRuns({ host: "gpu-7" })).runs)).toEqual(["r2-ana-gpu"]);
    expect(ids((await api.searchRuns({ user: "ana", host: "ws-1.lab.example" })).runs)).toEqual([
      "r1-ana-ws1",
    ]);
    expect((await api.searchRuns({ user: "ana", host: "ws-2" })).total).toBe(0);
    // Exact names: a prefix or another case is another user.
    expect((await api.searchRuns({ user: "an" })).total).toBe(0);
    expect((await api.searchRuns({ user: "ANA" })).total).toBe(0);
  });

  it("mine is the engine's user on every machine, and combines with a machine and paging", async () => {
    const mine = await api.searchRuns({ mine: true });
    expect(ids(mine.runs)).toEqual(["r1-ana-ws1", "r2-ana-gpu"]);
    const paged = await api.searchRuns({ mine: true, limit: 1 });
    expect(paged.total).toBe(2);
    expect(paged.runs.map((r) => r.id)).toEqual(["r2-ana-gpu"]);
    expect(ids((await api.searchRuns({ mine: true, host: "gpu-7" })).runs)).toEqual(["r2-ana-gpu"]);
    // Naming oneself as well is no conflict.
    expect((await api.searchRuns({ mine: true, user: "ana" })).total).toBe(2);
    expect((await api.searchRuns({ mine: false })).total).toBe(5);
  });

  it("listRuns filters the same way, newest first", async () => {
    expect((await api.listRuns({})).map((r) => r.id)).toEqual(RUNS.map((r) => r.id).reverse());
    const mine = await api.listRuns({ mine: true });
    expect(mine.map((r) => r.id)).toEqual(["r2-ana-gpu", "r1-ana-ws1"]);
    expect(mine[0]).toMatchObject({ user: "ana", host: "gpu-7", pipeline: "penguins" });
    expect(mine[0]).not.toHaveProperty("metrics");
    expect((await api.listRuns({ host: "ws-2", limit: 1 })).map((r) => r.id)).toEqual(["r4-ben-ws2"]);
  });

  it("whoAmI answers the user runs are recorded under and this machine", async () => {
    expect(await api.whoAmI({})).toEqual({ user: "ana", host: hostname() });
  });

  it("refuses mine with another user's name", async () => {
    const r = await rejection(api.searchRuns({ mine: true, user: "ben" }));
    expect(r.status).toBe(400);
    expect(r.message).toContain("the runs of ana");
    expect(r.message).toContain("ben");
  });

  it("refuses mine when the engine has no user name, and says to set DAGWOOD_USER", () => {
    // currentUser() falls back to the OS user, which a test cannot take away: the name is passed in.
    let caught: unknown;
    try {
      ownerFilter({ mine: true }, null);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).status).toBe(400);
    expect((caught as ApiError).message).toContain("Set DAGWOOD_USER");
    expect(ownerFilter({ user: "ben" }, null)).toEqual({ user: "ben" });
  });

  it("refuses an over-long, empty or control-character user or machine name, naming the field", async () => {
    const long = await rejection(api.searchRuns({ user: "a".repeat(257) }));
    expect(long.status).toBe(400);
    expect(long.message).toMatch(/user: The user name is longer than 256 characters/);
    expect((await rejection(api.searchRuns({ user: "a".repeat(256) }))).status).toBe(200);
    const host = await rejection(api.listRuns({ host: "h".repeat(254) }));
    expect(host.status).toBe(400);
    expect(host.message).toMatch(/host: The machine name is longer than 253 characters/);
    expect((await rejection(api.listRuns({ user: "" }))).message).toMatch(/user: The user name is empty/);
    expect((await rejection(api.searchRuns({ user: "ana\nben" }))).message).toMatch(/control characters/);
    expect((await rejection(api.call("searchRuns", { mine: "yes" }))).status).toBe(400);
    expect((await rejection(api.call("searchRuns", { user: 7 }))).status).toBe(400);
  });
});
