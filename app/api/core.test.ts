import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
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

describe("the core Api's savePipeline", () => {
  const document = { format: "dagwood.pipeline/1", name: "p", nodes: [] };

  it("writes inside the project, and refuses a folder that links out of it or .dagwood", async () => {
    const root = mkdtempSync(join(tmpdir(), "dagwood-save-"));
    const project = join(root, "project");
    const outside = join(root, "outside");
    mkdirSync(project);
    mkdirSync(outside);
    symlinkSync(outside, join(project, "linked"));
    const api = await createCoreApi({ catalog, projectDir: project });
    try {
      await api.call("savePipeline", { path: "ok.dag.json", document });
      expect(readFileSync(join(project, "ok.dag.json"), "utf8")).toContain('"name": "p"');
      // The file does not exist yet: the folder on its way is what leads out.
      await expect(api.call("savePipeline", { path: "linked/new.dag.json", document })).rejects.toMatchObject(
        {
          status: 403,
          message: expect.stringMatching(/links to a file outside the project/),
        },
      );
      expect(readdirSync(outside)).toEqual([]);
      for (const path of [".dagwood/x.dag.json", "./.dagwood/artifacts/x.dag.json", ".Dagwood/y.dag.json"]) {
        await expect(api.call("savePipeline", { path, document }), path).rejects.toMatchObject({
          status: 403,
          message: expect.stringMatching(/inside \.dagwood\//),
        });
      }
      expect(readdirSync(join(project, ".dagwood")).filter((f) => f.endsWith(".dag.json"))).toEqual([]);
    } finally {
      await api.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("loads as the CLI does: a BOM is skipped, an oversized or too deep file is a problem, not a crash", async () => {
    const project = mkdtempSync(join(tmpdir(), "dagwood-load-"));
    writeFileSync(join(project, "bom.dag.json"), `\uFEFF${JSON.stringify(document)}`);
    writeFileSync(join(project, "deep.dag.json"), `${"[".repeat(3000)}${"]".repeat(3000)}`);
    writeFileSync(
      join(project, "big.dag.json"),
      `{"format":"dagwood.pipeline/1","description":"${"x".repeat(17 << 20)}"}`,
    );
    const api = await createCoreApi({ catalog, projectDir: project });
    try {
      type Loaded = { document: unknown; problems: { message: string }[] };
      const bom = (await api.call("loadPipeline", { path: "bom.dag.json" })) as Loaded;
      expect(bom.problems).toEqual([]);
      expect(bom.document).toMatchObject({ name: "p" });
      const deep = (await api.call("loadPipeline", { path: "deep.dag.json" })) as Loaded;
      expect(deep.document).toBeNull();
      expect(deep.problems[0]!.message).toMatch(/nested more than 64 levels/);
      await expect(api.call("loadPipeline", { path: "big.dag.json" })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/MiB/),
      });
      await expect(api.call("loadPipeline", { path: "none.dag.json" })).rejects.toMatchObject({
        status: 404,
      });
    } finally {
      await api.close();
      rmSync(project, { recursive: true, force: true });
    }
  });
});
