/**
 * The form declarations of every block's params (app/pipeline/param-ui.ts),
 * checked on the JSON Schema the inspector receives (app/api/blocks.ts): each param has a place
 * in the order, and a condition that hides a param names a real sibling and
 * values that sibling can take, so renaming a param or a choice cannot leave
 * a condition that never (or always) holds.
 */
import { describe, expect, it } from "vitest";
import { type ParamUi, paramsJsonSchema, type ShowWhen } from "../app/pipeline/param-ui";
import { blocks } from "./index";

interface Schema extends ParamUi {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
}

const alternatives = (s: Schema): Schema[] => (s.anyOf ? s.anyOf.flatMap(alternatives) : [s]);

/** Whether a value is one the param can hold, by its JSON Schema's enums and types. */
function accepts(schema: Schema, value: unknown): boolean {
  return alternatives(schema).some((s) => {
    if (s.enum) return s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value));
    const types = Array.isArray(s.type) ? s.type : [s.type];
    return types.some(
      (t) =>
        (t === "boolean" && typeof value === "boolean") ||
        (t === "string" && typeof value === "string") ||
        ((t === "number" || t === "integer") && typeof value === "number"),
    );
  });
}

/** Every object of params in a block's schema, top level first, with its path. */
function objects(schema: Schema, path: string[] = []): [string[], Schema][] {
  const own: [string[], Schema][] = schema.properties ? [[path, schema]] : [];
  return [
    ...own,
    ...Object.entries(schema.properties ?? {}).flatMap(([k, s]) =>
      alternatives(s).flatMap((alt) => objects(alt, [...path, k])),
    ),
  ];
}

const schemas = blocks.map((b) => [b.kind, paramsJsonSchema(b.params) as Schema] as const);

describe.each(schemas)("%s's form declarations", (_kind, schema) => {
  it("give every param a place in the order, each its own", () => {
    const props = Object.entries(schema.properties ?? {});
    const unordered = props.filter(([, s]) => typeof s.order !== "number").map(([k]) => k);
    expect(unordered, "params without .meta({ order })").toEqual([]);
    const orders = props.map(([, s]) => s.order);
    expect(new Set(orders).size).toBe(orders.length);
  });

  it("hide only params that are optional, on conditions that name a sibling and values it takes", () => {
    for (const [path, object] of objects(schema)) {
      const required = new Set(object.required ?? []);
      for (const [name, param] of Object.entries(object.properties ?? {})) {
        const at = [...path, name].join(".");
        if (param.hidden || param.showWhen)
          expect(required.has(name), `${at} is required but may be hidden`).toBe(false);
        const conditions: ShowWhen[] = !param.showWhen
          ? []
          : Array.isArray(param.showWhen)
            ? param.showWhen
            : [param.showWhen as ShowWhen];
        for (const c of conditions) {
          const sibling = object.properties?.[c.param];
          expect(sibling, `${at}'s showWhen names "${c.param}", not a param beside it`).toBeDefined();
          expect(c.param).not.toBe(name);
          if ("in" in c) {
            expect(c.in.length, `${at}'s showWhen lists no value`).toBeGreaterThan(0);
            for (const v of c.in)
              expect(
                accepts(sibling as Schema, v),
                `${at}: "${c.param}" cannot be ${JSON.stringify(v)}`,
              ).toBe(true);
          } else expect(c.set).toBe(true);
        }
        if (param.picker === "column" || param.picker === "file") expect(accepts(param, "x"), at).toBe(true);
        if (param.picker === "columns")
          expect(
            alternatives(param).some((s) => s.items?.type === "string"),
            at,
          ).toBe(true);
      }
    }
  });
});

const byKind = new Map(schemas);
const props = (kind: string) => byKind.get(kind)?.properties ?? {};

describe("train blocks' forms", () => {
  const trainKinds = blocks.map((b) => b.kind).filter((k) => k.startsWith("train."));

  it.each(trainKinds)(
    "%s starts with target, features and task, and folds onnxOpset, seed and maxCategories",
    (kind) => {
      const p = props(kind);
      const ordered = Object.keys(p).sort((a, b) => (p[a]?.order ?? 0) - (p[b]?.order ?? 0));
      expect(ordered.slice(0, 3)).toEqual(["target", "features", "task"]);
      for (const name of ["onnxOpset", "seed", "maxCategories"]) expect(p[name]?.advanced, name).toBe(true);
      expect(p.target?.advanced).toBeUndefined();
      expect(p.imputeValue?.showWhen).toEqual({ param: "impute", in: ["constant"] });
    },
  );

  it("ridge hides maxIter, and seed unless a search draws its folds with it", () => {
    expect(props("train.linear").maxIter?.hidden).toBe(true);
    expect(props("train.linear").seed?.showWhen).toEqual({ param: "search", set: true });
    expect(props("train.logistic").maxIter?.hidden).toBeUndefined();
  });

  it("gradient boosting shows validationFraction and patience only with early stopping", () => {
    const p = props("train.gbdt");
    expect(p.validationFraction?.showWhen).toEqual({ param: "earlyStopping", in: [true] });
    expect(p.patience?.showWhen).toEqual({ param: "earlyStopping", in: [true] });
  });
});
