// How `npm start` opens the app in Chromium's --app window: the arguments, the
// window's size from the screen's, and the screen's size where X tells it.
import { spawnSync } from "node:child_process";

/** The smallest window the app is laid out for (1280×720 content plus the window's frame). */
export const MIN_WINDOW = { width: 1280, height: 800 };

/**
 * The screen's size from `xrandr --current` ("Screen 0: minimum 8 x 8, current 1920 x 1080, …")
 * or `xdpyinfo` ("dimensions:    1920x1080 pixels (508x285 millimeters)"); undefined when neither says.
 */
export function parseScreenSize(text) {
  const match =
    /current\s+(\d+)\s*x\s*(\d+)/.exec(text ?? "") ?? /dimensions:\s+(\d+)x(\d+)\s+pixels/.exec(text ?? "");
  if (!match) return undefined;
  const size = { width: Number(match[1]), height: Number(match[2]) };
  return size.width > 0 && size.height > 0 ? size : undefined;
}

/** The X screen's size, asked of xrandr then xdpyinfo (each given a second); undefined without X or either tool. */
export function screenSize(env = process.env) {
  if (!env.DISPLAY) return undefined;
  for (const [tool, args] of [
    ["xrandr", ["--current"]],
    ["xdpyinfo", []],
  ]) {
    const r = spawnSync(tool, args, { encoding: "utf8", timeout: 1000, env });
    const size = r.status === 0 ? parseScreenSize(r.stdout) : undefined;
    if (size) return size;
  }
  return undefined;
}

/**
 * The window's size: 80% of the screen's width and 85% of its height, never below 1280×800 where
 * the screen holds that, never above the screen; 1280×800 when the screen's size is unknown.
 */
export function windowSize(screen) {
  if (!screen) return { ...MIN_WINDOW };
  const clamp = (share, min, max) => Math.min(max, Math.max(min, Math.round(share)));
  return {
    width: clamp(screen.width * 0.8, MIN_WINDOW.width, screen.width),
    height: clamp(screen.height * 0.85, MIN_WINDOW.height, screen.height),
  };
}

/**
 * Chromium's arguments for the app window at `url`, in a profile of its own (`profileDir`), so the
 * process started is the window's and exits when it closes (a shared profile would hand the window
 * to a Chromium already running and exit at once).
 *
 * Root cannot use Chromium's sandbox, so root alone gets --no-sandbox. That flag makes Chromium show
 * its "unsupported command-line flag" infobar, which Chromium leaves out under --test-type
 * (chrome/browser/ui/startup/startup_browser_creator_impl.cc, infobar_utils.cc in later versions:
 * the startup infobars, ShowBadFlagsPrompt among them, are added only without kTestType and
 * kEnableAutomation); so root also gets --test-type, and a normal user neither.
 */
export function chromiumArgs({ url, profileDir, uid, screen }) {
  if (!/^https?:\/\//.test(url ?? ""))
    throw new Error(`chromiumArgs: the app's URL must be http(s), got ${url}`);
  if (!profileDir) throw new Error("chromiumArgs: a profile directory of its own is needed (profileDir)");
  const size = windowSize(screen);
  const args = [
    `--app=${url}`,
    `--user-data-dir=${profileDir}`,
    `--window-size=${size.width},${size.height}`,
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
  ];
  if (uid === 0) args.push("--no-sandbox", "--test-type");
  return args;
}
