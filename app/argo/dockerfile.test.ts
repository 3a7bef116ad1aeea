/**
 * The Dockerfile at the repository's root (Docker is not available where the
 * tests run, so the image is not built here): what it copies exists and is
 * not excluded by .dockerignore, its entrypoint is the command the Argo
 * export runs, it runs as the user the export's securityContext names, and
 * the CLI runs from the files the image holds (bin/, dist/cli, package.json),
 * without the sources.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IMAGE_CLI, IMAGE_PROJECT_DIR, STEP_DIR } from "./workflow";

const ROOT = join(import.meta.dirname, "..", "..");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
// Continuation lines joined, comments dropped: one instruction a line.
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);
const finalStage = stages.at(-1)!;
const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

/** The build-context sources of a COPY without --from (the last word is the destination). */
function copySources(line: string): string[] {
  const words = line.split(/\s+/).slice(1);
  if (words.some((w) => w.startsWith("--from="))) return [];
  return words.filter((w) => !w.startsWith("--")).slice(0, -1);
}

describe("Dockerfile", () => {
  it("copies only files that exist and that .dockerignore lets into the build context", () => {
    const sources = instructions.filter((l) => /^COPY\s/i.test(l)).flatMap(copySources);
    expect(sources).toEqual(
      expect.arrayContaining(["package.json", "package-lock.json", "app", "nodes", "bin"]),
    );
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      const top = source.split("/")[0]!;
      expect(
        ignored.filter((pattern) => pattern === top || pattern === source),
        source,
      ).toEqual([]);
    }
  });

  it("runs `node bin/dagwood` as its entrypoint, the command the Argo export gives each step", () => {
    const entry = finalStage.find((l) => l.startsWith("ENTRYPOINT"))!;
    expect(JSON.parse(entry.slice("ENTRYPOINT".length))).toEqual(["node", IMAGE_CLI]);
    // IMAGE_CLI is bin/dagwood under the WORKDIR the image's files are copied to.
    const installDir = finalStage.find((l) => l.startsWith("WORKDIR"))!.split(/\s+/)[1]!;
    expect(IMAGE_CLI).toBe(`${installDir}/bin/dagwood`);
    expect(finalStage).toContain(
      "COPY bin/dagwood bin/dagwood.cjs bin/package.json bin/malloc-tuned.mjs ./bin/",
    );
    // Commands start in the project folder, as the export's workingDir.
    expect(finalStage.filter((l) => l.startsWith("WORKDIR")).at(-1)).toBe(`WORKDIR ${IMAGE_PROJECT_DIR}`);
  });

  it("is small: multi-stage on node:20-bookworm-slim, production dependencies without scripts or Electron, no UI", () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(instructions).toContain("ARG NODE_IMAGE=node:20-bookworm-slim");
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM \$\{NODE_IMAGE\}/);
    const depsInstall = stages.flat().find((l) => l.includes("npm ci --omit=dev"))!;
    expect(depsInstall).toContain("--ignore-scripts");
    expect(depsInstall).toContain("npm rebuild better-sqlite3");
    expect(depsInstall).toContain("rm -rf node_modules/electron");
    expect(depsInstall).toContain('find node_modules -name "*.map" -delete');
    // better-sqlite3's addon stays: only its build leftovers go.
    expect(depsInstall).not.toMatch(/rm -rf [^&]*better-sqlite3\/build(\/Release)?(\s|$)/);
    // Only the CLI is built: no renderer, no Electron main process.
    expect(instructions).toContain("RUN node bin/build.mjs --force cli");
    expect(dockerfile).not.toMatch(/COPY[^\n]*(renderer|main\/|resources)/);
    // The final stage takes the dependencies and the bundle from the others, not the build tools: it
    // installs only the shared library pg-native's addon links to (libpq5) and the CA certificates.
    const finalInstalls = finalStage
      .filter((l) => /^RUN .*apt-get install/.test(l))
      .flatMap((l) => /apt-get install -y --no-install-recommends ([^&]+)/.exec(l)![1]!.trim().split(/\s+/));
    expect(finalInstalls.sort()).toEqual(["ca-certificates", "libpq5"]);
    // The deps stage builds libpq's addon (pg-native, the team store) beside better-sqlite3's, with libpq's headers.
    expect(depsInstall).toContain("npm rebuild better-sqlite3 libpq");
    expect(stages[1]!.join("\n")).toMatch(/apt-get install [^\n]*libpq-dev/);
  });

  it("has RUN commands that sh parses (Docker runs them with /bin/sh -c)", () => {
    const runs = instructions.filter((l) => l.startsWith("RUN ")).map((l) => l.slice(4));
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const cmd of runs) {
      const r = spawnSync("/bin/sh", ["-n", "-c", cmd], { encoding: "utf8" });
      expect(r.status, `${cmd}\n${r.stderr}`).toBe(0);
    }
  });

  it("runs as the non-root user the export's securityContext names, owning the step's folders", () => {
    expect(finalStage).toContain("USER 10001:10001");
    const setup = finalStage.find((l) => l.includes("useradd"))!;
    expect(setup).toContain("--uid 10001");
    expect(setup).toContain(
      `mkdir -p ${IMAGE_PROJECT_DIR} ${STEP_DIR}/in ${STEP_DIR}/out ${STEP_DIR}/pipeline`,
    );
    expect(setup).toContain(`chown -R 10001:10001 ${IMAGE_PROJECT_DIR} ${STEP_DIR}`);
  });
});

describe("the image's files", () => {
  const image = mkdtempSync(join(tmpdir(), "dagwood-image-"));
  afterAll(() => rmSync(image, { recursive: true, force: true }));

  it("run the CLI without the sources: bin/, dist/cli and package.json as the Dockerfile copies them", () => {
    // The final stage's COPY lines, with the repository's own build and node_modules standing in for the stages'.
    cpSync(join(ROOT, "package.json"), join(image, "package.json"));
    for (const f of ["dagwood", "dagwood.cjs", "package.json"])
      cpSync(join(ROOT, "bin", f), join(image, "bin", f));
    cpSync(join(ROOT, "dist", "cli"), join(image, "dist", "cli"), {
      recursive: true,
      filter: (src) => !src.endsWith(".cache"),
    });
    symlinkSync(join(ROOT, "node_modules"), join(image, "node_modules"), "dir");
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(image, "bin", "dagwood"), ...args], { cwd: image, encoding: "utf8" });
    const blocks = run("blocks");
    expect(blocks.stderr).toBe("");
    expect(blocks.status).toBe(0);
    expect(blocks.stdout).toMatch(/^train\.gbdt\s/m);
    const out = join(image, "wf.yaml");
    const exported = run(
      "export",
      "argo",
      join(ROOT, "resources", "examples", "starter", "penguins.dag.json"),
      "--image",
      "x:1",
      "--out",
      out,
    );
    expect(exported.stderr).toBe("");
    expect(exported.status).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("kind: Workflow");
    // Nothing was rebuilt: without app/ the CLI does not look for sources.
    expect(existsSync(join(image, "dist", ".build.lock"))).toBe(false);
  });
});
