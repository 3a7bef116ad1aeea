// Builds what is stale: the CLI bundle (dist/cli), the renderer (dist/renderer)
// and the Electron main process (dist/main), each when a source is newer than
// it. Called by `npm ci` (prepare), by bin/dagwood and npm start, and by the tests.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import stale from "./stale.cjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// The targets and the staleness check are CommonJS, for bin/dagwood.cjs to load at every start.
const { TARGETS } = stale;
export const isStale = stale.isStale;

const WORK_WORKER = join(root, "app", "ml", "work", "worker.ts");

/**
 * Packages the CLI bundle takes in rather than importing from node_modules at
 * run time: pure JavaScript that every command loads. Node resolves and
 * compiles each file of an external package on every start (zod is ~90 files,
 * jsonc-parser's main is UMD, scanned for CommonJS exports); one bundled chunk
 * starts faster (bench/cli-start.ts). Native packages and large ones loaded
 * only by some commands stay external.
 */
const BUNDLED_PACKAGES = /^(zod|jsonc-parser)(\/|$)/;

/** An esbuild plugin: every bare import is external except the packages `bundled` matches. */
const externalsExcept = (bundled) => ({
  name: "externals-except-bundled",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === "entry-point" || bundled.test(args.path)) return undefined;
      return { path: args.path, external: true };
    });
  },
});

/**
 * The CommonJS build (see BUILDERS.cli) also takes in @duckdb/node-api's
 * JavaScript (app/data/native.ts); its native part, @duckdb/node-bindings,
 * stays external. And picomatch (app/project/datasets.ts, which every block
 * that reads a dataset imports): six files Node would resolve and compile on
 * each `validate` (~3 ms of CPU), in the bundle compiled from its code cache.
 */
const BUNDLED_PACKAGES_CJS = /^(zod|jsonc-parser|@duckdb\/node-api|picomatch|better-sqlite3)(\/|$)/;

/**
 * better-sqlite3's JavaScript (13 files, ~6 ms of CPU for every command that
 * opens the project's store, e.g. `runs list`) is in the CommonJS CLI too
 * (app/data/native.ts). It finds its native addon through the `bindings`
 * package, which looks beside the file that calls it, in the bundle that
 * would be dist/cli: here `bindings` is given the package's own folder.
 */
const sqliteBindings = () => ({
  name: "better-sqlite3-bindings",
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, (args) =>
      args.namespace === "file" && /[\\/]node_modules[\\/]better-sqlite3[\\/]/.test(args.importer)
        ? { path: "bindings", namespace: "better-sqlite3-bindings" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "better-sqlite3-bindings" }, () => ({
      loader: "js",
      contents: [
        'const { dirname } = require("node:path");',
        'const bindings = require("bindings");',
        // Not a literal: esbuild would take the name for one of the bundle's own modules.
        'const pkg = ["better-sqlite3", "package.json"].join("/");',
        "const root = dirname(require.resolve(pkg));",
        "module.exports = (name) => bindings({ bindings: name, module_root: root });",
      ].join("\n"),
    }));
  },
});

const NODES_INDEX = join(root, "nodes", "index.ts");

/**
 * The block catalog's declarations (app/engine/block.ts blockDeclaration) and
 * the module of each block, for the CommonJS CLI's lazy catalog (see
 * lazyCatalog): nodes/index.ts and the block modules it imports by default
 * import are bundled and run here once. Undefined, with a warning, when a
 * block of nodes/index.ts comes from no such module (the CLI then loads every
 * block at start, as before).
 */
