// bin/dagwood starts the CommonJS build of the CLI with a V8 code cache kept
// beside it (bin/dagwood.mjs). These tests run an installed copy (bin/ and
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
    for (const f of ["dagwood", "dagwood.mjs"]) cpSync(join(ROOT, "bin", f), join(copy, "bin", f));
    cpSync(join(ROOT, "dist", "cli"), join(copy, "dist", "cli"), { recursive: true });
    rmSync(join(copy, "dist", "cli", "main.cjs.cache"), { force: true });
    cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    cache = join(copy, "dist", "cli", "main.cjs.cache");
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
    writeFileSync(cache, "not a code cache");
    const r = dagwood("validate", join(ROOT, "resources", "examples", "starter", "penguins-model.dag.json"));
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/penguins-model\.dag\.json: valid\n$/);
    expect(readFileSync(cache, "utf8")).not.toBe("not a code cache");
  });

  it("ignores a cache made for another bundle of the same length, or cut short, and rewrites it", () => {
    expect(dagwood("blocks").code).toBe(0);
    const bundle = join(copy, "dist", "cli", "main.cjs");
    const built = readFileSync(bundle, "utf8");
    // A rebuild that changes a string and not the length: V8 alone would take the old compiled code
    // (its check of a cache against its source is the source's length).
    expect(built.split('"Read file"').length).toBe(2);
    writeFileSync(bundle, built.replace('"Read file"', '"Raed file"'));
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
      for (const f of ["dagwood", "dagwood.mjs", "build.mjs"])
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
      cpSync(join(ROOT, "bin", "build.mjs"), join(checkout, "bin", "build.mjs"));
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
