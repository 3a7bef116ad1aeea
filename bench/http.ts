/**
 * What the HTTP benches share: autocannon (the load generator), a bare
 * node:http JSON echo server (the floor for any Node server), child processes
 * that print `listening on URL`, and `dagwood serve` bundled as the CLI ships it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
// autocannon ships no types; this is the slice of its programmatic API used here.
export const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A node:http server answering each JSON body with itself, re-serialised; run with `node -e`. */
export const ECHO_SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString() || "{}"));
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, "127.0.0.1", () => console.log("listening on http://127.0.0.1:" + server.address().port));
`;

/** Every child startChild started, for the bench to stop. */
export const children: ChildProcess[] = [];

/** Node on `argv` from the repository's root; answers once it prints `listening on URL`, fails if it exits first. */
export function startChild(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ url: string; pid?: number; child: ChildProcess }> {
  const child = spawn(process.execPath, argv, { cwd: root, env: { ...process.env, ...env }, stdio: "pipe" });
  children.push(child);
  return new Promise((resolvePromise, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /listening on (\S+)/.exec(out);
      if (match) resolvePromise({ url: match[1]!, pid: child.pid, child });
    });
    child.stderr!.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) => reject(new Error(`child exited with ${code}: ${err}`)));
  });
}

/**
 * `dagwood serve` as it ships: app/serving/main.ts bundled by esbuild with the
 * options bin/build.mjs uses for the CLI, into dist/`outName`. Run under tsx
 * instead, every request would also pay for tsx's loader and its keep-names helper.
 */
export async function bundleServer(outName: string): Promise<string> {
  const esbuild = await import("esbuild");
  const outdir = join(root, "dist", outName);
  await esbuild.build({
    entryPoints: { main: join(root, "app", "serving", "main.ts") },
    outdir,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return join(outdir, "main.js");
}
