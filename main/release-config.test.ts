/**
 * The desktop release: electron-builder.yml against what the build makes and
 * the app loads, and .github/workflows/release.yml against GitHub's workflow
 * schema, shellcheck and (when installed) actionlint. electron-builder itself
 * cannot run here: it downloads Electron and the platforms' packaging tools.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import picomatch from "picomatch";
import { beforeAll, describe, expect, it } from "vitest";
import { actionlint, parseYaml, schemaFindings, shellcheck, shellScripts } from "../app/cli/ci-schemas/check";

const ROOT = join(import.meta.dirname, "..");
const CONFIG_FILE = join(ROOT, "electron-builder.yml");
const RELEASE_FILE = join(ROOT, ".github", "workflows", "release.yml");

interface BuilderConfig {
  appId: string;
  productName: string;
  directories: { output: string };
  files: string[];
  extraMetadata: { main: string };
  electronVersion: string;
  asarUnpack: string[];
  linux: { target: string[]; maintainer?: string };
  mac: { target: string[] };
  win: { target: string[] };
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}

interface ReleaseWorkflow {
  on: { push: { tags: string[] }; workflow_dispatch: unknown };
  jobs: Record<
    string,
    {
      "runs-on": string;
      needs?: string;
      if?: string;
      permissions?: Record<string, string>;
      strategy?: { matrix: { include: { os: string; platform: string }[] } };
      steps: Step[];
    }
  >;
}

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  main: string;
  scripts: Record<string, string>;
  optionalDependencies: Record<string, string>;
};

/** Whether electron-builder's `files` take `path`: a pattern matches it and no `!` pattern does. */
function packed(patterns: string[], path: string): boolean {
  const take = patterns.filter((p) => !p.startsWith("!")).map((p) => picomatch(p, { dot: true }));
  const drop = patterns.filter((p) => p.startsWith("!")).map((p) => picomatch(p.slice(1), { dot: true }));
  return take.some((m) => m(path)) && !drop.some((m) => m(path));
}

/** Files under `dir` (relative to ROOT) whose name matches `test`. */
function filesUnder(dir: string, test: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (test.test(e.name)) out.push(relative(ROOT, p).split("\\").join("/"));
    }
  };
  if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir);
  return out;
}

