import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { fitGbdt } from "../trees/index";
import { penguins } from "../trees/testing";
import { attr, DEFAULT_OPSETS, decodeModel, irVersionFor, OnnxGraphBuilder, tensor } from "./builder";
import { checkTreeParity } from "./parity";
import { exportTreeEnsemble } from "./trees";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * A graph that uses every attribute type with ops onnxruntime knows:
 * Constant (tensor), LeakyRelu (float), ArgMax (int), Scaler (floats),
 * LabelEncoder (ints, strings, string).
 */
function everyAttributeGraph(opsets?: Record<string, number>): OnnxGraphBuilder {
  const b = new OnnxGraphBuilder({ opsets, producerVersion: "0.1.0", docString: "test" });
  const x = b.input("x", "FLOAT", [-1, 3]);
  const [shift] = b.node("Constant", [], [b.fresh("shift")], {
    value: attr.tensor(tensor("FLOAT", [1, 3], [0, 10, 0])),
  });
  const [shifted] = b.node("Add", [x, shift!], [b.fresh("shifted")]);
  const [leaky] = b.node("LeakyRelu", [shifted!], [b.fresh("leaky")], { alpha: attr.float(0.5) });
  b.node(
    "Scaler",
    [leaky!],
    ["scaled"],
    { offset: attr.floats([0, 0, 0]), scale: attr.floats([2, 0.5, 1]) },
    { domain: "ai.onnx.ml" },
  );
  b.node("ArgMax", ["scaled"], ["index"], { axis: attr.int(1), keepdims: attr.int(0) });
  b.node(
    "LabelEncoder",
    ["index"],
    ["name"],
    {
      keys_int64s: attr.ints([0, 1, 2]),
      values_strings: attr.strings(["a", "b", "c"]),
      default_string: attr.string("?"),
    },
    { domain: "ai.onnx.ml" },
  );
  b.output("scaled", "FLOAT", [-1, 3]);
  b.output("index", "INT64", ["batch"]);
  b.output("name", "STRING", [-1]);
  b.meta("dagwood.signature", '{"inputs":["x"]}');
  return b;
}

describe("OnnxGraphBuilder", () => {
  it("round-trips its ModelProto through the schema", () => {
    const b = everyAttributeGraph();
    b.initializer("weights", tensor("INT64", [2], [-3, 2 ** 40]));
    b.initializer("names", tensor("STRING", [2], ["x", "ÿ"]));
    b.initializer("halves", tensor("DOUBLE", [2, 1], [0.5, -0.25]));
    const model = decodeModel(b.encode());
    expect(model.ir_version).toBe(8);
    expect(model.producer_name).toBe("dagwood");
    expect(model.producer_version).toBe("0.1.0");
    expect(model.doc_string).toBe("test");
    expect(model.opset_import).toEqual([
      { domain: "", version: 17 },
      { domain: "ai.onnx.ml", version: 3 },
    ]);
    expect(model.metadata_props).toEqual([{ key: "dagwood.signature", value: '{"inputs":["x"]}' }]);

    const g = model.graph;
    expect(g.input[0]!.name).toBe("x");
    expect(g.input[0]!.type.tensor_type).toEqual({
      elem_type: 1,
      shape: { dim: [{ dim_param: "N" }, { dim_value: 3 }] },
    });
    expect(g.output.map((o) => [o.name, o.type.tensor_type.elem_type])).toEqual([
      ["scaled", 1],
      ["index", 7],
      ["name", 8],
    ]);
    expect(g.output[1]!.type.tensor_type.shape.dim).toEqual([{ dim_param: "batch" }]);

    const nodes = Object.fromEntries(g.node.map((n) => [n.op_type, n]));
    const attribute = (op: string, name: string) => nodes[op]!.attribute.find((a) => a.name === name)!;
    expect(attribute("Constant", "value")).toMatchObject({
      type: 4,
      t: { dims: [1, 3], data_type: 1, float_data: [0, 10, 0] },
    });
    expect(attribute("LeakyRelu", "alpha")).toMatchObject({ type: 1, f: 0.5 });
    expect(attribute("ArgMax", "axis")).toMatchObject({ type: 2, i: 1 });
    expect(attribute("Scaler", "scale")).toMatchObject({ type: 6, floats: [2, 0.5, 1] });
    expect(attribute("LabelEncoder", "keys_int64s")).toMatchObject({ type: 7, ints: [0, 1, 2] });
    expect(attribute("LabelEncoder", "values_strings").type).toBe(8);
    expect(attribute("LabelEncoder", "values_strings").strings.map(text)).toEqual(["a", "b", "c"]);
    expect(attribute("LabelEncoder", "default_string").type).toBe(3);
    expect(text(attribute("LabelEncoder", "default_string").s!)).toBe("?");
    expect(nodes.Scaler!.domain).toBe("ai.onnx.ml");
    expect(nodes.Add!.input).toEqual(["x", "shift"]);

    const [weights, names, halves] = g.initializer;
    expect(weights).toMatchObject({ name: "weights", dims: [2], data_type: 7, int64_data: [-3, 2 ** 40] });
    expect(names).toMatchObject({ name: "names", dims: [2], data_type: 8 });
    expect(names!.string_data.map(text)).toEqual(["x", "ÿ"]);
    expect(halves).toMatchObject({ name: "halves", dims: [2, 1], data_type: 11, double_data: [0.5, -0.25] });
  });

  it("writes a model onnxruntime runs, with attributes of every type", async () => {
    const session = await ort.InferenceSession.create(everyAttributeGraph().encode());
    const x = new ort.Tensor("float32", Float32Array.of(1, -15, 3, -4, -2, -1), [2, 3]);
    const out = await session.run({ x });
    await session.release();
    // Row 1: [1, -5·0.5, 3] → ×[2, 0.5, 1] = [2, -1.25, 3]; row 2: [-2, 8, -0.5] → [-4, 4, -0.5].
    expect(Array.from(out.scaled!.data as Float32Array)).toEqual([2, -1.25, 3, -4, 4, -0.5]);
    expect(Array.from(out.index!.data as BigInt64Array)).toEqual([2n, 1n]);
    expect(out.name!.data).toEqual(["c", "b"]);
  });

  it("refuses graphs it cannot write correctly", () => {
    const b = new OnnxGraphBuilder({ opsets: { "ai.onnx.ml": 0 } });
    expect(b.opsets).toEqual({ "": 17 });
    const x = b.input("x", "FLOAT", [-1, 1]);
    expect(() => b.input("x", "FLOAT", [1])).toThrow(/already has a tensor named "x"/);
    expect(() => b.node("Scaler", [x], ["y"], {}, { domain: "ai.onnx.ml" })).toThrow(/imports no opset/);
    expect(() => b.node("Relu", ["nope"], ["y"])).toThrow(/reads "nope"/);
    expect(() => b.output("y", "FLOAT", [-1, 1])).toThrow(/No tensor named "y"/);
    expect(() => b.encode()).toThrow(/no outputs/);
    expect(() => tensor("FLOAT", [2, 2], [1, 2, 3])).toThrow(/needs 4 values, got 3/);
    expect(b.fresh("t")).toBe("t");
    expect(b.fresh("t")).toBe("t_1");
    expect(b.fresh("x")).toBe("x_1");
  });
});

