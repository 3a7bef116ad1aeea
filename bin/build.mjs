// Builds what is stale: the CLI bundle (dist/cli), the renderer (dist/renderer)
// and the Electron main process (dist/main), each when a source is newer than
// it. Called by `npm ci` (prepare), by bin/dagwood and npm start, and by the tests.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGETS = {
  cli: { outdir: join(root, "dist", "cli"), sources: ["app", "nodes"] },
  renderer: { outdir: join(root, "dist", "renderer"), sources: ["renderer", "app/api"] },
  main: { outdir: join(root, "dist", "main"), sources: ["main", "app", "nodes"] },
};

const WORK_WORKER = join(root, "app", "ml", "work", "worker.ts");

const SOURCE = /\.(ts|tsx|css|html|svg)$/;

/**
 * Packages the CLI bundle takes in rather than importing from node_modules at
 * run time: pure JavaScript that every command loads. Node resolves and
 * compiles each file of an external package on every start (zod is ~90 files,
 * jsonc-parser's main is UMD, scanned for CommonJS exports); one bundled chunk
 * starts faster (bench/cli-start.ts). Native packages and large ones loaded
 * only by some commands stay external.
 */
const BUNDLED_PACKAGES = /^(zod|jsonc-parser)(\/|$)/;

/** An esbuild plugin: every bare import is external except the packages `bundled` matches. */
const externalsExcept = (bundled) => ({
  name: "externals-except-bundled",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === "entry-point" || bundled.test(args.path)) return undefined;
      return { path: args.path, external: true };
    });
  },
});

/**
 * The CommonJS build (see BUILDERS.cli) also takes in @duckdb/node-api's
 * JavaScript (app/data/native.ts); its native part, @duckdb/node-bindings,
 * stays external.
 */
const BUNDLED_PACKAGES_CJS = /^(zod|jsonc-parser|@duckdb\/node-api)(\/|$)/;

function newestSource(dir, newest = 0) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = newestSource(path, newest);
    else if (SOURCE.test(entry.name) && !/\.test\.tsx?$/.test(entry.name))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function isStale(target = "cli") {
  const { outdir, sources } = TARGETS[target];
  const stamp = join(outdir, ".built");
  if (!existsSync(stamp)) return true;
  // An installed copy without sources is never stale.
  if (!sources.every((s) => existsSync(join(root, s)))) return false;
  const built = statSync(stamp).mtimeMs;
  return sources.some((s) => newestSource(join(root, s)) > built);
}

async function withLock(fn) {
  mkdirSync(join(root, "dist"), { recursive: true });
  const lock = join(root, "dist", ".build.lock");
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch {
      // Another process is building; a lock older than a minute is a leftover.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true });
      await new Promise((r) => setTimeout(r, 100));
      if (i > 600) throw new Error(`Timed out waiting for ${lock}`);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

const BUILDERS = {
  async cli(outdir) {
    const esbuild = await import("esbuild");
    await esbuild.build({
      // work-worker: the worker threads of app/ml/work/pool.ts, found beside the bundle.
      entryPoints: { main: join(root, "app", "cli", "main.ts"), "work-worker": WORK_WORKER },
      outdir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      plugins: [externalsExcept(BUNDLED_PACKAGES)],
      // jsonc-parser's ESM build; its "main" is UMD, which does not bundle.
      mainFields: ["module", "main"],
      sourcemap: "linked",
      logLevel: "warning",
    });
    // The same CLI as one CommonJS file, for bin/dagwood: Node 20 keeps no
    // compiled code for ES modules between runs, but a CommonJS script can be
    // compiled with a V8 code cache (see bin/dagwood.mjs), which saves most of
    // the compile time of every command's start. Dynamic imports inside it
    // stay lazy (esbuild runs each such module's top level on first import).
    await esbuild.build({
      entryPoints: { main: join(root, "app", "cli", "main.ts") },
      outdir,
      outExtension: { ".js": ".cjs" },
      bundle: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      plugins: [externalsExcept(BUNDLED_PACKAGES_CJS)],
      mainFields: ["module", "main"],
      // import() of a package becomes require(): a function V8 restores from
      // the code cache cannot import() (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
      supported: { "dynamic-import": false },
      // import.meta has no CommonJS form: the bundle's own file stands in for the module's.
      // DAGWOOD_CJS_BUNDLE: app/data/native.ts then requires @duckdb/node-api from the bundle.
      define: { "import.meta": "__dagwoodImportMeta", DAGWOOD_CJS_BUNDLE: "true" },
      // "use strict" first, as ES modules are: after the banner, esbuild's own would not count.
      banner: {
        js: '"use strict";\nconst __dagwoodImportMeta = { url: require("node:url").pathToFileURL(__filename).href, dirname: __dirname, filename: __filename };',
      },
      sourcemap: "linked",
      logLevel: "warning",
    });
  },
  async renderer(outdir) {
    const vite = await import("vite");
    // The config's root ("renderer") and outDir are relative: resolve them here, or a build started
    // from another folder (`dagwood ui` run anywhere with stale renderer sources) finds no
    // renderer/index.html, and one through a linked renderer folder writes into the link's target.
    await vite.build({
      configFile: join(root, "vite.config.ts"),
      root: join(root, "renderer"),
      build: { outDir: outdir },
      logLevel: "warn",
    });
  },
  async main(outdir) {
    const esbuild = await import("esbuild");
    const common = {
      bundle: true,
      platform: "node",
      target: "node20",
      sourcemap: "linked",
      logLevel: "warning",
    };
    // The main process may load packages from node_modules; the preload runs
    // sandboxed, so it is one self-contained CommonJS file.
    await esbuild.build({
      ...common,
      // engine: the engine's own process (main/engine-host.ts, an Electron utilityProcess).
      entryPoints: {
        main: join(root, "main", "main.ts"),
        engine: join(root, "main", "engine-host.ts"),
        "work-worker": WORK_WORKER,
      },
      outdir,
      format: "esm",
      packages: "external",
      outExtension: { ".js": ".mjs" },
    });
    await esbuild.build({
      ...common,
      entryPoints: { preload: join(root, "main", "preload.ts") },
      outdir,
      format: "cjs",
      external: ["electron"],
    });
  },
};

/** Builds the named targets (default: all) that are stale, or all of them with force. */
export async function build({ force = false, targets = Object.keys(TARGETS) } = {}) {
  const wanted = targets.filter(
    (t) => TARGETS[t] && (force || isStale(t)) && (t !== "main" || existsSync(join(root, "main", "main.ts"))),
  );
  if (!wanted.length) return false;
  return withLock(async () => {
    for (const t of wanted) {
      if (!force && !isStale(t)) continue;
      const { outdir } = TARGETS[t];
      rmSync(outdir, { recursive: true, force: true });
      await BUILDERS[t](outdir);
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, ".built"), new Date().toISOString());
    }
    return true;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const named = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  await build({ force: process.argv.includes("--force"), ...(named.length ? { targets: named } : {}) });
}