describe("electron-builder.yml", () => {
  const config = parseYaml<BuilderConfig>(readFileSync(CONFIG_FILE, "utf8"));

  beforeAll(async () => {
    // What `npm ci` (its prepare script) and `npm run build` make; nothing when the bundles are fresh.
    // @ts-expect-error: a plain ESM script without types
    const { build } = await import("../bin/build.mjs");
    await build({ targets: ["main", "renderer"] });
  }, 300_000);

  it("names the app, starts package.json's main, and packages the Electron package.json pins", () => {
    expect(config.appId).toBe("dev.dagwood.app");
    expect(config.productName).toBe("Dagwood");
    expect(config.extraMetadata.main).toBe(pkg.main);
    expect(config.electronVersion).toBe(pkg.optionalDependencies.electron);
  });

  it("builds a dmg, an NSIS installer, an AppImage and a deb (which needs a maintainer)", () => {
    expect(config.mac.target).toEqual(["dmg"]);
    expect(config.win.target).toEqual(["nsis"]);
    expect(config.linux.target).toEqual(["AppImage", "deb"]);
    expect(config.linux.maintainer?.trim()).toBeTruthy();
  });

  it("packs every file the app loads at start, as the build writes them, and none of the sources", () => {
    // The names the main process loads (main/main.ts, app/ml/work/pool.ts), beside the main bundle.
    const mainSource = readFileSync(join(ROOT, "main", "main.ts"), "utf8");
    expect(mainSource).toContain('join(here, "engine.mjs")');
    expect(mainSource).toContain('join(here, "preload.js")');
    expect(mainSource).toContain('join(here, "..", "renderer")');
    expect(readFileSync(join(ROOT, "app", "ml", "work", "pool.ts"), "utf8")).toContain("./work-worker${ext}");
    const loaded = [
      pkg.main,
      "dist/main/engine.mjs",
      "dist/main/preload.js",
      "dist/main/work-worker.mjs",
      "dist/renderer/index.html",
      "package.json",
    ];
    for (const file of loaded) {
      expect(existsSync(join(ROOT, file)), `${file} is built`).toBe(true);
      expect(packed(config.files, file), `${file} is packed`).toBe(true);
    }
    const assets = filesUnder(join(ROOT, "dist", "renderer", "assets"), /\.js$/);
    expect(assets.length).toBeGreaterThan(0);
    for (const file of assets) expect(packed(config.files, file), file).toBe(true);
    for (const file of [
      "dist/cli/main.cjs",
      "main/main.ts",
      "app/cli/init.ts",
      "dist/main/release-config.test.js",
      "node_modules/electron/index.js",
    ])
      expect(packed(config.files, file), `${file} is not packed`).toBe(false);
  });

  it("unpacks every native binary of the production dependencies from the asar archive", () => {
    // The packages npm installed for production (not dev-only), from npm's own record of the tree.
    const lock = JSON.parse(readFileSync(join(ROOT, "node_modules", ".package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const production = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith("node_modules/") && !p.dev && path !== "node_modules/electron")
      .map(([path]) => path);
    const native = production.flatMap((dir) =>
      filesUnder(join(ROOT, dir), /\.node$|\.so(\.\d+)*$|\.dylib$|\.dll$/).filter(
        // A nested package is its own entry; build intermediates are not loaded.
        (f) => !f.slice(dir.length + 1).includes("node_modules/") && !f.includes("/obj.target/"),
      ),
    );
    // Those the app loads: SQLite, DuckDB and ONNX Runtime.
    expect(native).toEqual(
      expect.arrayContaining([
        "node_modules/better-sqlite3/build/Release/better_sqlite3.node",
        expect.stringMatching(/^node_modules\/@duckdb\/node-bindings-[a-z0-9-]+\/duckdb\.node$/),
        expect.stringMatching(
          /^node_modules\/onnxruntime-node\/bin\/napi-v\d+\/[a-z0-9]+\/[a-z0-9]+\/onnxruntime_binding\.node$/,
        ),
      ]),
    );
    const unpack = config.asarUnpack.map((p) => picomatch(p, { dot: true }));
    for (const file of native)
      expect(
        unpack.some((m) => m(file)),
        `${file} is unpacked`,
      ).toBe(true);
  });
});

describe(".github/workflows/release.yml", () => {
  const text = readFileSync(RELEASE_FILE, "utf8");
  const workflow = parseYaml<ReleaseWorkflow>(text);
  const config = parseYaml<BuilderConfig>(readFileSync(CONFIG_FILE, "utf8"));
  const packageJob = workflow.jobs.package!;

  it("runs on a version tag or by hand, packaging on macOS, Windows and Linux runners", () => {
    expect(workflow.on.push.tags).toEqual(["v*"]);
    expect(workflow.on).toHaveProperty("workflow_dispatch");
    expect(packageJob["runs-on"]).toBe("${{ matrix.os }}");
    expect(packageJob.strategy?.matrix.include).toEqual([
      { os: "macos-latest", platform: "--mac" },
      { os: "windows-latest", platform: "--win" },
      { os: "ubuntu-latest", platform: "--linux" },
    ]);
  });

  it("installs, builds with package.json's build script, then packages with electron-builder 26", () => {
    const runs = packageJob.steps.flatMap((s) => (s.run ? [s.run] : []));
    const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
    expect(at(/^npm ci$/)).toBeGreaterThanOrEqual(0);
    expect(at(/^npm run build$/)).toBeGreaterThan(at(/^npm ci$/));
    expect(pkg.scripts.build).toMatch(/^node bin\/build\.mjs/);
    const packageStep = runs[at(/electron-builder/)]!;
    expect(at(/electron-builder/)).toBeGreaterThan(at(/^npm run build$/));
    // electronFuses in electron-builder.yml needs electron-builder 26 or later.
    expect(packageStep).toMatch(
      /^npx --yes electron-builder@26\.\d+\.\d+ \$\{\{ matrix\.platform \}\} --publish never$/,
    );
  });

  it("keeps every installer electron-builder.yml asks for, from its output folder", () => {
    const upload = packageJob.steps.find((s) => s.uses === "actions/upload-artifact@v4");
    const paths = String(upload?.with?.path).trim().split("\n");
    const extension: Record<string, string> = { dmg: "dmg", nsis: "exe", AppImage: "AppImage", deb: "deb" };
    const targets = [...config.mac.target, ...config.win.target, ...config.linux.target];
    expect(paths).toEqual(targets.map((t) => `${config.directories.output}/*.${extension[t]}`));
    expect(upload?.with?.["if-no-files-found"]).toBe("error");
  });

  it("drafts the release only for a tag, after every platform packaged", () => {
    const release = workflow.jobs.release!;
    expect(release.if).toBe("startsWith(github.ref, 'refs/tags/')");
    expect(release.needs).toBe("package");
    expect(release.permissions).toEqual({ contents: "write" });
    expect(release.steps.at(-1)?.run).toMatch(/^gh release create "\$TAG" installers\/\* .*--draft/);
  });

  it("is valid by SchemaStore's github-workflow.json, and its shell is clean", () => {
    expect(schemaFindings("github-workflow.json", text)).toEqual([]);
    for (const [name, script] of shellScripts("github", text)) expect(shellcheck(script), name).toBe("");
  });

  it("passes actionlint", async () => {
    expect(await actionlint.runLint(text, ".github/workflows/release.yml")).toEqual([]);
  });
});