describe("opset versions per target", () => {
  it("defaults to opset 17 + ai.onnx.ml 3 (IR 8) and derives the IR version from overrides", () => {
    expect(DEFAULT_OPSETS).toEqual({ "": 17, "ai.onnx.ml": 3 });
    expect(irVersionFor({ "": 17, "ai.onnx.ml": 3 })).toBe(8);
    expect(irVersionFor({ "": 13, "ai.onnx.ml": 2 })).toBe(7);
    expect(irVersionFor({ "": 17, "ai.onnx.ml": 4 })).toBe(9);
    expect(irVersionFor({ "": 21, "ai.onnx.ml": 3 })).toBe(10);
    const b = new OnnxGraphBuilder({ opsets: { "": 19 }, irVersion: 9 });
    expect(b.opsets).toEqual({ "": 19, "ai.onnx.ml": 3 });
    expect(b.irVersion).toBe(9);
  });

  it("exports trees for overridden opsets that onnxruntime loads, with parity", async () => {
    const { data, y, classes } = penguins();
    const model = await fitGbdt(
      { data, y, task: "multiclass", numClasses: 3 },
      { trees: 20 },
      { pool: "inline" },
    );
    const targets = [
      { opsets: { "": 13, "ai.onnx.ml": 3 }, ir: 8 },
      { opsets: { "": 15, "ai.onnx.ml": 3 }, ir: 8 },
      { opsets: { "": 19, "ai.onnx.ml": 4 }, ir: 9 },
    ];
    for (const { opsets, ir } of targets) {
      const bytes = exportTreeEnsemble(model, { classes, target: { opsets } });
      const decoded = decodeModel(bytes);
      expect(decoded.ir_version).toBe(ir);
      expect(decoded.opset_import).toEqual(
        Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      );
      const parity = await checkTreeParity(bytes, model, data);
      expect(parity.passed).toBe(true);
    }
    expect(() => exportTreeEnsemble(model, { target: { opsets: { "ai.onnx.ml": 5 } } })).toThrow(
      /opset 3 or 4/,
    );
    expect(() => exportTreeEnsemble(model, { classes, target: { opsets: { "ai.onnx.ml": 2 } } })).toThrow(
      /opset 3 or 4 .*has 2/,
    );
  });
});
