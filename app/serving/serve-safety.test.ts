/**
 * `dagwood serve` against a web page and a shared machine: cross-origin
 * requests are refused, the token stays off the command line (a file or the
 * environment), and listening beyond loopback without a token is warned about.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serveCommand } from "./cli";
import { createServer } from "./server";
import { testServers } from "./test-servers";
import { trainTestModel } from "./testing";

const TOKEN = "safety-token";
const { tempDir, track } = testServers("dagwood-safety-");

/** A raw POST with exactly these headers (fetch would add its own). */
function post(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: { error?: string; outputs?: unknown[] } }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: "POST", headers }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("cross-origin requests", () => {
  it("refuses a web page's blind simple request (text/plain, foreign Origin) with 403; programs and the server's own origin pass", async () => {
    const server = createServer({ repository: tempDir(), token: TOKEN, log: () => {} });
    track(server);
    const url = await server.listen(0);
    const trained = await trainTestModel({ task: "regression" });
    const load = JSON.stringify({
      parameters: { "file:1/model.onnx": Buffer.from(trained.bytes).toString("base64") },
    });
    const evil = { origin: "https://evil.example", "content-type": "text/plain" };
    const refusedLoad = await post(url, "/v2/repository/models/m/load", load, {
      ...evil,
      authorization: `Bearer ${TOKEN}`,
    });
    expect(refusedLoad.status).toBe(403);
    expect(refusedLoad.json.error).toMatch(/cross-origin request refused: Origin "https:\/\/evil.example"/);
    expect(server.manager.models.has("m")).toBe(false);
    expect(
      (await post(url, "/v2/repository/models/m/load", load, { authorization: `Bearer ${TOKEN}` })).status,
    ).toBe(200);

    const xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
    const infer = JSON.stringify({
      inputs: [
        { name: "x", datatype: xType, shape: [1, 1], data: [4] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    });
    const refused = await post(url, "/v2/models/m/infer", infer, evil);
    expect(refused.status).toBe(403);
    expect((await post(url, "/v2/models/m/infer", infer, { ...evil, origin: "null" })).status).toBe(403);
    // curl -d sends no Origin (and a form content type): a program, served.
    const curl = await post(url, "/v2/models/m/infer", infer, {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(curl.status).toBe(200);
    expect(curl.json.outputs).toHaveLength(1);
    const own = await post(url, "/v2/models/m/infer", infer, {
      origin: url,
      "content-type": "application/json",
    });
    expect(own.status).toBe(200);
  });
});

/** Runs `dagwood serve` until it listens (or exits), then stops it. */
async function serve(args: string[], env: Record<string, string | undefined> = {}) {
  let out = "";
  let err = "";
  const io = {
    stdout: {
      write: (s: string) => {
        out += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream,
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream,
  };
  const listeners: (() => void)[] = [];
  const signals = { once: (_: string, l: () => void) => listeners.push(l) };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    let code: number | undefined;
    const done = serveCommand(["--port", "0", "--repository", tempDir(), ...args], io, signals).then((c) => {
      code = c;
      return c;
    });
    while (code === undefined && !out.includes("listening")) await new Promise((r) => setTimeout(r, 10));
    if (code !== undefined) return { code, out, err, url: "" };
    const url = /listening on (\S+)/.exec(out)![1]!.replace("0.0.0.0", "127.0.0.1");
    const index = await fetch(`${url}/v2/repository/index`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    listeners[0]!();
    return { code: await done, out, err, url, indexStatus: index.status };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe("serve's token and host", () => {
  it("takes the token from a file, and warns when other users can read it", async () => {
    const file = join(tempDir(), "token");
    writeFileSync(file, `${TOKEN}\n`);
    chmodSync(file, 0o600);
    const quiet = await serve(["--token-file", file], { DAGWOOD_SERVE_TOKEN: undefined });
    expect(quiet.code).toBe(0);
    expect(quiet.out).toMatch(/token: set/);
    expect(quiet.indexStatus).toBe(200);
    expect(quiet.err).toBe("");
    chmodSync(file, 0o644);
    const open = await serve(["--token-file", file], { DAGWOOD_SERVE_TOKEN: undefined });
    expect(open.indexStatus).toBe(200);
    expect(open.err).toContain(`warning: ${file} can be read by other users; restrict it with chmod 600`);
  });

  it("takes the token from DAGWOOD_SERVE_TOKEN; --token still works but warns that ps shows it", async () => {
    const fromEnv = await serve([], { DAGWOOD_SERVE_TOKEN: TOKEN });
    expect(fromEnv.indexStatus).toBe(200);
    expect(fromEnv.err).toBe("");
    const fromFlag = await serve(["--token", TOKEN], { DAGWOOD_SERVE_TOKEN: undefined });
    expect(fromFlag.indexStatus).toBe(200);
    expect(fromFlag.err).toMatch(
      /warning: --token puts the token on the command line, where other users of this machine can read it \(ps\); use --token-file FILE or DAGWOOD_SERVE_TOKEN/,
    );
    expect(fromFlag.err).not.toContain(TOKEN);
  });

  it("refuses a token file that is missing, empty or holds what a header cannot carry, and both flags at once", async () => {
    const dir = tempDir();
    const missing = await serve(["--token-file", join(dir, "nope")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--token-file .*nope: cannot read it \(ENOENT\)/);
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n", { mode: 0o600 });
    expect((await serve(["--token-file", empty])).err).toMatch(
      /the token from --token-file .*empty is empty/,
    );
    const spaced = join(dir, "spaced");
    writeFileSync(spaced, "two words\n", { mode: 0o600 });
    const bad = await serve(["--token-file", spaced]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/has a space, a control character or a non-ASCII character/);
    expect(bad.err).not.toContain("two words");
    const both = await serve(["--token-file", spaced, "--token", TOKEN]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/give --token-file or --token, not both/);
  });

  it("warns when it listens beyond loopback without a token", async () => {
    const open = await serve(["--host", "0.0.0.0"], { DAGWOOD_SERVE_TOKEN: undefined });
    expect(open.code).toBe(0);
    expect(open.err).toMatch(
      /warning: listening on 0\.0\.0\.0 without a token: anyone who can reach the port can run inferences/,
    );
    const guarded = await serve(["--host", "0.0.0.0"], { DAGWOOD_SERVE_TOKEN: TOKEN });
    expect(guarded.err).toBe("");
    const loopback = await serve([], { DAGWOOD_SERVE_TOKEN: undefined });
    expect(loopback.err).toBe("");
  });
});
