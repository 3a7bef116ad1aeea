/**
 * A small ONNX graph builder: inputs, outputs, initializers, nodes with typed
 * attributes, opset imports and metadata, encoded to ModelProto bytes with
 * the protobufjs schema in schema.ts.
 */
import { AttributeType, DataType, type DataTypeName, modelProto } from "./schema";

/** Opset versions per domain (`""` is the default ONNX domain). */
export type Opsets = Record<string, number>;

/**
 * Defaults that onnxruntime ≥ 1.17 and current Triton load: default domain 17,
 * ai.onnx.ml 3 (TreeEnsembleRegressor/Classifier v3, LabelEncoder v2).
 */
export const DEFAULT_OPSETS: Readonly<Opsets> = { "": 17, "ai.onnx.ml": 3 };

/**
 * The IR version an opset needs (onnx/docs/Versioning.md): the default
 * domain's opset 15–18 came with IR 8, 19–20 with IR 9, 21–22 with IR 10;
 * ai.onnx.ml 3 with IR 8, 4 with IR 9, 5 with IR 10. Older runtimes refuse a
 * newer IR, so the builder writes the lowest one its opsets allow.
 */
export function irVersionFor(opsets: Opsets): number {
  const onnx = opsets[""] ?? 0;
  const ml = opsets["ai.onnx.ml"] ?? 0;
  const fromOnnx = onnx >= 23 ? 11 : onnx >= 21 ? 10 : onnx >= 19 ? 9 : onnx >= 15 ? 8 : 7;
  const fromMl = ml >= 5 ? 10 : ml >= 4 ? 9 : ml >= 3 ? 8 : 7;
  return Math.max(fromOnnx, fromMl);
}

/** A dimension: a fixed size, or -1 / a name for a dynamic one (-1 becomes "N", the batch). */
export type Dim = number | string;

export interface TensorValue {
  dataType: DataTypeName;
  dims: readonly number[];
  /** Row-major values; strings for STRING, numbers for the rest (bigints allowed for INT64/UINT64). */
  values: ArrayLike<number> | readonly string[] | readonly bigint[];
}

export function tensor(
  dataType: DataTypeName,
  dims: readonly number[],
  values: TensorValue["values"],
): TensorValue {
  const size = dims.reduce((a, b) => a * b, 1);
  if (values.length !== size) {
    throw new Error(
      `A ${dataType} tensor of shape [${dims.join(", ")}] needs ${size} values, got ${values.length}`,
    );
  }
  return { dataType, dims, values };
}

/** An attribute value with its ONNX type (a JS number alone cannot say int or float). */
export type AttributeValue =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "string"; value: string }
  | { type: "ints"; value: ArrayLike<number> }
  | { type: "floats"; value: ArrayLike<number> }
  | { type: "strings"; value: readonly string[] }
  | { type: "tensor"; value: TensorValue };

/** Attribute constructors: `attr.int(1)`, `attr.floats(values)`, `attr.tensor(tensor("DOUBLE", [n], v))`. */
export const attr = {
  int: (value: number): AttributeValue => ({ type: "int", value }),
  float: (value: number): AttributeValue => ({ type: "float", value }),
  string: (value: string): AttributeValue => ({ type: "string", value }),
  ints: (value: ArrayLike<number>): AttributeValue => ({ type: "ints", value }),
  floats: (value: ArrayLike<number>): AttributeValue => ({ type: "floats", value }),
  strings: (value: readonly string[]): AttributeValue => ({ type: "strings", value }),
  tensor: (value: TensorValue): AttributeValue => ({ type: "tensor", value }),
};

export interface BuilderOptions {
  /** Opset overrides per target, merged over DEFAULT_OPSETS (a domain set to 0 is dropped). */
  opsets?: Opsets;
  /** Default: the lowest the opsets allow (irVersionFor). */
  irVersion?: number;
  graphName?: string;
  producerVersion?: string;
  docString?: string;
}

interface ValueInfo {
  name: string;
  elemType: DataTypeName;
  shape: readonly Dim[];
}

interface NodeSpec {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: [string, AttributeValue][];
}

const utf8 = new TextEncoder();

