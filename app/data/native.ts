/**
 * The native libraries — DuckDB, onnxruntime, SQLite — and protobufjs, loaded
 * on first use instead of at import. Importing them costs a command that never
 * uses them most of its start (DuckDB's binding alone is over 100 ms on a
 * 2-core machine, Node itself about 40 ms; see bench/cli-start.ts), and every
 * module that names them at top level pulls them into `dagwood blocks`,
 * `validate` and `runs list` through the block catalog.
 *
 * All four are CommonJS packages, so `require` loads them synchronously at
 * the first call; type-only imports keep the rest of the code typed as before.
 * Import types from the packages themselves (`import type ...`) and values
 * through these functions.
 */
import { createRequire } from "node:module";
import type * as DuckDB from "@duckdb/node-api";
import type BetterSqlite3 from "better-sqlite3";
import type * as Ort from "onnxruntime-node";
import type Protobuf from "protobufjs";

const load = createRequire(import.meta.url);

/**
 * True only in the CommonJS build of the CLI (bin/build.mjs defines it), where
 * a literal `require("...")` is the bundle's own; undeclared everywhere else.
 */
declare const DAGWOOD_CJS_BUNDLE: boolean | undefined;

let duckdbModule: typeof DuckDB | undefined;
let ortModule: typeof Ort | undefined;
let sqliteModule: typeof BetterSqlite3 | undefined;
let protobufModule: typeof Protobuf | undefined;

/**
 * `@duckdb/node-api`. Its JavaScript is 181 files that cost more to load than
 * the native library (~80 ms of CPU): the CommonJS build of the CLI
 * (bin/build.mjs) takes them in through the literal `require` below, and they
 * start from the code cache with the rest.
 */
export function duckdb(): typeof DuckDB {
  duckdbModule ??= (
    typeof DAGWOOD_CJS_BUNDLE !== "undefined" && DAGWOOD_CJS_BUNDLE
      ? require("@duckdb/node-api")
      : load("@duckdb/node-api")
  ) as typeof DuckDB;
  return duckdbModule;
}

/** `onnxruntime-node`. */
export function onnxruntime(): typeof Ort {
  ortModule ??= load("onnxruntime-node") as typeof Ort;
  return ortModule;
}

/** better-sqlite3's `Database` constructor. */
export function sqlite(): typeof BetterSqlite3 {
  // In the CommonJS CLI its JavaScript is bundled too (bin/build.mjs sqliteBindings), as @duckdb/node-api's.
  sqliteModule ??= (
    typeof DAGWOOD_CJS_BUNDLE !== "undefined" && DAGWOOD_CJS_BUNDLE
      ? require("better-sqlite3")
      : load("better-sqlite3")
  ) as typeof BetterSqlite3;
  return sqliteModule;
}

/** protobufjs. */
export function protobufjs(): typeof Protobuf {
  protobufModule ??= load("protobufjs") as typeof Protobuf;
  return protobufModule;
}
