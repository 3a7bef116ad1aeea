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

const SOURCE = /\.(ts|tsx|css|html|svg)$/;

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
      entryPoints: { main: join(root, "app", "cli", "main.ts") },
      outdir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      sourcemap: "linked",
      logLevel: "warning",
    });
  },
  async renderer() {
    const vite = await import("vite");
    await vite.build({ configFile: join(root, "vite.config.ts"), logLevel: "warn" });
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
      entryPoints: { main: join(root, "main", "main.ts") },
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
