import { z } from "zod";
import { ident } from "../app/data/sql";
import { defineBlock, requireTable } from "../app/engine/block";

export default defineBlock({
  kind: "shuffle",
  version: 1,
  title: "Shuffle",
  category: "Transform",
  description:
    "Reorders rows at random with a seed. The order depends only on the rows' content and the seed, so the same data gives the same order however it arrived.",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params: z.object({
    seed: z
      .number()
      .int()
      .default(0)
      .describe("Random seed: the same seed gives the same order")
      .meta({ order: 1 }),
  }),
  // Rows move, columns stay.
  outputSchema: (_ctx, inputs) => ({ out: inputs.in }),
  async run(ctx, inputs, params) {
    const input = requireTable(inputs, "in");
    const out = ctx.newTable("out");
    const t = ident(input.name);
    // Hashing the whole row with the seed gives a content-defined order; equal
    // rows tie, and ties among equal rows cannot be told apart anyway.
    await ctx.sql.run(
      `CREATE OR REPLACE TABLE ${ident(out)} AS SELECT * FROM ${t} AS ${t} ORDER BY hash(${t}, ${params.seed}::BIGINT)`,
    );
    return { out: { type: "table", name: out } };
  },
});
