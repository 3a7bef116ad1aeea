/** Test helpers: small synthetic data sets and the penguins example. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "./binning";
import type { Dataset, FeatureColumn } from "./types";

export function numeric(name: string, values: ArrayLike<number>): FeatureColumn {
  return { name, kind: "numeric", values: Float64Array.from(values) };
}

export function categorical(name: string, values: ArrayLike<number>): FeatureColumn {
  return { name, kind: "categorical", values: Float64Array.from(values) };
}

export function dataset(...features: FeatureColumn[]): Dataset {
  return { rows: features[0]?.values.length ?? 0, features };
}

/** Standard normal draws from a seeded uniform source (Box–Muller). */
export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Rows of `data` (and labels) at the given indices. */
export function take(data: Dataset, y: Float64Array, rows: number[]): { data: Dataset; y: Float64Array } {
  return {
    data: {
      rows: rows.length,
      features: data.features.map((f) => ({ ...f, values: Float64Array.from(rows, (r) => f.values[r]!) })),
    },
    y: Float64Array.from(rows, (r) => y[r]!),
  };
}

/** A seeded shuffle of 0..n-1 split into training and test row ids. */
export function trainTestRows(
  n: number,
  testFraction: number,
  seed: number,
): { train: number[]; test: number[] } {
  const ids = Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const nTest = Math.round(n * testFraction);
  return { test: ids.slice(0, nTest), train: ids.slice(nTest) };
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/**
 * resources/examples/starter/data/penguins.csv: species (label 0..2) from
 * island and sex (categorical codes, NaN missing) and four measurements.
 */
export function penguins(): { data: Dataset; y: Float64Array; classes: string[] } {
  const text = readFileSync(join(root, "resources", "examples", "starter", "data", "penguins.csv"), "utf8");
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const names = header!.split(",");
  const rows = lines.map((l) => l.split(","));
  const col = (name: string) => rows.map((r) => r[names.indexOf(name)] ?? "");
  const codes = (values: string[]) => {
    const levels = [...new Set(values.filter((v) => v !== ""))].sort();
    return { levels, codes: values.map((v) => (v === "" ? Number.NaN : levels.indexOf(v))) };
  };
  const species = codes(col("species"));
  const num = (name: string) =>
    numeric(
      name,
      col(name).map((v) => (v === "" ? Number.NaN : Number(v))),
    );
  return {
    classes: species.levels,
    y: Float64Array.from(species.codes),
    data: dataset(
      categorical("island", codes(col("island")).codes),
      num("beak_length_mm"),
      num("beak_depth_mm"),
      num("flipper_length_mm"),
      num("body_mass_g"),
      categorical("sex", codes(col("sex")).codes),
    ),
  };
}

export function accuracy(pred: Float64Array, y: Float64Array): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return ok / y.length;
}
