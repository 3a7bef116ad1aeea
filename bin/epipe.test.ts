// A command whose reader goes away (`dagwood blocks --json | head`) ends quietly: no stack trace, exit
// status 0 (bin/dagwood.cjs). Each test runs the real CLI with a pipe whose reading end is closed while
// the command still has output to write.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const STARTER = join(ROOT, "resources", "examples", "starter");

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the reader read (head -c 1: the first character). */
  read: string;
  stderr: string;
}

/**
 * Runs bin/dagwood with `args`, its stdout piped to `head -c 1`, which reads its first chunk and exits.
 * bash makes the pipe (pipe(2): Node's own "pipe" stdio is a socket pair, whose buffer would take the
 * whole output before the reader goes) and reports the command's status.
 */
function runIntoHead(args: string[]): Ended {
  const r = spawnSync(
    "bash",
    [
      "-c",
      '"$@" | head -c 1; echo; echo "status ${PIPESTATUS[0]}"',
      "bash",
      process.execPath,
      join(ROOT, "bin", "dagwood"),
      ...args,
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  const [read = "", status = ""] = r.stdout.split("\n");
  return { code: Number(status.replace("status ", "")), signal: null, read, stderr: r.stderr };
}

/**
 * Runs bin/dagwood with `args` whose stdout's reading end is closed before the command writes; with
 * `stderrToo`, stderr's too.
 */
function runWithoutReader(args: string[], stderrToo = false): Promise<Ended> {
  const child = spawn(process.execPath, [join(ROOT, "bin", "dagwood"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stdout.destroy();
  if (stderrToo) child.stderr.destroy();
  else child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, read: "", stderr }));
  });
}

describe("a closed pipe", () => {
  let project: string;

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), "dagwood-epipe-"));
    cpSync(STARTER, project, { recursive: true, filter: (src) => !src.includes(".dagwood") });
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("ends `blocks --json` quietly when the reader closes after the first chunk", async () => {
    // The catalog is about 100 kB, more than a pipe holds (64 kB on Linux): later writes meet the closed end.
    const ended = runIntoHead(["blocks", "--json"]);
    expect(ended.read).toBe("[");
    expect(ended.stderr).toBe("");
    expect(ended).toMatchObject({ code: 0, signal: null });
  });

  it("ends a run quietly when nobody reads its summary", async () => {
    // `dagwood run` prints progress on stderr (read here) while it runs and the summary on stdout at the end.
    const ended = await runWithoutReader(["run", join(project, "penguins.dag.json"), "--project", project]);
    expect(ended.stderr).not.toMatch(/EPIPE|Error|\bat /);
    expect(ended).toMatchObject({ code: 0, signal: null });
  }, 120_000);

  it("ends `runs list --json` quietly when nobody reads its output", async () => {
    // The run above is listed: the command has output to write.
    const listed = spawnSync(
      process.execPath,
      [join(ROOT, "bin", "dagwood"), "runs", "list", "--json", "--project", project],
      { encoding: "utf8" },
    );
    expect(JSON.parse(listed.stdout).total).toBe(1);
    const ended = await runWithoutReader(["runs", "list", "--json", "--project", project]);
    expect(ended.stderr).toBe("");
    expect(ended).toMatchObject({ code: 0, signal: null });
  });

  it("ends quietly at the first progress line when stderr has no reader either", async () => {
    const ended = await runWithoutReader(
      ["run", join(project, "penguins.dag.json"), "--project", project, "--no-cache"],
      true,
    );
    expect(ended).toMatchObject({ code: 0, signal: null });
  }, 120_000);

  it("keeps a failing command's message and status when only stdout has no reader", async () => {
    // The handler is for a closed pipe only: a bad command keeps its message and exit status.
    const ended = await runWithoutReader(["runs", "show", "no-such-run", "--project", project]);
    expect(ended.code).not.toBe(0);
    expect(ended.stderr).toMatch(/no-such-run/);
  });
});
