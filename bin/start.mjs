// `npm start`: builds what is stale, then opens the desktop app on the example
// project. Where the Electron binary is absent (it downloads from outside npm),
// it starts browser mode and opens Chromium in --app mode if one is installed,
// else prints the URL to open.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "./build.mjs";
import { electronSqliteBinding } from "./electron-native.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const project = process.env.DAGWOOD_PROJECT ?? join(root, "resources", "examples", "starter");
const pipeline = process.env.DAGWOOD_PIPELINE ?? (process.env.DAGWOOD_PROJECT ? "" : "penguins.dag.json");
const require = createRequire(import.meta.url);

function electronBinary() {
  try {
    const path = require("electron");
    return typeof path === "string" && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The package is installed without its binary (install scripts are off): fetch it once, if the network allows. */
function tryInstallElectron() {
  const installer = join(root, "node_modules", "electron", "install.js");
  // A failed fetch is not retried for a day, so an offline machine starts at once.
  const failedMarker = join(root, "node_modules", ".dagwood-electron-fetch-failed");
  const recentlyFailed = existsSync(failedMarker) && Date.now() - statSync(failedMarker).mtimeMs < 86_400_000;
  if (!existsSync(installer) || recentlyFailed || process.env.CI) return undefined;
  process.stderr.write("Fetching the Electron binary (once)…\n");
  const r = spawnSync(process.execPath, [installer], { stdio: "ignore", timeout: 120_000 });
  if (r.status !== 0) {
    writeFileSync(failedMarker, new Date().toISOString());
    process.stderr.write("Electron could not be fetched; starting browser mode instead.\n");
  }
  return electronBinary();
}

function findChromium() {
  const candidates = [
    process.env.DAGWOOD_CHROMIUM,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  ];
  return candidates.find((c) => c && existsSync(c));
}

const hasDisplay = () =>
  process.platform === "darwin" ||
  process.platform === "win32" ||
  Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);

const electron = process.env.DAGWOOD_NO_ELECTRON ? undefined : (electronBinary() ?? tryInstallElectron());
await build({ targets: electron ? ["cli", "renderer", "main"] : ["cli", "renderer"] });

const sqliteBinding = electron ? electronSqliteBinding() : undefined;
if (electron && !sqliteBinding)
  process.stderr.write("Could not build better-sqlite3 for Electron; starting browser mode instead.\n");

if (electron && sqliteBinding) {
  const child = spawn(
    electron,
    [join(root, "dist", "main", "main.mjs"), `--project=${project}`, `--pipeline=${pipeline}`],
    {
      stdio: "inherit",
    },
  );
  child.on("exit", (code) => process.exit(code ?? 0));
} else {
  const { main } = await import(join(root, "dist", "cli", "main.js"));
  const io = {
    stderr: process.stderr,
    stdout: {
      write(text) {
        process.stdout.write(text);
        const url = /https?:\/\/\S+/.exec(text)?.[0];
        const chromium = findChromium();
        if (url && chromium && hasDisplay()) {
          const args = [
            `--app=${url}`,
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
          ];
          if (process.getuid?.() === 0) args.push("--no-sandbox");
          spawn(chromium, args, { stdio: "ignore", detached: true }).unref();
        } else if (url) {
          process.stdout.write("Open that URL in a browser. Press Ctrl+C to stop.\n");
        }
        return true;
      },
    },
  };
  process.exitCode = await main(
    ["ui", "--project", project, "--pipeline", pipeline, "--port", process.env.PORT ?? "0"],
    io,
  );
}
