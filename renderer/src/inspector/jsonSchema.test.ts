import { describe, expect, it } from "vitest";
import { formLayout, isOptionalSection, isShown, isSuiteParam, type JsonSchema } from "./jsonSchema";

/** A train block's params as the inspector receives them (the shape z.toJSONSchema writes with .meta()). */
const train: JsonSchema = {
  type: "object",
  required: ["target"],
  properties: {
    onnxOpset: { type: "object", properties: { default: { type: "integer" } }, order: 90, advanced: true },
    target: { type: "string", order: 1, picker: "column" },
    features: { type: "array", items: { type: "string" }, order: 2, picker: "columns" },
    seed: {
      type: "integer",
      default: 0,
      order: 70,
      advanced: true,
      showWhen: { param: "search", set: true },
    },
    l2: { type: "number", default: 1, order: 10 },
    maxIter: { type: "integer", default: 100, order: 63, advanced: true, hidden: true },
    impute: { enum: ["median", "constant"], default: "median", order: 60, advanced: true },
    imputeValue: {
      type: "number",
      default: 0,
      order: 61,
      advanced: true,
      showWhen: { param: "impute", in: ["constant"] },
    },
    search: {
      type: "object",
      order: 50,
      properties: { strategy: { enum: ["grid", "random"] }, space: { type: "object" } },
      required: ["strategy", "space"],
    },
    task: { enum: ["auto", "regression"], default: "auto", order: 3 },
    earlyStopping: { type: "boolean", default: false, order: 17 },
    patience: { type: "integer", default: 10, order: 18, showWhen: { param: "earlyStopping", in: [true] } },
  },
};

const names = (entries: { name: string }[]) => entries.map((e) => e.name);

describe("formLayout", () => {
  it("orders params by their declared order, folds the advanced ones and leaves out those that do nothing", () => {
    const layout = formLayout(train, {});
    expect(names(layout.main)).toEqual(["target", "features", "task", "l2", "earlyStopping", "search"]);
    expect(names(layout.advanced)).toEqual(["impute", "onnxOpset"]);
    expect(layout.hidden.sort()).toEqual(["imputeValue", "maxIter", "patience", "seed"]);
    expect(layout.main[0]).toMatchObject({ name: "target", required: true });
    expect(layout.main.find((e) => e.name === "search")?.required).toBe(false);
  });

  it("shows a param once the value it depends on is chosen, and hides it again without touching its value", () => {
    const on = formLayout(train, { impute: "constant", earlyStopping: true, search: { strategy: "grid" } });
    expect(names(on.advanced)).toEqual(["impute", "imputeValue", "seed", "onnxOpset"]);
    expect(names(on.main)).toContain("patience");
    const values = { impute: "median", imputeValue: 3, earlyStopping: false, patience: 4 };
    const off = formLayout(train, values);
    expect(off.hidden).toEqual(expect.arrayContaining(["imputeValue", "patience"]));
    expect(values).toEqual({ impute: "median", imputeValue: 3, earlyStopping: false, patience: 4 });
  });

  it("keeps a hidden param visible while a problem points at it", () => {
    const layout = formLayout(train, { patience: 0 }, (name) => name === "patience");
    expect(names(layout.main)).toContain("patience");
    expect(layout.hidden).not.toContain("patience");
  });

  it("keeps the listed order for params without one, after the ordered ones", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: { b: { type: "string" }, a: { type: "string" }, first: { type: "string", order: 1 } },
    };
    expect(names(formLayout(schema, {}).main)).toEqual(["first", "b", "a"]);
  });
});

describe("isShown", () => {
  it("reads an unset sibling as its default", () => {
    expect(isShown(train.properties?.patience as JsonSchema, train, {})).toBe(false);
    const defaultOn: JsonSchema = {
      ...train,
      properties: { ...train.properties, earlyStopping: { default: true } },
    };
    expect(isShown(train.properties?.patience as JsonSchema, defaultOn, {})).toBe(true);
  });

  it("holds for a ${param} reference, which may hold any value", () => {
    expect(isShown(train.properties?.patience as JsonSchema, train, { earlyStopping: "${stop}" })).toBe(true);
  });

  it("treats an empty list, object or text as not set", () => {
    const castErrors: JsonSchema = { showWhen: { param: "cast", set: true } };
    const clean: JsonSchema = { type: "object", properties: { cast: { type: "object", default: {} } } };
    expect(isShown(castErrors, clean, {})).toBe(false);
    expect(isShown(castErrors, clean, { cast: {} })).toBe(false);
    expect(isShown(castErrors, clean, { cast: { x: "DOUBLE" } })).toBe(true);
    expect(isShown(castErrors, clean, { cast: [] })).toBe(false);
    expect(isShown(castErrors, clean, { cast: "" })).toBe(false);
  });

  it("counts a turned-on section with nothing in it yet as set", () => {
    const seed = train.properties?.seed as JsonSchema;
    expect(isShown(seed, train, {})).toBe(false);
    expect(isShown(seed, train, { search: {} })).toBe(true);
  });

  it("holds when any of a list of conditions does", () => {
    const constant: JsonSchema = {
      showWhen: [
        { param: "numeric", in: ["constant"] },
        { param: "categorical", in: ["constant"] },
      ],
    };
    const missing: JsonSchema = {
      type: "object",
      properties: {
        numeric: { enum: ["mean", "constant"], default: "mean" },
        categorical: { enum: ["mode", "constant"], default: "mode" },
      },
    };
    expect(isShown(constant, missing, {})).toBe(false);
    expect(isShown(constant, missing, { categorical: "constant" })).toBe(true);
    expect(isShown(constant, missing, { numeric: "constant" })).toBe(true);
  });
});

describe("isOptionalSection", () => {
  it("is an optional object with required fields, without a default", () => {
    expect(isOptionalSection(train.properties?.search as JsonSchema, false)).toBe(true);
    // Required, defaulted (clean's `missing`), or nothing required inside (onnxOpset): always drawn.
    expect(isOptionalSection(train.properties?.search as JsonSchema, true)).toBe(false);
    expect(isOptionalSection({ ...(train.properties?.search as JsonSchema), default: {} }, false)).toBe(
      false,
    );
    expect(isOptionalSection(train.properties?.onnxOpset as JsonSchema, false)).toBe(false);
    expect(isOptionalSection({ type: "string" }, false)).toBe(false);
  });
});

describe("isSuiteParam", () => {
  it("knows validate.expectations' suite by its picker or by its { path } | { inline } shape", () => {
    expect(isSuiteParam({ picker: "suite" })).toBe(true);
    const shaped: JsonSchema = {
      anyOf: [
        { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
        { type: "object", properties: { inline: { type: "object" } }, required: ["inline"] },
      ],
    };
    expect(isSuiteParam(shaped)).toBe(true);
    expect(isSuiteParam({ anyOf: [shaped.anyOf![0]!, { type: "null" }] })).toBe(false);
    expect(isSuiteParam({ type: "string", picker: "file" })).toBe(false);
    expect(isSuiteParam({ anyOf: [{ type: "string" }, { type: "number" }] })).toBe(false);
  });
});