async function blockDeclarations(esbuild, outdir) {
  const index = readFileSync(NODES_INDEX, "utf8");
  const files = [...index.matchAll(/^import (\w+) from "\.\/([\w.-]+)";$/gm)].map((m) => m[2]);
  const entry = [
    `export { blocks } from ${JSON.stringify(NODES_INDEX)};`,
    `export { blockDeclaration } from ${JSON.stringify(join(root, "app", "engine", "block.ts"))};`,
    ...files.map((f, i) => `import * as m${i} from ${JSON.stringify(join(root, "nodes", f))};`),
    `export const modules = [${files.map((_, i) => `m${i}`).join(", ")}];`,
  ].join("\n");
  const out = await esbuild.build({
    stdin: { contents: entry, resolveDir: root, loader: "ts", sourcefile: "block-declarations.ts" },
    bundle: true,
    write: false,
    format: "cjs",
    platform: "node",
    target: "node20",
    plugins: [sqliteBindings(), externalsExcept(BUNDLED_PACKAGES_CJS)],
    mainFields: ["module", "main"],
    supported: { "dynamic-import": false },
    define: { "import.meta": "__dagwoodImportMeta", DAGWOOD_CJS_BUNDLE: "true" },
    banner: { js: CJS_BANNER },
    logLevel: "warning",
  });
  // Run from a file inside the build's folder, so that its require() finds node_modules as the CLI's does.
  const file = join(outdir, `.block-declarations-${process.pid}.cjs`);
  mkdirSync(outdir, { recursive: true });
  writeFileSync(file, out.outputFiles[0].contents);
  const req = createRequire(file);
  let loaded;
  try {
    loaded = req(file);
  } finally {
    delete req.cache[file];
    rmSync(file, { force: true });
  }
  const found = loaded.blocks.map((b) => {
    const i = loaded.modules.findIndex((m) => m.default === b);
    return i < 0
      ? undefined
      : { file: join(root, "nodes", files[i]), declaration: loaded.blockDeclaration(b) };
  });
  const missing = loaded.blocks.filter((_, i) => !found[i]).map((b) => b.kind);
  if (missing.length) {
    console.warn(
      `bin/build.mjs: block${missing.length === 1 ? "" : "s"} ${missing.join(", ")} of nodes/index.ts come${missing.length === 1 ? "s" : ""} from no \`import x from "./file"\` there; the CLI loads every block at start.`,
    );
    return undefined;
  }
  return found;
}

/**
 * An esbuild plugin for the CommonJS CLI: app/'s imports of nodes/index.ts get
 * a catalog of the blocks' declarations (makeLazyCatalog) whose modules load
 * on first use, each by require() (esbuild runs a bundled module's top level
 * when it is first required). `dagwood blocks` then runs no block module, and
 * `validate` only those of the pipeline's blocks (bench/cli-start.ts).
 */
const lazyCatalog = (blocks) => ({
  name: "lazy-block-catalog",
  setup(b) {
    b.onResolve({ filter: /(^|\/)nodes\/index(\.ts)?$/ }, (args) => {
      if (!args.importer.startsWith(join(root, "app") + sep)) return undefined;
      const target = resolve(dirname(args.importer), args.path);
      if (target !== NODES_INDEX && `${target}.ts` !== NODES_INDEX) return undefined;
      return { path: "lazy-catalog", namespace: "dagwood-lazy-catalog" };
    });
    b.onLoad({ filter: /.*/, namespace: "dagwood-lazy-catalog" }, () => ({
      resolveDir: root,
      loader: "js",
      contents: [
        `import { makeLazyCatalog } from ${JSON.stringify(join(root, "app", "engine", "block.ts"))};`,
        "const modules = {",
        ...blocks.map(
          (x) => `  ${JSON.stringify(x.declaration.kind)}: () => require(${JSON.stringify(x.file)}),`,
        ),
        "};",
        `export const catalog = makeLazyCatalog(${JSON.stringify(blocks.map((x) => x.declaration))}, (kind) => modules[kind]().default);`,
      ].join("\n"),
    }));
  },
});

/**
 * An esbuild plugin for the CommonJS CLI: zod's locales (`z.locales`, `z.core.locales`) with English only.
 * zod registers English itself (zod/v4/classic/schemas.js); the other ~50
 * languages are half of zod's code in the bundle (~0.4 MB), which every
 * command reads, decodes and instantiates at start, and no code here calls
 * z.config(z.locales.xx()).
 */
const zodEnglishOnly = () => ({
  name: "zod-english-only",
  setup(b) {
    // z.locales (zod/v4/classic/external.js) and zod's core namespace (zod/v4/core/index.js).
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/.test(args.importer)
        ? { path: join(dirname(args.importer), "..", "locales", "index.js"), namespace: "zod-english-only" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
      loader: "js",
      resolveDir: dirname(args.path),
      contents: 'export { default as en } from "./en.js";',
    }));
  },
});

