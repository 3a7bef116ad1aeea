/**
 * A binary classifier's ONNX graph labelled by a decision threshold (app/ml/decision.ts): the `label`
 * of a row is the positive class when its positive-class probability is at least the threshold, as
 * evaluate scored and predict labels. The graph Dagwood exports at training labels by ArgMax (the most
 * probable class); a registered version that was evaluated at a threshold gets its own copy of the
 * graph with that ArgMax replaced, so every server of the file (`dagwood serve`, Triton, KServe)
 * labels as predict does:
 *
 *   Gather(probabilities, positive, axis 1) → Less(threshold) → Not → Cast INT64   (1: at least the threshold)
 *   positive class 1: that is the class index; class 0: Sub(1, it)
 *   → label_index → LabelEncoder → label, as before
 *
 * Less then Not is `p >= threshold` in the probabilities' own type (DOUBLE for every Dagwood model),
 * and exists from opset 7 (GreaterOrEqual needs 12). The decision is kept in the metadata_props as
 * `dagwood.decision` ({"threshold", "positiveClass"}).
 */
import { AttributeType, DataType, modelProto } from "./schema";

/** The metadata_props key (app/serving/config.ts DAGWOOD_DECISION_KEY reads it). */
export const DECISION_META = "dagwood.decision";

/** A binary decision as a version keeps it: the positive class (as text) and the threshold on its probability. */
export interface ThresholdDecision {
  threshold: number;
  positiveClass: string;
}

// The decoded ModelProto as protobufjs gives it (onnx.proto's field names); only what is read here is typed.
interface ProtoNode {
  op_type: string;
  input: string[];
  output: string[];
  [field: string]: unknown;
}
interface ProtoGraph {
  node: ProtoNode[];
  initializer: { name: string; [field: string]: unknown }[];
  input: { name: string }[];
  output: { name: string; type?: { tensor_type?: { elem_type?: number } } }[];
  [field: string]: unknown;
}
interface ProtoModel {
  graph: ProtoGraph;
  metadata_props?: { key: string; value: string }[];
  [field: string]: unknown;
}

/** The decision a graph labels by, from its metadata; undefined for a graph that labels by ArgMax. */
export function onnxDecision(bytes: Uint8Array): ThresholdDecision | undefined {
  const ModelProto = modelProto();
  const model = ModelProto.toObject(ModelProto.decode(bytes), { arrays: true }) as ProtoModel;
  const text = model.metadata_props?.find((m) => m.key === DECISION_META)?.value;
  return text === undefined ? undefined : (JSON.parse(text) as ThresholdDecision);
}

/**
 * `bytes` (a binary classifier Dagwood exported) with its label decided by `decision`. Throws, saying
 * why, for a graph that is not one: no `dagwood.classes` of two classes, no ArgMax label, a positive
 * class that is not one of its classes, or a graph that already labels by a threshold.
 */
export function withDecisionThreshold(bytes: Uint8Array, decision: ThresholdDecision): Uint8Array {
  const { threshold, positiveClass } = decision;
  if (!(threshold >= 0 && threshold <= 1))
    throw new Error(`The decision threshold must be between 0 and 1, not ${threshold}`);
  const ModelProto = modelProto();
  const model = ModelProto.toObject(ModelProto.decode(bytes), { arrays: true }) as ProtoModel;
  const meta = model.metadata_props ?? [];
  if (meta.some((m) => m.key === DECISION_META))
    throw new Error(
      "The ONNX graph already labels by a decision threshold; start from the graph written at training",
    );
  const classesText = meta.find((m) => m.key === "dagwood.classes")?.value;
  const classes = classesText === undefined ? undefined : (JSON.parse(classesText) as unknown[]);
  if (classes?.length !== 2)
    throw new Error(
      `A decision threshold applies to binary classifiers; this ONNX graph has ${classes ? `${classes.length} classes` : "no dagwood.classes metadata"}`,
    );
  const positive = classes.findIndex((c) => String(c) === positiveClass);
  if (positive < 0)
    throw new Error(
      `The positive class "${positiveClass}" is not one of the graph's classes: ${classes.map(String).join(", ")}`,
    );

  const graph = model.graph;
  const argmaxAt = graph.node.findIndex(
    (n) => n.op_type === "ArgMax" && (n.output[0] === "label_index" || n.output[0] === "label"),
  );
  const probabilities = graph.output.find((o) => o.name === "probabilities");
  const producedAt = graph.node.findIndex((n) => n.output.includes("probabilities"));
  if (argmaxAt < 0 || !probabilities || producedAt < 0 || producedAt > argmaxAt)
    throw new Error(
      "The ONNX graph has no ArgMax label after its probabilities: it is not a Dagwood classifier",
    );
  const elemType = probabilities.type?.tensor_type?.elem_type;
  if (elemType !== DataType.DOUBLE && elemType !== DataType.FLOAT)
    throw new Error(`The graph's probabilities are of ONNX type ${elemType}, not DOUBLE or FLOAT`);

  const taken = new Set<string>([
    ...graph.input.map((i) => i.name),
    ...graph.initializer.map((i) => i.name),
    ...graph.node.flatMap((n) => n.output),
  ]);
  const fresh = (prefix: string) => {
    let name = prefix;
    for (let i = 1; taken.has(name); i++) name = `${prefix}_${i}`;
    taken.add(name);
    return name;
  };
  const labelIndex = graph.node[argmaxAt]!.output[0]!;
  const positiveIndex = fresh("decision_positive_index");
  const thresholdName = fresh("decision_threshold");
  graph.initializer.push(
    { name: positiveIndex, dims: [], data_type: DataType.INT64, int64_data: [positive] },
    {
      name: thresholdName,
      dims: [],
      data_type: elemType,
      ...(elemType === DataType.DOUBLE ? { double_data: [threshold] } : { float_data: [threshold] }),
    },
  );
  const pPositive = fresh("decision_p_positive");
  const below = fresh("decision_below_threshold");
  const atLeast = fresh("decision_at_least_threshold");
  const isPositive = positive === 1 ? labelIndex : fresh("decision_is_positive");
  const node = (op_type: string, input: string[], output: string[], attribute: object[] = []) => ({
    name: fresh(`decision_${op_type}`),
    op_type,
    domain: "",
    input,
    output,
    attribute,
  });
  const nodes = [
    node(
      "Gather",
      ["probabilities", positiveIndex],
      [pPositive],
      [{ name: "axis", type: AttributeType.INT, i: 1 }],
    ),
    node("Less", [pPositive, thresholdName], [below]),
    node("Not", [below], [atLeast]),
    node("Cast", [atLeast], [isPositive], [{ name: "to", type: AttributeType.INT, i: DataType.INT64 }]),
  ];
  if (positive === 0) {
    const one = fresh("decision_one");
    graph.initializer.push({ name: one, dims: [], data_type: DataType.INT64, int64_data: [1] });
    nodes.push(node("Sub", [one, isPositive], [labelIndex]));
  }
  graph.node.splice(argmaxAt, 1, ...(nodes as unknown as ProtoNode[]));
  model.metadata_props = [
    ...meta,
    { key: DECISION_META, value: JSON.stringify({ threshold, positiveClass }) },
  ];
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
