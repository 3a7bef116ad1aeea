import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgresDatabase, type TestDatabase } from "../ingest/db/test-servers";
import { main } from "./main";
import { captureIo } from "./testing";

describe("dagwood connections", () => {
  let db: TestDatabase;
  const saved: Record<string, string | undefined> = {};
  const setEnv = (k: string, v: string | undefined) => {
    if (!(k in saved)) saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };

  beforeAll(async () => {
    db = await startPostgresDatabase();
    const pgs = db.settings as Extract<typeof db.settings, { kind: "postgres" }>;
    writeFileSync(
      join(db.projectDir, "dagwood.json"),
      JSON.stringify({
        connections: {
          warehouse: {
            kind: "postgres",
            host: "127.0.0.1",
            port: pgs.port,
            database: "postgres",
            user: "reader",
            ssl: "disable",
            connectTimeout: 3,
          },
          local: { kind: "sqlite", path: "data.sqlite" },
          gone: {
            kind: "postgres",
            host: "127.0.0.1",
            port: 1,
            database: "x",
            user: "y",
            ssl: "disable",
            connectTimeout: 2,
          },
        },
      }),
    );
    const Database = (await import("better-sqlite3")).default;
    new Database(join(db.projectDir, "data.sqlite")).close();
    // No keychain lookups in tests: an empty PATH entry for secret-tool is not enough, so the env decides.
    setEnv("DAGWOOD_SECRET_GONE", "unused-but-set");
  }, 120_000);

  afterAll(async () => {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    await db?.stop();
  });

  it("list names each connection, where it points and where its secret comes from, never the secret", async () => {
    setEnv("DAGWOOD_SECRET_WAREHOUSE", db.secret!);
    const io = captureIo();
    expect(await main(["connections", "list", "--project", db.projectDir, "--json"], io)).toBe(0);
    const rows = JSON.parse(io.out());
    expect(rows.find((r: { name: string }) => r.name === "warehouse")).toMatchObject({
      kind: "postgres",
      target: expect.stringMatching(/^reader@127\.0\.0\.1:\d+\/postgres$/),
      secret: "DAGWOOD_SECRET_WAREHOUSE",
    });
    expect(rows.find((r: { name: string }) => r.name === "local")).toMatchObject({
      kind: "sqlite",
      target: "data.sqlite",
      secret: "none",
    });
    expect(io.out()).not.toContain(db.secret!);
    const text = captureIo();
    expect(await main(["connections", "list", "--project", db.projectDir], text)).toBe(0);
    expect(text.out()).toMatch(/warehouse\s+postgres/);
    expect(text.out()).not.toContain(db.secret!);
  });

  it("test connects and prints the server version", async () => {
    setEnv("DAGWOOD_SECRET_WAREHOUSE", db.secret!);
    const io = captureIo();
    expect(await main(["connections", "test", "warehouse", "--project", db.projectDir], io)).toBe(0);
    expect(io.out()).toMatch(/^warehouse: connected to PostgreSQL 1\d/);
    const lite = captureIo();
    expect(await main(["connections", "test", "local", "--project", db.projectDir, "--json"], lite)).toBe(0);
    expect(JSON.parse(lite.out())).toMatchObject({
      ok: true,
      serverVersion: expect.stringMatching(/^SQLite 3\./),
    });
  });

  it("test exits 1 with a clear error, never the secret", async () => {
    const wrong = "Wr0ng-Secret-for-cli";
    setEnv("DAGWOOD_SECRET_WAREHOUSE", wrong);
    const io = captureIo();
    expect(await main(["connections", "test", "warehouse", "--project", db.projectDir], io)).toBe(1);
    expect(io.err()).toMatch(/refused user reader's credentials/);
    const json = captureIo();
    expect(await main(["connections", "test", "warehouse", "--project", db.projectDir, "--json"], json)).toBe(
      1,
    );
    expect(JSON.parse(json.out())).toMatchObject({ ok: false, error: { kind: "auth" } });
    for (const s of [io.out(), io.err(), json.out(), json.err()]) expect(s).not.toContain(wrong);
    const gone = captureIo();
    expect(await main(["connections", "test", "gone", "--project", db.projectDir], gone)).toBe(1);
    expect(gone.err()).toMatch(/cannot reach 127\.0\.0\.1:1/);
    const unknown = captureIo();
    expect(await main(["connections", "test", "nope", "--project", db.projectDir], unknown)).toBe(1);
    expect(unknown.err()).toMatch(/No connection named nope .*there are: warehouse, local, gone/);
    expect(await main(["connections", "test", "--project", db.projectDir], captureIo())).toBe(2);
  });
});
