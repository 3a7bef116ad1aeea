/**
 * Batch inference (`dagwood predict`): scores a Parquet or CSV file through a
 * registered version's ONNX file — the very file a deploy serves — with
 * onnxruntime-node, in batches, and writes the input columns plus `label`
 * and `probability_<class>` per class, or `prediction`. DuckDB (in memory)
 * reads and writes the files.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { type DuckDBAppender, DuckDBInstance } from "@duckdb/node-api";
import * as ort from "onnxruntime-node";
import { ident, literal, SqlSession } from "../data/sql";
import { readColumns } from "../ml/dataset";
import { type AnyDagwoodModel, missingInputs } from "../ml/model";
import { modelFeeds } from "../ml/onnx/parity";
import { freeName } from "../ml/score-columns";

export type FileFormat = "parquet" | "csv";

export function fileFormat(path: string, flag: string): FileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".parquet") return "parquet";
  if (ext === ".csv") return "csv";
  throw new Error(`${flag} ${path}: use a .parquet or .csv file`);
}

export interface PredictFileOptions {
  onnxFile: string;
  /** The native model: its signature, classes and target type. */
  model: AnyDagwoodModel;
  input: string;
  output: string;
  /** Rows per onnxruntime run (default 10,000). */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

interface ScoreColumn {
  name: string;
  sqlType: "DOUBLE" | "VARCHAR";
  castTo?: string;
}

export async function predictFile(opts: PredictFileOptions): Promise<{ rows: number; columns: string[] }> {
  const { model } = opts;
  const batch = opts.batch ?? 10_000;
  const inFormat = fileFormat(opts.input, "--input");
  const outFormat = fileFormat(opts.output, "--output");
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const sql = new SqlSession(connection);
  const session = await ort.InferenceSession.create(await readFile(opts.onnxFile));
  try {
    const reader = inFormat === "parquet" ? "read_parquet" : "read_csv_auto";
    await sql.run(`CREATE TABLE input AS SELECT * FROM ${reader}(${literal(opts.input)})`);
    const columns = await sql.all<{ column_name: string; column_type: string }>("DESCRIBE input");
    const described = columns.map((c) => ({ name: c.column_name, type: c.column_type }));
    const missing = missingInputs(model, described);
    if (missing.length > 0) {
      throw new Error(
        `${opts.input} lacks column(s) ${missing.map((n) => `"${n}"`).join(", ")}, which the model takes. Its columns are: ${described.map((c) => c.name).join(", ")}.`,
      );
    }
    const { n } = await sql.one<{ n: number }>("SELECT count(*)::DOUBLE AS n FROM input");
    const taken = new Set(described.map((c) => c.name.toLowerCase()));
    const classes = model.classes ?? [];
    const scores: ScoreColumn[] =
      model.task === "regression"
        ? [{ name: freeName("prediction", taken), sqlType: "DOUBLE" }]
        : [
            { name: freeName("label", taken), sqlType: "VARCHAR", castTo: model.targetType },
            ...classes.map((c) => ({
              name: freeName(`probability_${c}`, taken),
              sqlType: "DOUBLE" as const,
            })),
          ];
    await sql.run(
      `CREATE TEMP TABLE scores (rid BIGINT, ${scores.map((c, i) => `c${i} ${c.sqlType}`).join(", ")})`,
    );
    const requests = model.preprocess.features.map((f) => ({
      column: described.find((c) => c.name === f.name)!,
      kind: f.kind,
    }));
    const appender: DuckDBAppender = await connection.createAppender("scores", "main", "temp");
    try {
      opts.onProgress?.(0, n);
      for (let start = 0; start < n; start += batch) {
        await sql.run(
          `CREATE OR REPLACE TEMP TABLE batch AS SELECT ${requests.map((r) => ident(r.column.name)).join(", ")}
           FROM input WHERE rowid >= ${start} AND rowid < ${start + batch} ORDER BY rowid`,
        );
        const table = await readColumns(sql, "batch", requests);
        const out = await session.run(modelFeeds(model, table));
        const K = classes.length;
        for (let r = 0; r < table.rows; r++) {
          appender.appendBigInt(BigInt(start + r));
          if (model.task === "regression") {
            appender.appendDouble(Number((out.prediction!.data as ArrayLike<number>)[r]));
          } else {
            const label = (out.label!.data as ArrayLike<unknown>)[r];
            appender.appendVarchar(String(label));
            const p = out.probabilities!.data as ArrayLike<number>;
            for (let k = 0; k < K; k++) appender.appendDouble(p[r * K + k]!);
          }
          appender.endRow();
        }
        opts.onProgress?.(Math.min(n, start + table.rows), n);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const picked = scores.map((c, i) =>
      c.castTo ? `CAST(s.c${i} AS ${c.castTo}) AS ${ident(c.name)}` : `s.c${i} AS ${ident(c.name)}`,
    );
    const format = outFormat === "parquet" ? "FORMAT parquet" : "FORMAT csv, HEADER true";
    await sql.run(
      `COPY (SELECT input.*, ${picked.join(", ")} FROM input JOIN temp.main.scores AS s ON input.rowid = s.rid
             ORDER BY input.rowid) TO ${literal(opts.output)} (${format})`,
    );
    return { rows: n, columns: [...described.map((c) => c.name), ...scores.map((c) => c.name)] };
  } finally {
    await session.release();
    connection.closeSync();
    instance.closeSync();
  }
}
