// The dagwood CLI, started by bin/dagwood. CommonJS, as are the files it
// loads on every command (bin/stale.cjs, dist/cli/main.cjs): Node's ES module
// loader reads each file asynchronously and wraps each built-in module it is
// given, a few ms of every command's start (bench/cli-start.ts).
const { isAscii } = require("node:buffer");
const { existsSync, readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const { pathToFileURL } = require("node:url");
const vm = require("node:vm");
const zlib = require("node:zlib");

const root = join(__dirname, "..");

// A command's start allocates ~10 MB that lives to its end (the modules, their schemas): V8's young
// generation starts at 1 MB and doubles after each scavenge that finds most of it alive, so the start
// paid 6–7 scavenges, each copying what survived (about a tenth of `validate`'s CPU time). Grown at the
// first such scavenge to its usual maximum instead, it pays 3–4 (node --trace-gc shows both). Commands
// that run pipelines or host an engine or server keep V8's default growth: with the factor set, a
// flights-model run peaked 40–120 MiB higher (bench/memory.ts: the engine 525 MiB against 485 MiB).
// V8 reads the factor each time it grows the young generation, so setting it now still counts; a code
// cache is tied to the flags, and every start of one command sets the same.
const LONG_RUNNING = new Set(["ui", "run", "serve", "step", "ci", "test", "monitor", "features", "deploy"]);
if (!LONG_RUNNING.has(process.argv[2]))
  require("node:v8").setFlagsFromString("--semi-space-growth-factor=16");

/**
 * Runs the CommonJS build of the CLI (dist/cli/main.cjs) compiled with a V8
 * code cache kept beside it, as Node 22's module.enableCompileCache() would:
 * Node 20 keeps nothing between runs for ES modules, and compiling the bundle
 * is most of a command's start. The cache is written after the first
 * command, so it holds the functions that command compiled. The bundle has no
 * import() (bin/build.mjs makes them require()), which a script run this way
 * could not do. Undefined when there is no such build.
 *
 * V8 checks a cache against the V8 version, its flags and only the *length*
 * of the source (SerializedCodeData::SourceHash in V8's code-serializer.cc),
 * and in release builds not against a checksum of its own bytes: a bundle
 * rebuilt to the same length would run the old bundle's compiled functions.
 * So, as Node's own compile cache does (src/compile_cache.cc keeps a hash of
 * the code and of the cache), the file starts with a header: a magic, the
 * CRC-32 of the source and of the V8 data. A cache whose header does not fit
 * (another build, truncated, corrupt, another Node) is not given to V8 and
 * is rewritten; the write goes to a temporary name renamed over the old one,
 * so a concurrent start reads the old cache or the new, never half of one.
 * The magic also says whether the command that wrote it succeeded: one that
 * failed (a mistyped file, an invalid pipeline) stopped early and compiled
 * less, so the next command that succeeds writes the cache once more.
 */
const CACHE_MAGIC = Buffer.from("DWC1");
const CACHE_MAGIC_FAILED = Buffer.from("DWC0");
const HEADER_BYTES = 16;
// zlib.crc32 is in Node >= 20.15; an older Node runs without a cache.
const crc32 = typeof zlib.crc32 === "function" ? zlib.crc32 : undefined;

function cacheHeader(sourceCrc, data, succeeded) {
  const header = Buffer.alloc(HEADER_BYTES);
  (succeeded ? CACHE_MAGIC : CACHE_MAGIC_FAILED).copy(header, 0);
  header.writeUInt32LE(sourceCrc, 4);
  header.writeUInt32LE(crc32(data), 8);
  header.writeUInt32LE(data.length, 12);
  return header;
}

/**
 * The V8 data of `cacheFile` and whether the command that wrote it succeeded,
 * when it was made from the source with CRC `sourceCrc` and is whole; else undefined.
 */
function readCache(cacheFile, sourceCrc) {
  let bytes;
  try {
    bytes = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const magic = bytes.subarray(0, 4);
  const succeeded = magic.equals(CACHE_MAGIC);
  if (bytes.length < HEADER_BYTES || !(succeeded || magic.equals(CACHE_MAGIC_FAILED))) return undefined;
  const data = bytes.subarray(HEADER_BYTES);
  if (bytes.readUInt32LE(4) !== sourceCrc || bytes.readUInt32LE(12) !== data.length) return undefined;
  return crc32(data) === bytes.readUInt32LE(8) ? { data, succeeded } : undefined;
}

/**
 * Each command keeps a cache of its own (main.cjs.<command>.cache): a cache
 * holds the functions its command compiled, and V8 restores all of it, so
 * `blocks` would otherwise restore `run`'s engine and DuckDB too (half the
 * start of a small command, bench/cli-start.ts).
 */
const COMMANDS = new Set([
  ...["run", "validate", "blocks", "gc", "ui", "runs", "models", "datasets", "serve", "deploy"],
  ...["governance", "predict", "export", "expect", "monitor", "features"],
  ...["diff", "merge", "init", "test", "ci", "step"],
]);

/** The cache's name for a command line: its command; `validate --no-schemas` apart, as it never loads DuckDB. */
function cacheName(argv) {
  const command = argv[0];
  if (!COMMANDS.has(command)) return "other";
  return command === "validate" && argv.includes("--no-schemas") ? "validate-no-schemas" : command;
}

function loadWithCodeCache(file, argv) {
  if (!existsSync(file)) return undefined;
  const cacheFile = `${file}.${cacheName(argv)}.cache`;
  const bytes = readFileSync(file);
  const sourceCrc = crc32?.(bytes);
  const cached = crc32 ? readCache(cacheFile, sourceCrc) : undefined;
  const cachedData = cached?.data;
  // The build writes ASCII only (bin/build.mjs asciiOnly): Latin-1 reads it as UTF-8 would, several times faster.
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
  // The file is the function expression (function (exports, require, module, __filename, __dirname) {…}).
  const script = new vm.Script(source, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  const saveCache = (exitCode) => {
    const succeeded = exitCode === 0;
    if (!crc32 || (cachedData && !script.cachedDataRejected && (cached.succeeded || !succeeded))) return;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      // A rebuild while this command ran replaced the bundle: this cache is of the old one.
      if (crc32(readFileSync(file)) !== sourceCrc) return;
      const data = script.createCachedData();
      writeFileSync(tmp, Buffer.concat([cacheHeader(sourceCrc, data, succeeded), data]));
      renameSync(tmp, cacheFile);
    } catch {
      // A read-only install runs without a cache.
      rmSync(tmp, { force: true });
    }
  };
  return { main: module.exports.main, saveCache };
}

/**
 * A reader that goes away (`dagwood blocks --json | head`) ends the command quietly with status 0.
 * Node ignores SIGPIPE, so a write to a closed pipe comes back as an EPIPE 'error' on the stream,
 * which, unhandled, would print a stack trace; every other stream error is still thrown.
 */
function exitQuietlyOnClosedPipe(stream) {
  stream.on("error", (e) => {
    if (e?.code === "EPIPE") process.exit(0);
    throw e;
  });
}

async function start() {
  exitQuietlyOnClosedPipe(process.stdout);
  exitQuietlyOnClosedPipe(process.stderr);
  // `dagwood ui` hosts an engine for hours: it starts once more with glibc's malloc thresholds fixed
  // (bin/malloc-tuned.mjs says why; about 60 ms, so a one-off `run` starts untuned rather than pay that
  // on every cached re-run). A child that cannot start leaves this process to serve, untuned.
  if (process.argv[2] === "ui") {
    const { shouldRerunTuned, rerunTuned } = await import("./malloc-tuned.mjs");
    if (shouldRerunTuned()) await rerunTuned(__filename, process.argv.slice(2));
  }

  // Rebuild when sources changed (a checkout); an installed copy ships dist/ only. The check is
  // CommonJS (bin/stale.cjs); the build itself (esbuild, vite) loads only when something is stale.
  if (existsSync(join(root, "app"))) {
    const targets = process.argv[2] === "ui" ? ["cli", "renderer"] : ["cli"];
    const { isStale } = require("./stale.cjs");
    if (targets.some((t) => isStale(t))) await (await import("./build.mjs")).build({ targets });
  }

  const cli = loadWithCodeCache(join(root, "dist", "cli", "main.cjs"), process.argv.slice(2)) ?? {
    main: (await import(pathToFileURL(join(root, "dist", "cli", "main.js")).href)).main,
    saveCache: () => {},
  };
  process.exitCode = await cli.main(process.argv.slice(2));
  cli.saveCache(process.exitCode);
}

start().catch((e) => {
  process.exitCode = 1;
  throw e;
});
