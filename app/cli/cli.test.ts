import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "../store/metadata";
import { ROOT, startDagwood } from "./testing";

const EXAMPLE = join(ROOT, "resources", "examples", "starter");

const dagwood = (...args: string[]) => startDagwood(args).done;

describe("dagwood CLI", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-cli-"));
    copyFileSync(join(EXAMPLE, "penguins.dag.json"), join(dir, "penguins.dag.json"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "cli-test" }\n');
    writeFileSync(join(dir, "penguins.csv"), readFileSync(join(EXAMPLE, "data", "penguins.csv")));
    const pipeline = JSON.parse(readFileSync(join(dir, "penguins.dag.json"), "utf8"));
    pipeline.nodes.find((n: { id: string }) => n.id === "penguins").params.path = "penguins.csv";
    writeFileSync(join(dir, "penguins.dag.json"), JSON.stringify(pipeline));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const statuses = (stdout: string) =>
    Object.fromEntries(
      (JSON.parse(stdout).nodes as { id: string; status: string; reason?: string }[]).map((n) => [
        n.id,
        n.reason ? `${n.status}: ${n.reason}` : n.status,
      ]),
    );

  it("runs the example, reuses the cache, and re-runs only what a --param touches", async () => {
    const file = join(dir, "penguins.dag.json");
    const first = await dagwood("run", file, "--json", "--junit", join(dir, "junit.xml"));
    expect(first.stderr).toMatch(/penguins/);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.status).toBe("succeeded");
    expect(summary.runId).toMatch(/^\d{8}T\d{6}-[0-9a-f]{6}$/);
    expect(statuses(first.stdout)).toEqual({
      penguins: "ran: first run",
      profile: "ran: first run",
      clean: "ran: first run",
      split: "ran: first run",
    });
    const split = summary.nodes.find((n: { id: string }) => n.id === "split");
    expect(split.outputs.train.rows + split.outputs.test.rows).toBe(344);
    expect(readFileSync(join(dir, "junit.xml"), "utf8")).toMatch(
      /<testsuite name="penguins".*tests="4" failures="0"/,
    );

    const second = await dagwood("run", file, "--json");
    expect(second.code).toBe(0);
    expect(new Set(Object.values(statuses(second.stdout)))).toEqual(new Set(["cached"]));

    const third = await dagwood("run", file, "--json", "--param", "seed=8");
    expect(statuses(third.stdout)).toEqual({
      penguins: "cached",
      profile: "cached",
      clean: "cached",
      split: "ran: new params",
    });

    // --full-refresh runs that node anew (not from the cache) without touching its params: its
    // outputs hold the same rows, so what reads them stays cached, and the next run is all cached.
    const refreshed = await dagwood("run", file, "--json", "--param", "seed=8", "--full-refresh", "penguins");
    expect(refreshed.code).toBe(0);
    expect(statuses(refreshed.stdout)).toEqual({
      penguins: "ran: full refresh",
      profile: "cached",
      clean: "cached",
      split: "cached",
    });
    const afterRefresh = await dagwood("run", file, "--json", "--param", "seed=8");
    expect(new Set(Object.values(statuses(afterRefresh.stdout)))).toEqual(new Set(["cached"]));
    const badRefresh = await dagwood("run", file, "--full-refresh", "nope");
    expect(badRefresh.code).toBe(2);
    expect(badRefresh.stderr).toMatch(
      /--full-refresh: no node "nope" in .*penguins\.dag\.json; give a node id/,
    );

    const human = await dagwood("run", file);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/node\s+block\s+status\s+time\s+rows/);
    expect(human.stdout).toMatch(/split\s+split\s+cached/);
  });

  it("validates: a broken pipeline lists every problem with its path and exits 2", async () => {
    const broken = {
      format: "dagwood.pipeline/1",
      name: "broken",
      params: {},
      nodes: [
        { id: "a", block: "ingest.file", params: {} },
        { id: "b", block: "no.such.block", params: {} },
        { id: "c", block: "split", params: { testFraction: 3, seed: "${nope}" } },
      ],
      edges: [{ from: "a.out", to: "c.input" }],
    };
    writeFileSync(join(dir, "broken.dag.json"), JSON.stringify(broken));
    const r = await dagwood("validate", join(dir, "broken.dag.json"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\$\.nodes\[0\]\.params\.path/);
    expect(r.stderr).toMatch(/\$\.nodes\[1\]\.block: Unknown block "no\.such\.block"/);
    expect(r.stderr).toMatch(/\$\.nodes\[2\]\.params\.testFraction/);
    expect(r.stderr).toMatch(/\$\.nodes\[2\]\.params\.seed: Unknown parameter \$\{nope\}/);
    expect(r.stderr).toMatch(/\$\.edges\[0\]\.to: Block split has no input "input"/);
    const json = await dagwood("validate", join(dir, "broken.dag.json"), "--json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).problems.length).toBeGreaterThanOrEqual(5);

    const ok = await dagwood("validate", join(dir, "penguins.dag.json"));
    expect(ok.code).toBe(0);
  });

  it("exits 2 for text that is not JSON, an unknown format, a cycle or bad arguments", async () => {
    writeFileSync(join(dir, "bad.dag.json"), "{ not json");
    const notJson = await dagwood("run", join(dir, "bad.dag.json"));
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/Not valid JSON at line 1/);

    writeFileSync(
      join(dir, "v9.dag.json"),
      JSON.stringify({ format: "dagwood.pipeline/9", name: "x", nodes: [] }),
    );
    const v9 = await dagwood("run", join(dir, "v9.dag.json"));
    expect(v9.code).toBe(2);
    expect(v9.stderr).toMatch(/Unknown pipeline format version/);

    const cycle = {
      format: "dagwood.pipeline/1",
      name: "cycle",
      nodes: [
        { id: "s1", block: "shuffle", params: {} },
        { id: "s2", block: "shuffle", params: {} },
      ],
      edges: [
        { from: "s1.out", to: "s2.in" },
        { from: "s2.out", to: "s1.in" },
      ],
    };
    writeFileSync(join(dir, "cycle.dag.json"), JSON.stringify(cycle));
    const c = await dagwood("validate", join(dir, "cycle.dag.json"));
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/cycle: s1 → s2 → s1/);

    expect((await dagwood("run")).code).toBe(2);
    expect((await dagwood("frobnicate")).code).toBe(2);
    expect((await dagwood("run", join(dir, "penguins.dag.json"), "--bogus")).code).toBe(2);
    const badTarget = await dagwood("run", join(dir, "penguins.dag.json"), "--target", "nope");
    expect(badTarget.code).toBe(2);
    expect(badTarget.stderr).toMatch(/--target: no node "nope"/);
    const badJunit = await dagwood(
      "run",
      join(dir, "penguins.dag.json"),
      "--junit",
      join(dir, "no", "such", "x.xml"),
    );
    expect(badJunit.code).toBe(2);
    expect(badJunit.stderr).toMatch(/--junit: the folder/);
    writeFileSync(join(dir, "dagwood.json"), "{ broken");
    const badSettings = await dagwood("run", join(dir, "penguins.dag.json"));
    expect(badSettings.code).toBe(2);
    expect(badSettings.stderr).toMatch(/dagwood\.json is not valid JSON/);
    writeFileSync(join(dir, "dagwood.json"), "{}");
    const badParam = await dagwood("run", join(dir, "penguins.dag.json"), "--param", "sed=1");
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toMatch(/no parameter "sed"/);
  });

  it("runs in the `dagwood ui` process that holds the project; --no-attach refuses, naming it", async () => {
    const ui = startDagwood(["ui", "--project", dir, "--port", "0"]);
    try {
      const stdout = () =>
        new Promise<void>((resolve) => {
          const check = (d: Buffer) => {
            if (String(d).includes("Dagwood is running at")) resolve();
          };
          ui.child.stdout!.on("data", check);
        });
      await stdout();
      const second = await dagwood("run", join(dir, "penguins.dag.json"), "--project", dir);
      expect(second.code).toBe(0);
      const enginePid = Number(/Running in Dagwood \(PID (\d+)\)/.exec(second.stderr)?.[1]);
      if (process.platform === "linux") {
        // The engine is `ui` started once more with glibc's malloc thresholds fixed (bin/dagwood.cjs).
        expect(readFileSync(`/proc/${enginePid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]).toBe(
          String(ui.child.pid),
        );
        const environ = readFileSync(`/proc/${enginePid}/environ`, "utf8").split("\0");
        expect(environ).toContain("MALLOC_MMAP_THRESHOLD_=1048576");
        expect(environ).toContain("MALLOC_TRIM_THRESHOLD_=131072");
      } else {
        expect(enginePid).toBe(ui.child.pid);
      }
      const refused = await dagwood("run", join(dir, "penguins.dag.json"), "--project", dir, "--no-attach");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `The project ${dir} is open in Dagwood (PID ${enginePid}). Close it there, or drop --no-attach to run in it.\n`,
      );
      // SIGTERM to the process started reaches the engine: both stop.
      ui.child.kill("SIGTERM");
      await ui.done;
      expect(isAlive(enginePid)).toBe(false);
    } finally {
      ui.child.kill("SIGTERM");
      await ui.done;
    }
  });

  it("names a missing input file relative to the project", async () => {
    const p = JSON.parse(readFileSync(join(dir, "penguins.dag.json"), "utf8"));
    p.nodes.find((n: { id: string }) => n.id === "penguins").params.path = "data/gone.csv";
    writeFileSync(join(dir, "gone.dag.json"), JSON.stringify(p));
    const r = await dagwood("run", join(dir, "gone.dag.json"), "--json");
    expect(r.code).toBe(1);
    const node = JSON.parse(r.stdout).nodes.find((n: { id: string }) => n.id === "penguins");
    expect(node.error).toBe(
      'Node "penguins" (ingest.file) failed: File not found: data/gone.csv. Check the path; it is relative to the project folder.',
    );
  });

  it("exits 1 when a node fails, naming the node, block and cause", async () => {
    const p = JSON.parse(readFileSync(join(dir, "penguins.dag.json"), "utf8"));
    p.nodes.find((n: { id: string }) => n.id === "split").params.column = "speciez";
    writeFileSync(join(dir, "fail.dag.json"), JSON.stringify(p));
    const r = await dagwood("run", join(dir, "fail.dag.json"), "--json");
    expect(r.code).toBe(1);
    const split = JSON.parse(r.stdout).nodes.find((n: { id: string }) => n.id === "split");
    expect(split.status).toBe("failed");
    expect(split.error).toMatch(/^Node "split" \(split\) failed: .*speciez/);
  });

  it("recovers from a process killed mid-run: finished nodes stay cached, the rest re-run", async () => {
    // "heavy" counts `limit.csv`'s n rows: first a count that never ends, so the kill always lands
    // mid-node however loaded the machine, then 3 rows, so the re-run takes no time.
    writeFileSync(join(dir, "limit.csv"), "n\n4000000000000000\n");
    const slow = {
      format: "dagwood.pipeline/1",
      name: "slow",
      nodes: [
        { id: "penguins", block: "ingest.file", params: { path: "penguins.csv" } },
        {
          id: "heavy",
          block: "transform.sql",
          params: {
            query:
              "SELECT species, (SELECT count(*) FROM (SELECT 1 FROM range(4000000000000000) LIMIT (SELECT n FROM read_csv('limit.csv')))) AS n FROM input",
          },
        },
        { id: "after", block: "shuffle", params: {} },
      ],
      edges: [
        { from: "penguins.out", to: "heavy.in" },
        { from: "heavy.out", to: "after.in" },
      ],
    };
    const file = join(dir, "slow.dag.json");
    writeFileSync(file, JSON.stringify(slow));
    const run = startDagwood(["run", file]);
    while (!/▶ heavy/.test(run.stderr())) {
      if (run.child.exitCode !== null) throw new Error(`exited early: ${run.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill("SIGKILL");
    await run.done;
    writeFileSync(join(dir, "limit.csv"), "n\n3\n");

    const again = await dagwood("run", file, "--json");
    expect(again.code).toBe(0);
    expect(statuses(again.stdout)).toEqual({
      penguins: "cached",
      heavy: "ran: first run",
      after: "ran: first run",
    });
    const rows = JSON.parse(again.stdout).nodes.find((n: { id: string }) => n.id === "after").outputs.out
      .rows;
    expect(rows).toBe(344);
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"));
    try {
      expect(store.listRuns().map((r) => r.status)).toEqual(["succeeded", "interrupted"]);
    } finally {
      store.close();
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
