// Whether a build target (bin/build.mjs) is older than its sources. CommonJS:
// bin/dagwood.cjs asks it on every command in a checkout, and loading it
// must cost next to nothing; bin/build.mjs imports it.
const { existsSync, readdirSync, statSync } = require("node:fs");
const { join } = require("node:path");

const root = join(__dirname, "..");

/** Each target: the folder it is built into, and the source folders it is built from. */
const TARGETS = {
  cli: { outdir: join(root, "dist", "cli"), sources: ["app", "nodes"] },
  renderer: { outdir: join(root, "dist", "renderer"), sources: ["renderer", "app/api"] },
  main: { outdir: join(root, "dist", "main"), sources: ["main", "app", "nodes"] },
};

const SOURCE = /\.(ts|tsx|css|html|svg)$/;

/**
 * Whether a source under `dir` (not a test) was modified after `since` (ms).
 * Every CLI command in a checkout asks this of ~300 files: paths are joined
 * by hand (path.join normalises each, twice the cost of the stats) and the
 * walk stops at the first newer file.
 */
function sourceNewer(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = entry.name;
    const path = `${dir}/${name}`;
    if (entry.isDirectory()) {
      if (sourceNewer(path, since)) return true;
    } else if (SOURCE.test(name) && !name.endsWith(".test.ts") && !name.endsWith(".test.tsx")) {
      if (statSync(path).mtimeMs > since) return true;
    }
  }
  return false;
}

/** Whether `target` has no build, or a source newer than its build; never for an installed copy (no sources). */
function isStale(target = "cli") {
  const { outdir, sources } = TARGETS[target];
  const stamp = join(outdir, ".built");
  if (!existsSync(stamp)) return true;
  if (!sources.every((s) => existsSync(join(root, s)))) return false;
  const built = statSync(stamp).mtimeMs;
  return sources.some((s) => sourceNewer(join(root, s), built));
}

module.exports = { TARGETS, isStale };
