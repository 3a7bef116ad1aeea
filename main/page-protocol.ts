/**
 * The app's page is served from its own scheme, `app://dagwood/…`, not from
 * `file://`: a file:// page can read any file Chromium may open and shares
 * its origin with every other local file, whereas `app://dagwood` is one
 * origin that serves only the built renderer's folder (Electron's security
 * checklist, "Avoid usage of the file:// protocol"). main.ts registers the
 * scheme as standard and secure, so CSP `'self'` means this origin, and
 * answers each request with `pageResponse`.
 *
 * No Electron here: these are plain functions, tested under Node.
 */
import { extname, isAbsolute, relative, resolve } from "node:path";
import { CONTENT_SECURITY_POLICY } from "../app/api/csp";

export const PAGE_SCHEME = "app";
export const PAGE_HOST = "dagwood";
export const PAGE_ORIGIN = `${PAGE_SCHEME}://${PAGE_HOST}`;
/** The page the window loads (the query may carry `pipeline`). */
export const PAGE_URL = `${PAGE_ORIGIN}/index.html`;

/** The file types the built renderer has; anything else is not served. */
export const PAGE_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

export type PageFile =
  | { ok: true; file: string; type: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

/**
 * Whether a URL is on the page's origin. Node parses `app:` as a non-special
 * scheme and keeps the host's case; Chromium lower-cases a standard scheme's
 * host, so the comparison ignores case.
 */
function isPageOrigin(url: URL): boolean {
  return (
    url.protocol === `${PAGE_SCHEME}:` &&
    url.host.toLowerCase() === PAGE_HOST &&
    !url.username &&
    !url.password
  );
}

const refuse = (status: 400 | 403 | 404, reason: string): PageFile => ({ ok: false, status, reason });

/**
 * The file under `root` (the built renderer's folder) that `requestUrl`
 * names, or why none is served: another origin, a malformed or encoded
 * escape (`%2e%2e`, `%2f`, `\`, NUL, a drive letter or stream name), a path
 * that leaves `root`, or a file type the renderer does not have. `/` is
 * `index.html`.
 */
export function resolvePageFile(root: string, requestUrl: string): PageFile {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return refuse(400, "not a URL");
  }
  if (!isPageOrigin(url)) return refuse(404, `only ${PAGE_ORIGIN}/ is served here`);
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return refuse(400, "malformed percent-encoding in the path");
  }
  // The URL parser already folded literal "." and ".." segments; these arrive encoded, or in Windows forms.
  if (/[\\\0:]/.test(path)) return refuse(403, "the path holds a backslash, NUL or colon");
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) return refuse(403, "the path leaves the page's folder");
  const file = resolve(root, ...(segments.length ? segments : ["index.html"]));
  const back = relative(resolve(root), file);
  if (back === "" || back.startsWith("..") || isAbsolute(back))
    return refuse(403, "the path leaves the page's folder");
  const type = PAGE_TYPES[extname(file).toLowerCase()];
  if (!type) return refuse(404, "not a file type of the page");
  return { ok: true, file, type };
}

/** The headers of every file the page protocol serves: its type, the CSP, no sniffing, no referrer. */
export function pageHeaders(type: string): Record<string, string> {
  return {
    "content-type": type,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  };
}

/** Whether a frame's URL is the app's own page (what may call the Api, and where the window may go). */
export function isPageUrl(frameUrl: string | undefined): boolean {
  if (!frameUrl) return false;
  try {
    const url = new URL(frameUrl);
    return isPageOrigin(url) && url.pathname === "/index.html";
  } catch {
    return false;
  }
}

/** The page's URL, with the pipeline to open in its query. */
export function pageUrl(pipeline?: string): string {
  return pipeline ? `${PAGE_URL}?${new URLSearchParams({ pipeline })}` : PAGE_URL;
}

/** Reads a file the page protocol resolved (injected: main.ts passes fs/promises' readFile). */
export async function pageResponse(
  root: string,
  requestUrl: string,
  read: (file: string) => Promise<Uint8Array>,
): Promise<Response> {
  const found = resolvePageFile(root, requestUrl);
  const text = (status: number, body: string) =>
    new Response(body, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
    });
  if (!found.ok) return text(found.status, found.reason);
  let body: Uint8Array;
  try {
    body = await read(found.file);
  } catch {
    return text(404, "no such file in the page");
  }
  return new Response(body, { status: 200, headers: pageHeaders(found.type) });
}
