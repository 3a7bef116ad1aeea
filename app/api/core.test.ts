import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { serverLockFile } from "../deploy/embedded";
import { createCoreApi } from "./core";

describe("the core Api's openProject", { timeout: 60_000 }, () => {
  const dirs: string[] = [];
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-core-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("stops the previous project's built-in server (and releases its lock)", async () => {
    const saved = process.env.DAGWOOD_LOCAL_SERVE_PORT;
    process.env.DAGWOOD_LOCAL_SERVE_PORT = "0";
    const first = folder();
    const api = await createCoreApi({ catalog, projectDir: first });
    try {
      const { url, running } = (await api.call("startLocalServer", {})) as { url: string; running: boolean };
      expect(running).toBe(true);
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
      expect(existsSync(serverLockFile(first))).toBe(true);

      await api.call("openProject", { dir: folder() });
      await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
      expect(existsSync(serverLockFile(first))).toBe(false);
      expect(await api.call("listTargets", {})).toEqual([
        expect.objectContaining({ name: "local", running: false }),
      ]);
    } finally {
      await api.close();
      if (saved === undefined) delete process.env.DAGWOOD_LOCAL_SERVE_PORT;
      else process.env.DAGWOOD_LOCAL_SERVE_PORT = saved;
    }
  });

  it("refuses to open another project while a deploy call runs in this one", async () => {
    const held: ServerResponse[] = [];
    const hang = createHttpServer((_req, res) => held.push(res));
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", () => r()));
    const dir = folder();
    const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ targets: { staging: { url } } }));
    const api = await createCoreApi({ catalog, projectDir: dir });
    try {
      const status = api.call("deploymentStatus", {});
      while (!held.length) await new Promise((r) => setTimeout(r, 10));
      await expect(api.call("openProject", { dir: folder() })).rejects.toThrow(/A deploy is in progress/);
      expect(((await api.call("getProject", {})) as { dir: string }).dir).toBe(dir);
      for (const res of held.splice(0)) res.writeHead(503).end();
      hang.closeAllConnections();
      await status;
      expect(await api.call("openProject", { dir: folder() })).toBeTruthy();
    } finally {
      await api.close();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});
