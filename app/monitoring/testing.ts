/**
 * Test helpers of the monitoring: the reference profile of the training
 * columns of app/serving/testing.ts trainTestModel (x: a number in [0, 10),
 * color: red, green or blue), written into a staging folder as a trained
 * model's `reference-profile.json` is.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { SqlSession } from "../data/sql";
import { buildModelReferenceProfile, writeReferenceProfile } from "./reference";

export async function writeTestReferenceProfile(
  projectDir: string,
  staging: string,
  rows = 300,
): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const sql = new SqlSession(await instance.connect());
  try {
    await sql.run(
      `CREATE TABLE train AS SELECT ((range * 7919) % 1000) / 100.0 AS x, ['red', 'green', 'blue'][(range % 3) + 1] AS color FROM range(${rows})`,
    );
    const profile = await buildModelReferenceProfile(
      sql,
      {
        name: "train",
        columns: [
          { name: "x", type: "DOUBLE" },
          { name: "color", type: "VARCHAR" },
        ],
      },
      { target: null },
    );
    await writeReferenceProfile(projectDir, staging, profile);
  } finally {
    sql.connection.closeSync();
    instance.closeSync();
  }
}