export class OnnxGraphBuilder {
  readonly opsets: Opsets;
  readonly irVersion: number;
  private readonly options: BuilderOptions;
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: (TensorValue & { name: string })[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly metadata = new Map<string, string>();
  /** Tensors that exist (inputs, initializers, node outputs). */
  private readonly names = new Set<string>();
  /** Names handed out by fresh() and not yet created. */
  private readonly reserved = new Set<string>();

  constructor(options: BuilderOptions = {}) {
    this.options = options;
    const merged: Opsets = { ...DEFAULT_OPSETS, ...options.opsets };
    this.opsets = Object.fromEntries(Object.entries(merged).filter(([, v]) => v > 0));
    this.irVersion = options.irVersion ?? irVersionFor(this.opsets);
  }

  /**
   * Reserves a tensor name not used yet in this graph: `prefix`, else
   * `prefix_1`, `prefix_2`, … Pass it as a node output to create the tensor.
   */
  fresh(prefix: string): string {
    let name = prefix;
    for (let i = 1; this.names.has(name) || this.reserved.has(name); i++) name = `${prefix}_${i}`;
    this.reserved.add(name);
    return name;
  }

  private claim(name: string, what: string): string {
    if (this.names.has(name))
      throw new Error(`The ONNX graph already has a tensor named "${name}" (${what})`);
    this.reserved.delete(name);
    this.names.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, elemType: DataTypeName, shape: readonly Dim[]): string {
    this.inputs.push({ name: this.claim(name, "input"), elemType, shape });
    return name;
  }

  /** Declares an existing tensor (a node's output) as a graph output. */
  output(name: string, elemType: DataTypeName, shape: readonly Dim[]): string {
    if (!this.names.has(name))
      throw new Error(`No tensor named "${name}" in the ONNX graph to declare as output`);
    this.outputs.push({ name, elemType, shape });
    return name;
  }

  /** Adds a constant tensor under a fresh name derived from `prefix`. */
  initializer(prefix: string, value: TensorValue): string {
    const name = this.claim(this.fresh(prefix), "initializer");
    this.initializers.push({ ...value, name });
    return name;
  }

  /**
   * Appends a node. `outputs` are names to create (each must be new; use
   * `fresh` for generated ones). Returns the output names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    options: { domain?: string; name?: string } = {},
  ): string[] {
    const domain = options.domain ?? "";
    if (!(domain in this.opsets)) {
      throw new Error(`${opType} is in domain "${domain}", which this target imports no opset for`);
    }
    for (const input of inputs) {
      if (input !== "" && !this.names.has(input)) {
        throw new Error(`${opType} reads "${input}", which no input, initializer or earlier node produces`);
      }
    }
    for (const output of outputs) this.claim(output, `output of ${opType}`);
    this.nodes.push({
      opType,
      domain,
      name: options.name ?? `${opType}_${this.nodes.length}`,
      inputs: [...inputs],
      outputs: [...outputs],
      attributes: Object.entries(attributes),
    });
    return [...outputs];
  }

  /** A metadata_props entry (later values replace earlier ones under the same key). */
  meta(key: string, value: string): this {
    this.metadata.set(key, value);
    return this;
  }

  /** The ModelProto as a plain object in onnx.proto's field names. */
  toModelProto(): Record<string, unknown> {
    return {
      ir_version: this.irVersion,
      opset_import: Object.entries(this.opsets).map(([domain, version]) => ({ domain, version })),
      producer_name: "dagwood",
      ...(this.options.producerVersion ? { producer_version: this.options.producerVersion } : {}),
      ...(this.options.docString ? { doc_string: this.options.docString } : {}),
      graph: {
        name: this.options.graphName ?? "dagwood",
        node: this.nodes.map((n) => ({
          name: n.name,
          op_type: n.opType,
          domain: n.domain,
          input: n.inputs,
          output: n.outputs,
          attribute: n.attributes.map(([name, value]) => encodeAttribute(name, value)),
        })),
        initializer: this.initializers.map((t) => encodeTensor(t, t.name)),
        input: this.inputs.map(encodeValueInfo),
        output: this.outputs.map(encodeValueInfo),
      },
      metadata_props: [...this.metadata].map(([key, value]) => ({ key, value })),
    };
  }

  encode(): Uint8Array {
    if (this.outputs.length === 0)
      throw new Error("The ONNX graph has no outputs; declare them with output()");
    const ModelProto = modelProto();
    return ModelProto.encode(ModelProto.fromObject(this.toModelProto())).finish();
  }
}

function encodeValueInfo(v: ValueInfo): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: DataType[v.elemType],
        shape: {
          dim: v.shape.map((d) =>
            typeof d === "string" ? { dim_param: d } : d < 0 ? { dim_param: "N" } : { dim_value: d },
          ),
        },
      },
    },
  };
}

function encodeTensor(t: TensorValue, name?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { dims: [...t.dims], data_type: DataType[t.dataType] };
  if (name) out.name = name;
  const values = Array.from(t.values as ArrayLike<number | string | bigint>);
  switch (t.dataType) {
    case "FLOAT":
      out.float_data = values;
      break;
    case "DOUBLE":
      out.double_data = values;
      break;
    case "INT64":
      out.int64_data = values.map((v) => (typeof v === "bigint" ? v.toString() : v));
      break;
    case "UINT32":
    case "UINT64":
      out.uint64_data = values.map((v) => (typeof v === "bigint" ? v.toString() : v));
      break;
    case "STRING":
      out.string_data = values.map((v) => utf8.encode(String(v)));
      break;
    default:
      // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 (bits) all live in int32_data.
      out.int32_data = values.map(Number);
  }
  return out;
}

function encodeAttribute(name: string, a: AttributeValue): Record<string, unknown> {
  switch (a.type) {
    case "int":
      return { name, type: AttributeType.INT, i: a.value };
    case "float":
      return { name, type: AttributeType.FLOAT, f: a.value };
    case "string":
      return { name, type: AttributeType.STRING, s: utf8.encode(a.value) };
    case "ints":
      return { name, type: AttributeType.INTS, ints: Array.from(a.value) };
    case "floats":
      return { name, type: AttributeType.FLOATS, floats: Array.from(a.value) };
    case "strings":
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case "tensor":
      return { name, type: AttributeType.TENSOR, t: encodeTensor(a.value) };
  }
}

/** A decoded ModelProto: onnx.proto's field names, int64 as numbers, bytes as Uint8Array. */
export interface DecodedModel {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  metadata_props: { key: string; value: string }[];
  graph: {
    name?: string;
    node: DecodedNode[];
    initializer: DecodedTensor[];
    input: DecodedValueInfo[];
    output: DecodedValueInfo[];
  };
}
export interface DecodedNode {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: DecodedAttribute[];
}
export interface DecodedAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: DecodedTensor;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
}
export interface DecodedTensor {
  name?: string;
  dims: number[];
  data_type: number;
  float_data: number[];
  double_data: number[];
  int32_data: number[];
  int64_data: number[];
  string_data: Uint8Array[];
}
export interface DecodedValueInfo {
  name: string;
  type: {
    tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } };
  };
}

/** Decodes ModelProto bytes (for tests and inspection; repeated fields always present). */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const ModelProto = modelProto();
  return ModelProto.toObject(ModelProto.decode(bytes), {
    longs: Number,
    arrays: true,
  }) as unknown as DecodedModel;
}