/**
 * Node's modules every command loads anyway (bin/dagwood.cjs and Node's own
 * start use them), or that hot code calls: imported as they are.
 */
const EAGER_BUILTINS = new Set(["fs", "path", "url", "events", "util", "module", "buffer", "process"]);

/**
 * An esbuild plugin for the CommonJS CLI: app/'s and nodes/' imports of
 * Node's other modules (crypto, child_process, worker_threads, net, http, os,
 * v8 …) load the module on first use of one of its exports rather than when
 * the importing module starts. A module's top level runs at start for every
 * command that reaches it, and Node compiles crypto alone from ~20 internal
 * modules (~7 ms): `dagwood blocks` uses none of them. The stand-in has a
 * getter for each export the module has in the Node that builds (esbuild's
 * import interop copies getters without calling them), so a call, `new` and
 * `instanceof` meet the module's own functions and classes.
 */
const lazyBuiltins = () => ({
  name: "lazy-node-builtins",
  setup(b) {
    const req = createRequire(import.meta.url);
    b.onResolve({ filter: /^(node:)?[a-z0-9_]+(\/[a-z0-9_]+)?$/ }, (args) => {
      const name = args.path.replace(/^node:/, "");
      if (
        args.kind !== "import-statement" ||
        args.namespace !== "file" ||
        !/^(app|nodes)\//.test(relative(root, args.importer).split(sep).join("/")) ||
        !builtinModules.includes(name) ||
        EAGER_BUILTINS.has(name)
      )
        return undefined;
      return { path: name, namespace: "lazy-node-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-node-builtin" }, (args) => {
      const mod = req(`node:${args.path}`);
      const keys = Object.getOwnPropertyNames(mod).map((k) => [
        k,
        Object.getOwnPropertyDescriptor(mod, k).enumerable ? 1 : 0,
      ]);
      return {
        loader: "js",
        contents: [
          "let m;",
          `const load = () => m ?? (m = require(${JSON.stringify(`node:${args.path}`)}));`,
          `for (const [k, e] of ${JSON.stringify(keys)})`,
          "  Object.defineProperty(exports, k, { enumerable: e === 1, get: () => load()[k] });",
        ].join("\n"),
      };
    });
  },
});

/**
 * Rewrites each non-ASCII character of a built file as a \\u escape (esbuild
 * escapes them in strings but leaves some in regular expressions, e.g.
 * [¹²³]), so that bin/dagwood.cjs can decode it as Latin-1, several times
 * faster than UTF-8 for a first decode. Astral characters become their
 * surrogate pair, which a regular expression reads as the one code point.
 */
function asciiOnly(file) {
  const text = readFileSync(file, "utf8");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is every non-ASCII code unit
  const escaped = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  if (escaped !== text) writeFileSync(file, escaped);
}

// "use strict" first, as ES modules are: after the banner, esbuild's own would not count.
const CJS_BANNER =
  '"use strict";\nconst __dagwoodImportMeta = { url: require("node:url").pathToFileURL(__filename).href, dirname: __dirname, filename: __filename };';

async function withLock(fn) {
  mkdirSync(join(root, "dist"), { recursive: true });
  const lock = join(root, "dist", ".build.lock");
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch {
      // Another process is building; a lock older than a minute is a leftover.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true });
      await new Promise((r) => setTimeout(r, 100));
      if (i > 600) throw new Error(`Timed out waiting for ${lock}`);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

const BUILDERS = {
  async cli(outdir) {
    const esbuild = await import("esbuild");
    await esbuild.build({
      // work-worker: the worker threads of app/ml/work/pool.ts, found beside the bundle.
      entryPoints: { main: join(root, "app", "cli", "main.ts"), "work-worker": WORK_WORKER },
      outdir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      plugins: [externalsExcept(BUNDLED_PACKAGES)],
      // jsonc-parser's ESM build; its "main" is UMD, which does not bundle.
      mainFields: ["module", "main"],
      sourcemap: "linked",
      logLevel: "warning",
    });
    const declarations = await blockDeclarations(esbuild, outdir);
    // The same CLI as one CommonJS file, for bin/dagwood: Node 20 keeps no
    // compiled code for ES modules between runs, but a CommonJS script can be
    // compiled with a V8 code cache (see bin/dagwood.cjs), which saves most of
    // the compile time of every command's start. Dynamic imports inside it
    // stay lazy (esbuild runs each such module's top level on first import).
    await esbuild.build({
      entryPoints: { main: join(root, "app", "cli", "main.ts") },
      outdir,
      outExtension: { ".js": ".cjs" },
      bundle: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      plugins: [
        lazyBuiltins(),
        sqliteBindings(),
        zodEnglishOnly(),
        ...(declarations ? [lazyCatalog(declarations)] : []),
        externalsExcept(BUNDLED_PACKAGES_CJS),
      ],
      mainFields: ["module", "main"],
      // import() of a package becomes require(): a function V8 restores from
      // the code cache cannot import() (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
      supported: { "dynamic-import": false },
      // import.meta has no CommonJS form: the bundle's own file stands in for the module's.
      // DAGWOOD_CJS_BUNDLE: app/data/native.ts then requires @duckdb/node-api from the bundle.
      define: { "import.meta": "__dagwoodImportMeta", DAGWOOD_CJS_BUNDLE: "true" },
      // The file is one function expression, (function (exports, require, module, __filename, __dirname) {…}),
      // that bin/dagwood.cjs compiles as it is: wrapping a 2 MB source in JavaScript would copy it once more.
      banner: { js: `(function (exports, require, module, __filename, __dirname) {${CJS_BANNER}` },
      footer: { js: "})" },
      // Every command reads, decodes and hashes the whole file before it starts: spaces and comments cost.
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: "linked",
      logLevel: "warning",
    });
    asciiOnly(join(outdir, "main.cjs"));
  },
  async renderer(outdir) {
    const vite = await import("vite");
    // The config's root ("renderer") and outDir are relative: resolve them here, or a build started
    // from another folder (`dagwood ui` run anywhere with stale renderer sources) finds no
    // renderer/index.html, and one through a linked renderer folder writes into the link's target.
    await vite.build({
      configFile: join(root, "vite.config.ts"),
      root: join(root, "renderer"),
      build: { outDir: outdir },
      logLevel: "warn",
    });
  },
  async main(outdir) {
    const esbuild = await import("esbuild");
    const common = {
      bundle: true,
      platform: "node",
      target: "node20",
      sourcemap: "linked",
      logLevel: "warning",
    };
    // The main process may load packages from node_modules; the preload runs
    // sandboxed, so it is one self-contained CommonJS file.
    await esbuild.build({
      ...common,
      // engine: the engine's own process (main/engine-host.ts, an Electron utilityProcess).
      entryPoints: {
        main: join(root, "main", "main.ts"),
        engine: join(root, "main", "engine-host.ts"),
        "work-worker": WORK_WORKER,
      },
      outdir,
      format: "esm",
      packages: "external",
      outExtension: { ".js": ".mjs" },
    });
    await esbuild.build({
      ...common,
      entryPoints: { preload: join(root, "main", "preload.ts") },
      outdir,
      format: "cjs",
      external: ["electron"],
    });
  },
};

/** Builds the named targets (default: all) that are stale, or all of them with force. */
export async function build({ force = false, targets = Object.keys(TARGETS) } = {}) {
  const wanted = targets.filter(
    (t) => TARGETS[t] && (force || isStale(t)) && (t !== "main" || existsSync(join(root, "main", "main.ts"))),
  );
  if (!wanted.length) return false;
  return withLock(async () => {
    for (const t of wanted) {
      if (!force && !isStale(t)) continue;
      const { outdir } = TARGETS[t];
      rmSync(outdir, { recursive: true, force: true });
      await BUILDERS[t](outdir);
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, ".built"), new Date().toISOString());
    }
    return true;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const named = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  await build({ force: process.argv.includes("--force"), ...(named.length ? { targets: named } : {}) });
}
