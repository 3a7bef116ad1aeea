// bin/dagwood starts the CommonJS build of the CLI with a V8 code cache kept
// beside it (bin/dagwood.cjs). These tests run an installed copy (bin/ and
// dist/cli/ only, so it never rebuilds) in a temporary folder: the cache is
// written by the first command, read by the next, and a bad one is replaced.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

describe("bin/dagwood", () => {
  let copy: string;
  let cache: string;
  const dagwood = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(copy, "bin", "dagwood"), ...args], {
      cwd: ROOT,
      encoding: "utf8",
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(() => {
    // The global setup built dist/cli.
    copy = mkdtempSync(join(tmpdir(), "dagwood-installed-"));
    for (const f of ["dagwood", "dagwood.cjs", "package.json"])
      cpSync(join(ROOT, "bin", f), join(copy, "bin", f));
    cpSync(join(ROOT, "dist", "cli"), join(copy, "dist", "cli"), { recursive: true });
    for (const f of readdirSync(join(copy, "dist", "cli")))
      if (f.endsWith(".cache")) rmSync(join(copy, "dist", "cli", f), { force: true });
    cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    // Each command keeps its own; most tests here run `blocks`.
    cache = join(copy, "dist", "cli", "main.cjs.blocks.cache");
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it("writes a code cache after the first command and answers the same from it", () => {
    expect(existsSync(cache)).toBe(false);
    const first = dagwood("blocks");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^ingest\.file +Data +— → out +Read file$/m);
    expect(existsSync(cache)).toBe(true);
    const written = readFileSync(cache);
    const second = dagwood("blocks");
    expect(second).toEqual(first);
    // A cache V8 accepted is left as it is.
    expect(readFileSync(cache).equals(written)).toBe(true);
  });

  it("replaces a cache V8 refuses, and runs the command all the same", () => {
    const validateCache = join(copy, "dist", "cli", "main.cjs.validate.cache");
    writeFileSync(validateCache, "not a code cache");
    const r = dagwood("validate", join(ROOT, "resources", "examples", "starter", "penguins-model.dag.json"));
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/penguins-model\.dag\.json: valid\n$/);
    expect(readFileSync(validateCache, "utf8")).not.toBe("not a code cache");
  });

  it("keeps a cache per command, so a small command does not restore a large one's", () => {
    const blocksCache = readFileSync(cache);
    const project = mkdtempSync(join(tmpdir(), "dagwood-installed-project-"));
    try {
      expect(dagwood("runs", "list", "--project", project).code).toBe(1);
      expect(dagwood("frobnicate").code).toBe(2);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
    const caches = readdirSync(join(copy, "dist", "cli")).filter((f) => f.endsWith(".cache"));
    expect(caches).toEqual(expect.arrayContaining(["main.cjs.blocks.cache", "main.cjs.runs.cache"]));
    // A command that is none of the CLI's shares one cache, named for no command.
    expect(caches.filter((f) => !/^main\.cjs\.(blocks|validate|runs|other)\.cache$/.test(f))).toEqual([]);
    expect(readFileSync(cache).equals(blocksCache)).toBe(true);
  });

  it("writes a command's cache once more after a failed run of it, when one succeeds", () => {
    const validateCache = join(copy, "dist", "cli", "main.cjs.validate.cache");
    rmSync(validateCache, { force: true });
    const bad = join(copy, "missing.dag.json");
    expect(dagwood("validate", bad).code).toBe(2);
    const failed = readFileSync(validateCache);
    expect(failed.subarray(0, 4).toString()).toBe("DWC0");
    const good = join(ROOT, "resources", "examples", "starter", "penguins-model.dag.json");
    expect(dagwood("validate", good)).toMatchObject({ code: 0, stderr: "" });
    const succeeded = readFileSync(validateCache);
    expect(succeeded.subarray(0, 4).toString()).toBe("DWC1");
    // It holds what the whole command compiled (the blocks' modules), more than the failed one did.
    expect(succeeded.length).toBeGreaterThan(failed.length);
    // Then it stays, whatever the next runs do.
    expect(dagwood("validate", bad).code).toBe(2);
    expect(dagwood("validate", good).code).toBe(0);
    expect(readFileSync(validateCache).equals(succeeded)).toBe(true);
  });

  it("describes the blocks as the source catalog does (its declarations were taken at build time)", async () => {
    const { catalog } = await import("../nodes/index");
    const { describeBlock } = await import("../app/api/blocks");
    const listed = dagwood("blocks", "--json");
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual(
      JSON.parse(JSON.stringify([...catalog.values()].map(describeBlock))),
    );
  });

  it("ignores a cache made for another bundle of the same length, or cut short, and rewrites it", () => {
    expect(dagwood("blocks").code).toBe(0);
    const bundle = join(copy, "dist", "cli", "main.cjs");
    const built = readFileSync(bundle, "utf8");
    // A rebuild that changes a string and not the length: V8 alone would take the old compiled code
    // (its check of a cache against its source is the source's length).
    // (The title is in the block's module and in the catalog's declarations: bin/build.mjs lazyCatalog.)
    expect(built.split('"Read file"').length).toBeGreaterThan(1);
    writeFileSync(bundle, built.replaceAll('"Read file"', '"Raed file"'));
    try {
      const r = dagwood("blocks");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ingest\.file +Data +— → out +Raed file$/m);
      // Rewritten for the new bundle: the next start takes it and still prints the new text.
      expect(dagwood("blocks").stdout).toBe(r.stdout);
    } finally {
      writeFileSync(bundle, built);
    }
    const whole = readFileSync(cache);
    writeFileSync(cache, whole.subarray(0, Math.floor(whole.length / 2)));
    const cut = dagwood("blocks");
    expect(cut.code).toBe(0);
    expect(cut.stdout).toMatch(/^ingest\.file +Data +— → out +Read file$/m);
    expect(readFileSync(cache).length).toBeGreaterThan(whole.length / 2);
    // A flipped byte in the V8 data is caught by the header's checksum, not handed to V8.
    const flipped = readFileSync(cache);
    const at = flipped.length - 100;
    flipped.writeUInt8(flipped.readUInt8(at) ^ 0xff, at);
    writeFileSync(cache, flipped);
    expect(dagwood("blocks")).toMatchObject({ code: 0, stderr: "" });
    expect(readFileSync(cache).equals(flipped)).toBe(false);
  });

  it("runs without a cache where none can be written, leaving no temporary file", () => {
    rmSync(cache, { force: true });
    // A folder in the cache's place: neither read nor replaced (as root, a read-only folder would not stop the write).
    mkdirSync(cache);
    try {
      const r = dagwood("blocks");
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/^ingest\.file /m);
      expect(readdirSync(join(copy, "dist", "cli")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("keeps exit codes and errors: an invalid pipeline exits 2, an unknown command names itself", () => {
    const bad = join(copy, "bad.dag.json");
    writeFileSync(bad, "{ not json");
    const r = dagwood("validate", bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.dag\.json: 1 problem/);
    const unknown = dagwood("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown command "frobnicate"/);
  });

  it("lists the blocks without loading Node's heavier modules or any package (bin/build.mjs lazyBuiltins)", () => {
    // A hook run before bin/dagwood writes, at exit, the Node modules and the files loaded.
    const hook = join(copy, "loaded-hook.cjs");
    const out = join(copy, "loaded.json");
    writeFileSync(
      hook,
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify({ builtins: process.moduleLoadList, files: Object.keys(require.cache) })));`,
    );
    const r = spawnSync(process.execPath, ["-r", hook, join(copy, "bin", "dagwood"), "blocks"], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ingest\.file /m);
    const loaded = JSON.parse(readFileSync(out, "utf8")) as { builtins: string[]; files: string[] };
    for (const heavy of ["crypto", "child_process", "worker_threads", "http", "os"])
      expect(loaded.builtins).not.toContain(`NativeModule ${heavy}`);
    expect(loaded.files.filter((f) => f.includes("node_modules"))).toEqual([]);
    // (They load on first use: app/cli/cli.test.ts runs pipelines, which hash, spawn and use worker threads, through this bundle.)
  });

  it("runs commands whose code the bundle imports lazily (runs, serve's usage)", () => {
    const project = mkdtempSync(join(tmpdir(), "dagwood-installed-project-"));
    try {
      const r = dagwood("runs", "list", "--project", project);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^No Dagwood runs in /);
      const serve = dagwood("serve", "--help");
      expect(serve.code).toBe(0);
      expect(serve.stdout).toMatch(/dagwood serve/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

describe("bin/dagwood in a checkout", () => {
  it("builds the CLI when its sources are newer than the build, before running the command", () => {
    // A checkout of its own: the sources linked, dist/ its own and empty.
    const checkout = mkdtempSync(join(tmpdir(), "dagwood-checkout-"));
    try {
      mkdirSync(join(checkout, "bin"));
      for (const f of ["dagwood", "dagwood.cjs", "package.json", "stale.cjs", "build.mjs"])
        cpSync(join(ROOT, "bin", f), join(checkout, "bin", f));
      for (const d of ["app", "nodes", "node_modules"]) symlinkSync(join(ROOT, d), join(checkout, d));
      cpSync(join(ROOT, "package.json"), join(checkout, "package.json"));
      expect(existsSync(join(checkout, "dist", "cli", ".built"))).toBe(false);
      const r = spawnSync(process.execPath, [join(checkout, "bin", "dagwood"), "blocks"], {
        cwd: checkout,
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^ingest\.file +Data/m);
      // It ran the bundle it had just built.
      expect(existsSync(join(checkout, "dist", "cli", ".built"))).toBe(true);
      expect(existsSync(join(checkout, "dist", "cli", "main.cjs"))).toBe(true);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });

  it("builds the renderer when started from another folder (dagwood ui run anywhere)", {
    timeout: 180_000,
  }, () => {
    const checkout = mkdtempSync(join(tmpdir(), "dagwood-checkout-"));
    const elsewhere = mkdtempSync(join(tmpdir(), "dagwood-elsewhere-"));
    try {
      mkdirSync(join(checkout, "bin"));
      for (const f of ["build.mjs", "stale.cjs"]) cpSync(join(ROOT, "bin", f), join(checkout, "bin", f));
      for (const d of ["app", "nodes", "renderer", "node_modules"])
        symlinkSync(join(ROOT, d), join(checkout, d));
      for (const f of ["package.json", "vite.config.ts"]) cpSync(join(ROOT, f), join(checkout, f));
      const script = `import(${JSON.stringify(pathToFileURL(join(checkout, "bin", "build.mjs")).href)}).then((m) => m.build({ targets: ["renderer"] }))`;
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: elsewhere,
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(join(checkout, "dist", "renderer", "index.html"))).toBe(true);
      expect(existsSync(join(elsewhere, "dist"))).toBe(false);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
