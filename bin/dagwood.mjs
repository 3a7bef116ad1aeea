import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import zlib from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// `dagwood ui` hosts an engine for hours: it starts once more with glibc's malloc thresholds fixed
// (bin/malloc-tuned.mjs says why; about 60 ms, so a one-off `run` starts untuned rather than pay that
// on every cached re-run). A child that cannot start leaves this process to serve, untuned.
if (process.argv[2] === "ui") {
  const { shouldRerunTuned, rerunTuned } = await import("./malloc-tuned.mjs");
  if (shouldRerunTuned()) await rerunTuned(fileURLToPath(import.meta.url), process.argv.slice(2));
}

// Rebuild when sources changed (a checkout); an installed copy ships dist/ only.
if (existsSync(join(root, "app"))) {
  const { build } = await import("./build.mjs");
  await build({ targets: process.argv[2] === "ui" ? ["cli", "renderer"] : ["cli"] });
}

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
 */
const CACHE_MAGIC = Buffer.from("DWC1");
const HEADER_BYTES = 16;
// zlib.crc32 is in Node >= 20.15; an older Node runs without a cache.
const crc32 = typeof zlib.crc32 === "function" ? zlib.crc32 : undefined;

function cacheHeader(sourceCrc, data) {
  const header = Buffer.alloc(HEADER_BYTES);
  CACHE_MAGIC.copy(header, 0);
  header.writeUInt32LE(sourceCrc, 4);
  header.writeUInt32LE(crc32(data), 8);
  header.writeUInt32LE(data.length, 12);
  return header;
}

/** The V8 data of `cacheFile` when it was made from the source with CRC `sourceCrc` and is whole, else undefined. */
function readCache(cacheFile, sourceCrc) {
  let bytes;
  try {
    bytes = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 4).equals(CACHE_MAGIC)) return undefined;
  const data = bytes.subarray(HEADER_BYTES);
  if (bytes.readUInt32LE(4) !== sourceCrc || bytes.readUInt32LE(12) !== data.length) return undefined;
  return crc32(data) === bytes.readUInt32LE(8) ? data : undefined;
}

function loadWithCodeCache(file) {
  if (!existsSync(file)) return undefined;
  const cacheFile = `${file}.cache`;
  const source = readFileSync(file);
  const sourceCrc = crc32?.(source);
  const cachedData = crc32 ? readCache(cacheFile, sourceCrc) : undefined;
  const wrapper = `(function (exports, require, module, __filename, __dirname) { ${source.toString("utf8")}\n})`;
  const script = new vm.Script(wrapper, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  const saveCache = () => {
    if (!crc32 || (cachedData && !script.cachedDataRejected)) return;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      // A rebuild while this command ran replaced the bundle: this cache is of the old one.
      if (crc32(readFileSync(file)) !== sourceCrc) return;
      const data = script.createCachedData();
      writeFileSync(tmp, Buffer.concat([cacheHeader(sourceCrc, data), data]));
      renameSync(tmp, cacheFile);
    } catch {
      // A read-only install runs without a cache.
      rmSync(tmp, { force: true });
    }
  };
  return { main: module.exports.main, saveCache };
}

const cli = loadWithCodeCache(join(root, "dist", "cli", "main.cjs")) ?? {
  main: (await import(join(root, "dist", "cli", "main.js"))).main,
  saveCache: () => {},
};
process.exitCode = await cli.main(process.argv.slice(2));
cli.saveCache();
