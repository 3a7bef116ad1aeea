// better-sqlite3 is built for this Node's ABI by `npm ci`; Electron embeds
// another Node and cannot load that build. This makes (once per Electron
// version) a second build for Electron, beside the first, and returns its
// path; the app passes it to better-sqlite3 as `nativeBinding`
// (DAGWOOD_SQLITE_BINDING). It needs the network for Electron's headers, as
// fetching Electron itself does. DuckDB's addon uses Node-API and loads in both.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The Electron build of better-sqlite3's addon, made if missing; undefined if it cannot be made. */
export function electronSqliteBinding() {
  const version = createRequire(import.meta.url)("electron/package.json").version;
  const dir = join(root, "dist", "electron-native", version);
  const binding = join(dir, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node");
  if (existsSync(binding)) return binding;
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  cpSync(join(root, "node_modules", "better-sqlite3"), join(dir, "node_modules", "better-sqlite3"), {
    recursive: true,
  });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "electron-native", private: true, version: "0.0.0" }),
  );
  process.stderr.write(`Building better-sqlite3 for Electron ${version} (once)…\n`);
  const r = spawnSync(
    "npx",
    [
      "--yes",
      "@electron/rebuild",
      "--version",
      version,
      "--module-dir",
      dir,
      "--only",
      "better-sqlite3",
      "--force",
    ],
    { stdio: "inherit", timeout: 600_000 },
  );
  return r.status === 0 && existsSync(binding) ? binding : undefined;
}
