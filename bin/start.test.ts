// `npm start` in browser mode (bin/start.mjs): the Chromium window's arguments,
// and the server's life bound to the window's process, shown with a fake
// Chromium (a script recording its arguments and environment, then exiting as
// a closed window does).
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script without types
import { chromiumArgs, parseScreenSize, windowSize } from "./chromium-args.mjs";

const ROOT = join(import.meta.dirname, "..");

describe("chromiumArgs", () => {
  const url = "http://127.0.0.1:5000/token/?pipeline=penguins.dag.json";

  it("gives a normal user no sandbox or test flag, so Chromium shows no flag banner", () => {
    const args: string[] = chromiumArgs({ url, profileDir: "/tmp/p", uid: 1000, screen: undefined });
    expect(args).toContain(`--app=${url}`);
    expect(args).toContain("--user-data-dir=/tmp/p");
    expect(args).toContain("--window-size=1280,800");
    expect(args).not.toContain("--no-sandbox");
    expect(args).not.toContain("--test-type");
  });

  it("gives root --no-sandbox (Chromium's sandbox refuses root) with --test-type to hide the banner", () => {
    const args: string[] = chromiumArgs({ url, profileDir: "/tmp/p", uid: 0, screen: undefined });
    expect(args).toEqual(expect.arrayContaining(["--no-sandbox", "--test-type"]));
  });

  it("refuses a URL that is not http(s) and a missing profile, saying which", () => {
    expect(() => chromiumArgs({ url: "file:///etc/passwd", profileDir: "/tmp/p", uid: 1000 })).toThrow(
      /URL must be http\(s\), got file:\/\/\/etc\/passwd/,
    );
    expect(() => chromiumArgs({ url, profileDir: "", uid: 1000 })).toThrow(/profileDir/);
  });
});

describe("windowSize", () => {
  it("takes most of a large screen, at least 1280×800 where it fits, never more than the screen", () => {
    // 0.8 × 1920 = 1536, 0.85 × 1080 = 918.
    expect(windowSize({ width: 1920, height: 1080 })).toEqual({ width: 1536, height: 918 });
    // 0.8 × 2560 = 2048, 0.85 × 1440 = 1224.
    expect(windowSize({ width: 2560, height: 1440 })).toEqual({ width: 2048, height: 1224 });
    // 0.8 × 1366 = 1093 < 1280; 800 > 768, so the screen's height.
    expect(windowSize({ width: 1366, height: 768 })).toEqual({ width: 1280, height: 768 });
    expect(windowSize({ width: 1024, height: 600 })).toEqual({ width: 1024, height: 600 });
    expect(windowSize(undefined)).toEqual({ width: 1280, height: 800 });
  });
});

describe("parseScreenSize", () => {
  it("reads xrandr's current size and xdpyinfo's dimensions", () => {
    expect(
      parseScreenSize(
        "Screen 0: minimum 8 x 8, current 1920 x 1080, maximum 32767 x 32767\nHDMI-1 connected",
      ),
    ).toEqual({ width: 1920, height: 1080 });
    expect(parseScreenSize("screen #0:\n  dimensions:    1366x768 pixels (361x203 millimeters)\n")).toEqual({
      width: 1366,
      height: 768,
    });
  });

  it("gives undefined for anything else", () => {
    expect(parseScreenSize("")).toBeUndefined();
    expect(parseScreenSize(undefined)).toBeUndefined();
    expect(parseScreenSize("Can't open display :9")).toBeUndefined();
    expect(parseScreenSize("current 0 x 0")).toBeUndefined();
  });
});

