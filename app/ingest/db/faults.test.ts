/**
 * The bad paths against real servers: wrong credentials, an unreachable host, a server that never
 * answers, cancel (the query is gone from the server), the connection dropping mid-read — and no
 * message, JSON or inspected error ever contains the secret.
 */
import { createServer, type Server, type Socket } from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionSecret, redact, secretVariable } from "./secrets";
import { startMariadbDatabase, startPostgresDatabase, type TestDatabase } from "./test-servers";
import { DbError, type DbErrorKind, type ReadSpec } from "./types";

describe("secrets", () => {
  const noKeychain = () => {
    throw new Error("absent");
  };
  it("come from DAGWOOD_SECRET_<NAME>, else the keychain, else none", () => {
    expect(secretVariable("warehouse")).toBe("DAGWOOD_SECRET_WAREHOUSE");
    expect(
      connectionSecret("warehouse", {
        env: { DAGWOOD_SECRET_WAREHOUSE: "s1" },
        platform: "linux",
        run: noKeychain,
      }),
    ).toBe("s1");
    const calls: string[][] = [];
    const run = (cmd: string, args: string[]) => {
      calls.push([cmd, ...args]);
      return "from-keychain\n";
    };
    expect(connectionSecret("warehouse", { env: {}, platform: "linux", run })).toBe("from-keychain");
    expect(calls).toEqual([["secret-tool", "lookup", "service", "dagwood", "connection", "warehouse"]]);
    expect(connectionSecret("warehouse", { env: {}, platform: "linux", run: noKeychain })).toBeNull();
    expect(redact("a s3cret b s3cret", "s3cret")).toBe("a *** b ***");
  });
});

/** A TCP server that accepts connections and never says a word. */
function silentServer(): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s));
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    );
  });
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function failure(p: Promise<unknown>, kind: DbErrorKind, secret: string | null): Promise<DbError> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(e, "expected a failure").toBeInstanceOf(DbError);
  expect((e as DbError).kind, (e as Error).message).toBe(kind);
  if (secret) {
    expect((e as Error).message).not.toContain(secret);
    expect(JSON.stringify(e)).not.toContain(secret);
    expect(inspect(e, { depth: 6 })).not.toContain(secret);
  }
  return e as DbError;
}

const slowQuery = {
  postgres: "SELECT g, pg_sleep(0.005)::text AS z FROM generate_series(1, 100000) AS g",
  mysql: "SELECT seq AS g, SLEEP(0.005) AS z FROM seq_1_to_100000",
};
const bigQuery = {
  postgres: "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 2000000) AS g",
  mysql: "SELECT seq AS g, REPEAT('x', 100) AS pad FROM seq_1_to_2000000",
};

describe.each([
  ["postgres", startPostgresDatabase],
  ["mysql", startMariadbDatabase],
] as const)("%s faults", (kind, start) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await start();
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });

  it("wrong credentials: an auth error naming the user, never the password", async () => {
    const wrong = "Wr0ng-pass-4f2a";
    const e = await failure(db.open({ secret: wrong }), "auth", wrong);
    expect(e.message).toContain(`user ${db.settings.kind !== "sqlite" ? db.settings.user : ""}`);
    expect(e.message).toContain(`DAGWOOD_SECRET_${db.name.toUpperCase()}`);
  });

  it("an unreachable host: unreachable, naming host:port, never the password", async () => {
    const port = await closedPort();
    const e = await failure(db.open({ port }), "unreachable", db.secret);
    expect(e.message).toContain(`127.0.0.1:${port}`);
  });

  it("a server that never answers: a timeout after connectTimeout, not a hang", async () => {
    const silent = await silentServer();
    try {
      const e = await failure(db.open({ port: silent.port, connectTimeout: 1 }), "timeout", db.secret);
      expect(e.message).toContain(`127.0.0.1:${silent.port}`);
      expect(e.message).toMatch(/within 1 s/);
    } finally {
      silent.close();
    }
  });

  it("cancel stops the query on the server", async () => {
    const conn = await db.open();
    try {
      const ctl = new AbortController();
      let batches = 0;
      const p = conn.read({ source: { query: slowQuery[kind] } } as ReadSpec, {
        batchRows: 10,
        signal: ctl.signal,
        onColumns: () => {},
        onBatch: async () => {
          if (++batches === 1) ctl.abort();
        },
      });
      await failure(p, "cancelled", db.secret);
      // The server-side query is gone (give the server a moment to clean up).
      const running = async () =>
        kind === "postgres"
          ? Number(
              (
                await db.adminQuery(
                  "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(0.005)%' AND pid <> pg_backend_pid()",
                )
              )[0]!.n,
            )
          : Number(
              (
                await db.adminQuery(
                  "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(0.005)%' AND ID <> CONNECTION_ID()",
                )
              )[0]!.n,
            );
      let n = await running();
      for (let i = 0; i < 50 && n > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        n = await running();
      }
      expect(n).toBe(0);
      expect(batches).toBeLessThan(100);
    } finally {
      await conn.close();
    }
  });

  it("the connection dropping mid-read fails the read as dropped; a new connection works", async () => {
    const conn = await db.open();
    let batches = 0;
    const p = conn.read({ source: { query: bigQuery[kind] } } as ReadSpec, {
      batchRows: 1000,
      onColumns: () => {},
      onBatch: async () => {
        if (++batches === 2) {
          if (kind === "postgres")
            await db.admin(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'reader' AND query LIKE 'COPY%'",
            );
          else {
            const ids = await db.adminQuery(
              "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE '%seq_1_to_2000000%' AND ID <> CONNECTION_ID()",
            );
            for (const r of ids) await db.admin(`KILL CONNECTION ${Number(r.id)}`);
          }
        }
      },
    });
    const e = await failure(p, "dropped", db.secret);
    expect(e.message).toMatch(/dropped/);
    await conn.close();
    const again = await db.open();
    expect(await again.serverVersion()).toBeTruthy();
    await again.close();
  });
});
