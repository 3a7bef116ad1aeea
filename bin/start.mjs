// `npm start`: builds what is stale, then opens the desktop app on the example
// project. Where the Electron binary is absent (it downloads from outside npm),
// it starts browser mode and opens Chromium in --app mode if one is installed
// (closing that window stops the server), else prints the URL to open.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "./build.mjs";
import { chromiumArgs, screenSize } from "./chromium-args.mjs";
import { electronSqliteBinding } from "./electron-native.mjs";
import { rerunTuned, shouldRerunTuned } from "./malloc-tuned.mjs";

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

/**
 * Opens the app's window, and stops the server (as Ctrl+C would) when the window is closed (its
 * Chromium exits with 0). A Chromium that fails instead (no X server behind DISPLAY, a crash) has
 * shown no window, or lost it: the server keeps running, and the message says why, with Chromium's
 * last line of error, and to open the URL in a browser.
 * Its profile is a fresh directory, so the process started is the window's own; removed after.
 */
function openAppWindow(chromium, url) {
  const profileDir = mkdtempSync(join(tmpdir(), "dagwood-chromium-"));
  const args = chromiumArgs({ url, profileDir, uid: process.getuid?.(), screen: screenSize() });
  const child = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe"] });
  // Chromium's stderr is noisy (dbus, zygote): the line kept is the one that says why it could not
  // show a window where there is one ("Missing X server or $DISPLAY"), else its last line; without
  // the "[pid:tid:time:ERROR:file.cc(line)]" prefix.
  let lastError = "";
  let windowError = "";
  child.stderr?.on("data", (d) => {
    for (const raw of String(d).split("\n")) {
      const line = raw
        .replace(/^\[[^\]]*\]\s*/, "")
        .trim()
        .slice(0, 300);
      if (!line) continue;
      lastError = line;
      if (!windowError && /X server|display|platform failed/i.test(line)) windowError = line;
    }
  });
  let stopping = false;
  const stopServer = (why) => {
    rmSync(profileDir, { recursive: true, force: true });
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${why} Stopping the server.\n`);
    // The ui command stops its server, engine and advert on SIGTERM, and returns 0.
    process.emit("SIGTERM");
  };
  let failed = false;
  child.on("error", (e) => {
    failed = true;
    rmSync(profileDir, { recursive: true, force: true });
    process.stdout.write(
      `Could not open Chromium (${e.message}): open the URL above in a browser. The server keeps running until you press Ctrl+C.\n`,
    );
  });
  child.on("exit", (code, signal) => {
    // After a failed spawn, Node may or may not report an exit: the error said it all.
    if (stopping || failed) return;
    if (code === 0) {
      stopServer("The app's window was closed.");
      return;
    }
    rmSync(profileDir, { recursive: true, force: true });
    const how = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
    process.stdout.write(
      `Chromium ${how}${windowError || lastError ? ` (${windowError || lastError})` : ""}: open the URL above in a browser. The server keeps running until you press Ctrl+C.\n`,
    );
  });
  // Ctrl+C stops the server; the window goes with it.
  process.once("SIGINT", () => {
    stopping = true;
    child.kill("SIGTERM");
    rmSync(profileDir, { recursive: true, force: true });
  });
}

const electron = process.env.DAGWOOD_NO_ELECTRON ? undefined : (electronBinary() ?? tryInstallElectron());
if (process.env.DAGWOOD_START_BUILT !== "1")
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
} else if (
  // Browser mode's engine runs for hours: it starts once more with glibc's malloc thresholds fixed
  // (bin/malloc-tuned.mjs), built already and Electron ruled out, so the child goes straight to serving.
  shouldRerunTuned() &&
  (await rerunTuned(fileURLToPath(import.meta.url), [], {
    DAGWOOD_START_BUILT: "1",
    DAGWOOD_NO_ELECTRON: "1",
  }))
) {
  // The tuned child served, and this process has exited as it did.
} else {
  const { main } = await import(join(root, "dist", "cli", "main.js"));
  let opened = false;
  const io = {
    stderr: process.stderr,
    stdout: {
      write(text) {
        process.stdout.write(text);
        const url = /https?:\/\/\S+/.exec(text)?.[0];
        if (!url || opened) return true;
        opened = true;
        const chromium = findChromium();
        if (chromium && hasDisplay()) {
          process.stdout.write(
            "Opening it in a Chromium window; closing the window stops the server. Press Ctrl+C to stop.\n",
          );
          openAppWindow(chromium, url);
        } else {
          const why = chromium ? "No display to open a window on" : "No Chromium found to open a window";
          process.stdout.write(
            `${why}: open that URL in a browser. The server keeps running until you press Ctrl+C.\n`,
          );
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