describe("npm start in browser mode", () => {
  let dir: string;
  let project: string;
  let fakeChromium: string;
  let record: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-start-"));
    project = join(dir, "project");
    cpSync(join(ROOT, "resources", "examples", "starter"), project, {
      recursive: true,
      filter: (src) => !src.includes(".dagwood"),
    });
    record = join(dir, "chromium.txt");
    fakeChromium = join(dir, "chromium");
    // Records its arguments and the malloc setting it inherited, then "closes its window".
    writeFileSync(
      fakeChromium,
      `#!/bin/sh\nprintf '%s\\n' "$@" > "${record}"\necho "MALLOC_MMAP_THRESHOLD_=$MALLOC_MMAP_THRESHOLD_" >> "${record}"\nsleep 1\nexit 0\n`,
    );
    chmodSync(fakeChromium, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts bin/start.mjs in a process group of its own (as a terminal would); the global setup built dist/. */
  function start(env: Record<string, string>): {
    child: ChildProcess;
    output: () => string;
    exit: Promise<number | null>;
  } {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !["DISPLAY", "WAYLAND_DISPLAY", "DAGWOOD_MALLOC_TUNED"].includes(k),
      ),
    ) as Record<string, string>;
    const child = spawn(process.execPath, [join(ROOT, "bin", "start.mjs")], {
      env: {
        ...base,
        DAGWOOD_PROJECT: project,
        DAGWOOD_NO_ELECTRON: "1",
        DAGWOOD_START_BUILT: "1",
        DAGWOOD_CHROMIUM: fakeChromium,
        ...env,
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout?.on("data", (d) => {
      text += d;
    });
    child.stderr?.on("data", (d) => {
      text += d;
    });
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, output: () => text, exit };
  }

  async function waitFor(output: () => string, pattern: RegExp, ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    while (!pattern.test(output())) {
      if (Date.now() > until) throw new Error(`no ${pattern} in:\n${output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it("opens the window, says where the app is, and stops the server with exit 0 when the window closes", async () => {
    const run = start({ DISPLAY: ":dagwood-test-no-such-display" });
    const code = await run.exit;
    const out = run.output();
    expect(code, out).toBe(0);
    const url = /Dagwood is running at (http\S+)/.exec(out)?.[1];
    expect(url, out).toBeTruthy();
    expect(out).toContain("Press Ctrl+C to stop.");
    expect(out).toContain("The app's window was closed. Stopping the server.");
    const recorded = readFileSync(record, "utf8").split("\n");
    expect(recorded).toContain(`--app=${url}`);
    // No X server answers on that display: the window falls back to 1280×800.
    expect(recorded).toContain("--window-size=1280,800");
    expect(recorded.includes("--no-sandbox")).toBe(process.getuid?.() === 0);
    // The server (and the window it started) ran with glibc's malloc thresholds fixed.
    if (process.platform === "linux") expect(recorded).toContain("MALLOC_MMAP_THRESHOLD_=1048576");
    // The server is gone: its port refuses.
    await expect(fetch(url!)).rejects.toThrow();
  }, 60_000);

  it("when Chromium fails to open a window, says why and keeps the server running until Ctrl+C", async () => {
    // A Chromium that cannot reach the X server prints its error and exits with 1, as Chromium does.
    const failing = join(dir, "chromium-failing");
    writeFileSync(
      failing,
      [
        "#!/bin/sh",
        // Debian's Chromium 156 without an X server, its lines as printed (dbus and zygote noise around).
        "echo '[12327:12327:1206/131623.925790:ERROR:dbus/bus.cc:405] Failed to connect to the bus' >&2",
        "echo '[12327:12327:1206/131623.925812:ERROR:ui/ozone/platform/x11/ozone_platform_x11.cc:257] Missing X server or $DISPLAY' >&2",
        "echo '[12327:12327:1206/131623.925842:ERROR:ui/aura/env.cc:253] The platform failed to initialize.  Exiting.' >&2",
        "echo '[12348:12348:0100/000000.940109:ERROR:content/zygote/zygote_linux.cc:662] write: Broken pipe (32)' >&2",
        "exit 1",
        "",
      ].join("\n"),
    );
    chmodSync(failing, 0o755);
    const run = start({ DISPLAY: ":dagwood-test-no-such-display", DAGWOOD_CHROMIUM: failing });
    let stopped = false;
    try {
      await waitFor(run.output, /keeps running until you press Ctrl\+C/);
      const out = run.output();
      // The line that says why, without Chromium's prefix; not the zygote noise printed after it.
      expect(out).toContain("Chromium exited with code 1 (Missing X server or $DISPLAY)");
      expect(out).toContain("open the URL above in a browser");
      expect(out).not.toContain("Stopping the server");
      const url = /Dagwood is running at (http\S+)/.exec(out)?.[1];
      expect((await fetch(url!)).ok).toBe(true);
      process.kill(-run.child.pid!, "SIGINT");
      stopped = true;
      expect(await run.exit, run.output()).toBe(0);
      await expect(fetch(url!)).rejects.toThrow();
    } finally {
      // A failed expectation must not leave the server holding the project for the next test.
      if (!stopped) process.kill(-run.child.pid!, "SIGINT");
    }
  }, 60_000);

  it("without a display, says the server keeps running, and stops on Ctrl+C with exit 0", async () => {
    const run = start({});
    await waitFor(run.output, /keeps running until you press Ctrl\+C/);
    const url = /Dagwood is running at (http\S+)/.exec(run.output())?.[1];
    expect((await fetch(url!)).ok).toBe(true);
    // Ctrl+C in a terminal signals the whole foreground process group.
    process.kill(-run.child.pid!, "SIGINT");
    expect(await run.exit, run.output()).toBe(0);
    await expect(fetch(url!)).rejects.toThrow();
  }, 60_000);
});
