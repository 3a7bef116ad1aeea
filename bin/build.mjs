// Builds the CLI bundle (dist/cli) when a source is newer than it. Called by
// `npm ci` (prepare), by bin/dagwood before each start, and by the tests.
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
const outdir = join(root, "dist", "cli");
const stamp = join(outdir, ".built");
const SOURCES = ["app", "nodes"];

function newestSource(dir, newest = 0) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = newestSource(path, newest);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function isStale() {
  if (!existsSync(stamp)) return true;
  // An installed copy without sources is never stale.
  if (!SOURCES.every((s) => existsSync(join(root, s)))) return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.some((s) => newestSource(join(root, s)) > built);
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

export async function build({ force = false } = {}) {
  if (!force && !isStale()) return false;
  return withLock(async () => {
    if (!force && !isStale()) return false;
    const esbuild = await import("esbuild");
    rmSync(outdir, { recursive: true, force: true });
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
    writeFileSync(stamp, new Date().toISOString());
    return true;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await build({ force: process.argv.includes("--force") });
}
