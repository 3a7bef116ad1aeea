/**
 * The README's "Feature store" walkthrough, run as written on a copy of
 * resources/examples/features with the real CLI (each command a child
 * process in the copy, as a user runs it): apply, list, training-set,
 * materialize, run, models show, `dagwood serve --project .`, the README's
 * own curl bodies for /get-online-features and infer by entity, and deploy.
 * The answers are checked against the ones the README shows, read from the
 * README itself, so the README cannot drift from what the commands do. The
 * only change to the commands: the server listens on a free port (the copy's
 * target URL follows it), not 8766.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, ROOT, startDagwood } from "./testing";

const EXAMPLE = join(ROOT, "resources", "examples", "features");
const TOKEN = "features-example-token";

/** The README's "Feature store" section. */
const SECTION = (() => {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = text.indexOf("\n## Feature store\n");
  if (start < 0) throw new Error('README.md has no "## Feature store" section');
  const end = text.indexOf("\n## ", start + 5);
  return text.slice(start, end < 0 ? undefined : end);
})();

/** The section's fenced blocks of one language, in order. */
function blocks(lang: string): string[] {
  return [...SECTION.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1]!);
}

/** The commands of the section's sh blocks, with continued lines joined and comments cut. */
const COMMANDS = blocks("sh")
  .join("\n")
  .replace(/\\\n\s*/g, "")
  .split("\n")
  .map((line) => line.replace(/\s+#.*$/, "").trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

/** The body a README curl command posts to `path`. */
function curlBody(path: string): unknown {
  const line = COMMANDS.find((c) => c.startsWith("curl") && c.includes(path));
  const body = line && /-d '([^']*)'/.exec(line)?.[1];
  if (!body) throw new Error(`the README has no curl command posting to ${path}`);
  return JSON.parse(body);
}

/** The dagwood commands the README runs, as argument lists (without the leading `dagwood`). */
const dagwoodCommands = COMMANDS.filter((c) => c.startsWith("dagwood ")).map((c) =>
  c.replace(/ &$/, "").split(/\s+/).slice(1),
);

/** The README's comment lines right after a command starting with `prefix`. */
function commentsAfter(prefix: string): string[] {
  const lines = blocks("sh").join("\n").split("\n");
  const at = lines.findIndex((l) => l.startsWith(prefix));
  if (at < 0) throw new Error(`the README runs no "${prefix}"`);
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith("#")) break;
    out.push(line.replace(/^#\s?/, ""));
  }
  return out;
}

let dir: string;
let url: string;
let serve: ReturnType<typeof startDagwood> | undefined;
const env = { ...process.env, DAGWOOD_SERVE_TOKEN: TOKEN, DAGWOOD_TOKEN_SERVE: TOKEN, DAGWOOD_USER: "e2e" };
const dagwood = (args: string[]): Promise<CliResult> => startDagwood(args, { cwd: dir, env }).done;
const command = (name: string): string[] => {
  const found = dagwoodCommands.find((c) => c.join(" ").startsWith(name));
  if (!found) throw new Error(`the README runs no "dagwood ${name}"`);
  return found;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-features-example-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes(".dagwood") });
});

afterAll(async () => {
  if (serve) {
    serve.child.kill("SIGTERM");
    await serve.done;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the README's feature store walkthrough, on the example", { timeout: 120_000 }, () => {
  it("runs the commands the README lists, in its order", () => {
    expect(dagwoodCommands.map((c) => c.slice(0, 2).join(" "))).toEqual([
      "features apply",
      "features list",
      "features training-set",
      "features materialize",
      "run pipelines/train.dag.json",
      "models show",
      "serve --port",
      "deploy rain-tomorrow@champion",
    ]);
  });

  it("applies the definitions and lists them", async () => {
    const apply = await dagwood(command("features apply"));
    expect(apply.code, apply.stderr).toBe(0);
    const said = apply.stdout.split("\n").map((l) => l.trimEnd());
    for (const line of commentsAfter("dagwood features apply")) expect(said).toContain(line);
    const list = await dagwood(command("features list"));
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/daily_weather\s+station\s+5\s+2d\s+data\/weather\.csv\s+v1\s+examples/);
    expect(list.stdout).toMatch(/rain_model\s+daily_weather/);
  });

  it("joins the features onto the entity rows point in time, as the README shows", async () => {
    const args = command("features training-set");
    const r = await dagwood(args);
    expect(r.code, r.stderr).toBe(0);
    const [wrote, ...csv] = commentsAfter("dagwood features training-set");
    expect(r.stdout.trim()).toBe(wrote);
    const out = args[args.indexOf("--out") + 1]!;
    const written = readFileSync(join(dir, out), "utf8").trim().split("\n");
    // The README's rows, without its notes in parentheses.
    expect(written).toEqual(csv.map((l) => l.replace(/\s+\(.*\)$/, "").trim()));
  });

  it("materialises the latest row per station, trains and registers the model with the service", async () => {
    const m = await dagwood(command("features materialize"));
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(
      /daily_weather\s+v1\s+2012-01-01T00:00:00\.000Z\s+2016-01-01T00:00:00\.000Z\s+1\s/,
    );
    const run = await dagwood([...command("run pipelines/train.dag.json"), "--no-attach"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const show = await dagwood(command("models show"));
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(commentsAfter("dagwood models show")[0]!.trim());
  });

  it("serves the features: /get-online-features answers the README's request with the README's answer", async () => {
    const args = command("serve --port");
    args[args.indexOf("--port") + 1] = "0";
    serve = startDagwood(args, { cwd: dir, env });
    url = await new Promise<string>((resolve, reject) => {
      let out = "";
      serve!.child.stdout!.on("data", (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      void serve!.done.then((r) => reject(new Error(`dagwood serve exited (${r.code}): ${r.stderr}`)));
    });
    const settings = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
    settings.targets.serve.url = url;
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings, null, 2));

    const res = await fetch(`${url}/get-online-features`, {
      method: "POST",
      body: JSON.stringify(curlBody("/get-online-features")),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(blocks("json")[1]!));
  });

  it("deploys the model and answers infer by entity as the README shows", async () => {
    const deploy = await dagwood(command("deploy rain-tomorrow@champion"));
    expect(deploy.code, deploy.stderr).toBe(0);
    const res = await fetch(`${url}/v2/models/rain-tomorrow/infer`, {
      method: "POST",
      body: JSON.stringify(curlBody("/infer")),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { outputs: { name: string; data: unknown[] }[] };
    // The README rounds the probabilities to 3 places.
    for (const o of answer.outputs)
      if (o.name === "probabilities") o.data = o.data.map((p) => Math.round((p as number) * 1000) / 1000);
    expect(answer).toEqual(JSON.parse(blocks("json")[2]!));
  });
});
