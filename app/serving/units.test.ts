import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { modelProto } from "../ml/onnx/schema";
import { writeFileAtomic } from "../store/atomic-write";
import { onnxMetadata, parseModelConfig } from "./config";
import { InferenceLog, LogSampler, lastSeq } from "./observability";
import { checkModelName, configPbtxt, labelFileText, ModelRepository, parseVersion } from "./repository";
import { fromHalf, parseInputs, RequestError, toHalf, toV2 } from "./tensors";

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "dagwood-serving-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("tensors", () => {
  const signature = [
    { name: "n", datatype: "INT64" as const, shape: [-1, 1] },
    { name: "b", datatype: "BOOL" as const, shape: [-1, 2] },
  ];

  it("reads INT64 and BOOL inputs, nested or flat, and writes them back", () => {
    const feeds = parseInputs(
      {
        inputs: [
          { name: "n", datatype: "INT64", shape: [2, 1], data: [[3], [-4]] },
          { name: "b", datatype: "BOOL", shape: [2, 2], data: [true, false, false, true] },
        ],
      },
      signature,
    );
    expect(feeds.n!.type).toBe("int64");
    expect(toV2("n", feeds.n!)).toEqual({ name: "n", datatype: "INT64", shape: [2, 1], data: [3, -4] });
    expect(toV2("b", feeds.b!).data).toEqual([true, false, false, true]);
  });

  it("refuses a fractional INT64, a fixed dimension that differs; unequal batch sizes only when the model batches", () => {
    const bad = (inputs: unknown[]) => () => parseInputs({ inputs }, signature, 8);
    const b = { name: "b", datatype: "BOOL", shape: [1, 2], data: [true, true] };
    expect(bad([{ name: "n", datatype: "INT64", shape: [1, 1], data: [1.5] }, b])).toThrow(/"n": element 0/);
    expect(
      bad([
        { name: "n", datatype: "INT64", shape: [1, 1], data: [1] },
        { ...b, shape: [1, 3] },
      ]),
    ).toThrow(/"b" has shape \[1, 3\]/);
    expect(bad([{ name: "n", datatype: "INT64", shape: [2, 1], data: [1, 2] }, b])).toThrow(
      /same batch size/,
    );
    // Without batching (max_batch_size 0), shapes pass as given, as on Triton.
    const unbatched = parseInputs(
      { inputs: [{ name: "n", datatype: "INT64", shape: [2, 1], data: [1, 2] }, b] },
      signature,
    );
    expect(unbatched.n!.dims).toEqual([2, 1]);
    expect(unbatched.b!.dims).toEqual([1, 2]);
    const nine = { name: "n", datatype: "INT64", shape: [9, 1], data: [1, 2, 3, 4, 5, 6, 7, 8, 9] };
    expect(bad([nine, { ...b, shape: [9, 2], data: new Array(18).fill(true) }])).toThrow(
      /"n" has 9 rows; this model takes at most 8 per request \(its max_batch_size\)/,
    );
    expect(bad([{ name: "n", datatype: "INT64", shape: [1, 1], data: [1] }, b, b])).toThrow(/given twice/);
    try {
      bad([b])();
    } catch (e) {
      expect(e).toBeInstanceOf(RequestError);
      expect((e as RequestError).status).toBe(400);
    }
  });
});

describe("repository", () => {
  it("checks names and versions", () => {
    for (const ok of ["penguins", "a.b-c_1", "Console"]) expect(checkModelName(ok)).toBe(ok);
    for (const bad of [
      "",
      "../x",
      "a/b",
      "a\\b",
      ".hidden",
      "con",
      "LPT1",
      "com3.json",
      "x.",
      "a".repeat(129),
    ]) {
      expect(() => checkModelName(bad), bad).toThrow(/invalid model name/);
    }
    expect(parseVersion("12")).toBe(12);
    for (const bad of ["0", "-1", "1.5", "01", "x", "99999999999999999"])
      expect(() => parseVersion(bad)).toThrow();
  });

  it("writes Triton's config.pbtxt", () => {
    const text = configPbtxt("m", {
      inputs: [{ name: "x", datatype: "FP32", shape: [-1, 1] }],
      outputs: [
        { name: "label", datatype: "BYTES", shape: [-1] },
        { name: "n", datatype: "INT64", shape: [-1] },
      ],
    });
    expect(text).toBe(
      [
        'name: "m"',
        'platform: "onnxruntime_onnx"',
        "max_batch_size: 0",
        "input [",
        '  {\n    name: "x"\n    data_type: TYPE_FP32\n    dims: [ -1, 1 ]\n  }',
        "]",
        "output [",
        '  {\n    name: "label"\n    data_type: TYPE_STRING\n    dims: [ -1 ]\n  },',
        '  {\n    name: "n"\n    data_type: TYPE_INT64\n    dims: [ -1 ]\n  }',
        "]",
        "",
      ].join("\n"),
    );
  });

  it("names a classifier's label file on its probabilities output (Triton's ModelOutput.label_filename)", () => {
    const text = configPbtxt(
      "m",
      {
        inputs: [{ name: "x", datatype: "FP64", shape: [-1, 1] }],
        outputs: [
          { name: "label", datatype: "BYTES", shape: [-1] },
          { name: "probabilities", datatype: "FP64", shape: [-1, 3] },
        ],
      },
      0,
      "labels.txt",
    );
    expect(text).toContain(
      '  {\n    name: "probabilities"\n    data_type: TYPE_FP64\n    dims: [ -1, 3 ]\n    label_filename: "labels.txt"\n  }',
    );
    expect(text.match(/label_filename/g)).toHaveLength(1);
    // One class per line, line i naming column i; a name with a line break cannot be a line.
    expect(labelFileText(["Adelie", "Chinstrap", 3])).toBe("Adelie\nChinstrap\n3\n");
    expect(() => labelFileText(["a", "b\nc"])).toThrow(/line break/);
  });

  it("writes atomically and counts only version folders that hold model.onnx", async () => {
    const dir = temp();
    await writeFileAtomic(join(dir, "f.json"), "one");
    await writeFileAtomic(join(dir, "f.json"), "two");
    expect(readFileSync(join(dir, "f.json"), "utf8")).toBe("two");
    expect(readdirSync(dir)).toEqual(["f.json"]);

    const repo = new ModelRepository(dir);
    await repo.writeModel("m", 2, new Uint8Array([1, 2, 3]));
    mkdirSync(join(dir, "m", "3")); // an interrupted upload's empty folder
    mkdirSync(join(dir, "m", "notes"));
    writeFileSync(join(dir, "m", ".upload-abc.onnx"), "partial");
    mkdirSync(join(dir, "..bad"), { recursive: true });
    await repo.init();
    expect(await repo.versions("m")).toEqual([2]);
    expect(await repo.modelNames()).toEqual(["m"]);
    expect(readdirSync(join(dir, "m")).sort()).toEqual(["2", "3", "notes"]);
  });
});

describe("inference log", () => {
  const entry = (model: string, i: number) => ({
    time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    requestId: `r${i}`,
    model,
    version: 1,
    role: "primary" as const,
    latencyMs: 0.1,
    inputs: [],
    outputs: [],
  });

  it("keeps the last N per model, pages with limit and since", () => {
    const log = new InferenceLog({ capacity: 5 });
    for (let i = 0; i < 12; i++) log.add(entry("a", i));
    log.add(entry("b", 0));
    const all = log.read("a", { limit: 100 });
    expect(all.map((e) => e.requestId)).toEqual(["r7", "r8", "r9", "r10", "r11"]);
    expect(log.read("a", { limit: 2 }).map((e) => e.requestId)).toEqual(["r10", "r11"]);
    expect(log.read("a", { since: { seq: all[2]!.seq } }).map((e) => e.requestId)).toEqual(["r10", "r11"]);
    expect(log.read("a", { since: { time: Date.parse(all[3]!.time) } }).map((e) => e.requestId)).toEqual([
      "r11",
    ]);
    expect(log.read("b", {})).toHaveLength(1);
    expect(log.read("c", {})).toEqual([]);
  });

  it("appends JSONL, rotating it into numbered segments past the file size", async () => {
    const dir = temp();
    mkdirSync(join(dir, "a"));
    const line = JSON.stringify({ seq: 1, ...entry("a", 0) }).length + 1;
    // Two entries fit in a file; the budget holds them all.
    const log = new InferenceLog({ repository: dir, maxFileBytes: 2 * line + 10, maxDiskBytes: 1e6 });
    for (let i = 0; i < 5; i++) log.add(entry("a", i));
    await log.flush();
    for (let i = 5; i < 7; i++) {
      log.add(entry("a", i));
      await log.flush();
    }
    await log.close();
    const ids = (file: string) =>
      readFileSync(join(dir, "a", file), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).requestId);
    // A batch is written whole: the first flush wrote 5 entries into one file, then it rotated.
    expect(ids("inference-log.1.jsonl")).toEqual(["r0", "r1", "r2", "r3", "r4"]);
    expect(ids("inference-log.jsonl")).toEqual(["r5", "r6"]);
    expect(await log.dropped("a")).toEqual({ entries: 0, bytes: 0, throughSeq: 0 });
  });
});

describe("inference log on disk within a byte budget", () => {
  const entry = (i: number) => ({
    time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    requestId: `r${i}`,
    model: "a",
    version: 1,
    role: "primary" as const,
    latencyMs: 0.1,
    inputs: [{ name: "x", datatype: "FP64" as const, shape: [1, 1], data: [i] }],
    outputs: [],
  });

  it("deletes the oldest segments past the budget, counts what they held, and reads forward from the rest", async () => {
    const dir = temp();
    mkdirSync(join(dir, "a"));
    // A segment from an earlier version's rotation is the oldest.
    writeFileSync(join(dir, "a", "inference-log.1.jsonl"), `${JSON.stringify({ seq: 1, ...entry(0) })}\n`);
    const line = JSON.stringify({ seq: 10, ...entry(10) }).length + 1;
    const drops: number[] = [];
    const log = new InferenceLog({
      repository: dir,
      maxFileBytes: 3 * line,
      maxDiskBytes: 8 * line,
      onDrop: (_m, n) => drops.push(n),
    });
    await log.init();
    for (let i = 1; i <= 20; i++) {
      log.add(entry(i));
      await log.flush();
    }
    const files = readdirSync(join(dir, "a")).filter((f) => f.endsWith(".jsonl"));
    const bytes = files.reduce((sum, f) => sum + readFileSync(join(dir, "a", f)).length, 0);
    expect(bytes).toBeLessThanOrEqual(8 * line);
    const dropped = await log.dropped("a");
    const page = await log.readForward("a", { since: { seq: 0 }, limit: 100 });
    // Nothing lost silently: the old segment's entry and 20 new ones are either kept or counted.
    expect(page.entries.length + dropped.entries).toBe(21);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(dropped.entries);
    expect(page.entries[0]!.seq).toBe(dropped.throughSeq + 1);
    expect(page.entries.map((e) => e.requestId).at(-1)).toBe("r20");
    expect(dropped.throughTime).toBe(entry(dropped.throughSeq - 1).time);
    // Pages: limit, then `since` = the last seq read.
    const first = await log.readForward("a", { since: { seq: 0 }, limit: 2 });
    expect(first.more).toBe(true);
    const next = await log.readForward("a", { since: { seq: first.entries[1]!.seq }, limit: 100 });
    expect([...first.entries, ...next.entries]).toEqual(page.entries);
    expect(next.more).toBe(false);
    // By time: after the time of the 3rd kept entry.
    const byTime = await log.readForward("a", { since: { time: Date.parse(page.entries[2]!.time) } });
    expect(byTime.entries).toEqual(page.entries.slice(3));
    // The count survives a restart and seq continues past it.
    await log.close();
    const again = new InferenceLog({ repository: dir, maxFileBytes: 3 * line, maxDiskBytes: 8 * line });
    await again.init();
    expect(await again.dropped("a")).toEqual(dropped);
    again.add(entry(21));
    await again.close();
    const before = page.entries.at(-1)!.seq;
    const last = await again.readForward("a", { since: { seq: before } });
    expect(last.entries.map((e) => [e.seq, e.requestId])).toEqual([[before + 1, "r21"]]);
  });
});

describe("LogSampler", () => {
  it("keeps every request up to the cap per model and second, then refills", () => {
    let t = 0;
    const sampler = new LogSampler(1, 5, () => t);
    const kept = (model: string, n: number) =>
      Array.from({ length: n }, () => sampler.take(model)).filter(Boolean);
    expect(kept("a", 8)).toHaveLength(5);
    expect(kept("b", 3)).toHaveLength(3);
    t += 400; // 2 tokens back
    expect(kept("a", 8)).toHaveLength(2);
    t += 10_000; // never more than the cap
    expect(kept("a", 20)).toHaveLength(5);
  });

  it("logs nothing at rate 0 and everything without a cap", () => {
    const none = new LogSampler(0, Number.POSITIVE_INFINITY);
    const all = new LogSampler(1, Number.POSITIVE_INFINITY);
    expect(Array.from({ length: 1000 }, () => none.take("m")).some(Boolean)).toBe(false);
    expect(Array.from({ length: 1000 }, () => all.take("m")).every(Boolean)).toBe(true);
  });
});

describe("review fixes: tensors and the log's memory", () => {
  it("flattens nested data iteratively and checks it against the shape", () => {
    const sig = [{ name: "v", datatype: "FP32" as const, shape: [-1, 2] }];
    const parse = (shape: number[], data: unknown) =>
      parseInputs({ inputs: [{ name: "v", datatype: "FP32", shape, data }] }, sig);
    expect(
      Array.from(
        parse(
          [2, 2],
          [
            [1, 2],
            [3, 4],
          ],
        ).v!.data as Float32Array,
      ),
    ).toEqual([1, 2, 3, 4]);
    expect(Array.from(parse([2, 2], [1, 2, 3, 4]).v!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => parse([1, 2], deep)).toThrow(RequestError);
    expect(() => parse([1, 2], deep)).toThrow(/input "v": nested data does not match shape \[1, 2\]/);
    expect(() => parse([2, 2], [[1, 2, 3, 4]])).toThrow(/1 rows where the shape says 2/);
    expect(() => parse([2, 2], [[1, 2], [3]])).toThrow(/a list of 1 where dimension 1 needs 2/);
    expect(() => parse([2, 2], [[1, 2], 3])).toThrow(/a value where dimension 1 needs 2/);
    expect(() => parse([2, 2], [1, 2, 3])).toThrow(/has 3 elements; shape \[2, 2\] needs 4/);
  });

  it("keeps a model's entries within a byte budget, and large tensors as their first rows", () => {
    const rows = 1000;
    const big = {
      time: new Date().toISOString(),
      requestId: "r",
      model: "m",
      version: 1,
      role: "primary" as const,
      latencyMs: 1,
      inputs: [
        { name: "x", datatype: "FP32" as const, shape: [rows, 4], data: new Array(rows * 4).fill(1.5) },
      ],
      outputs: [
        { name: "y", datatype: "BYTES" as const, shape: [rows], data: new Array(rows).fill("label") },
      ],
    };
    const log = new InferenceLog({ maxBytes: 20_000 });
    for (let i = 0; i < 50; i++) log.add({ ...big, requestId: `r${i}` });
    expect(log.bytes("m")).toBeLessThanOrEqual(20_000);
    const kept = log.read("m", { limit: 1000 });
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.length).toBeLessThan(50);
    expect(kept[kept.length - 1]!.requestId).toBe("r49");
    expect(kept[0]!.inputs[0]).toMatchObject({ shape: [rows, 4], truncated: true });
    expect(kept[0]!.inputs[0]!.data).toHaveLength(400);
    expect(kept[0]!.outputs[0]!.data).toHaveLength(100);
    const small = new InferenceLog({ capacity: 3 });
    for (let i = 0; i < 5; i++) small.add({ ...big, requestId: `s${i}`, inputs: [], outputs: [] });
    expect(small.read("m", {}).map((e) => e.requestId)).toEqual(["s2", "s3", "s4"]);
  });

  it("reads the last seq from a JSONL file's tail", async () => {
    const dir = temp();
    const file = join(dir, "log.jsonl");
    expect(await lastSeq(file)).toBe(0);
    const line = (seq: number) => JSON.stringify({ seq, pad: "p".repeat(100_000) });
    writeFileSync(file, `${line(41)}\n${line(42)}\n\n`);
    expect(await lastSeq(file)).toBe(42);
    writeFileSync(file, line(7).slice(0, 5000)); // a line cut by a crash still starts with its seq
    expect(await lastSeq(file)).toBe(7);
  });
});

describe("FP16 and non-finite numbers over JSON", () => {
  // IEEE 754 binary16 bit patterns (the standard's examples: 1 = 0x3c00, the largest normal
  // 65504 = 0x7bff, the smallest subnormal 2^-24 = 0x0001, 1/3 ≈ 0x3555).
  const known: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [0.333251953125, 0x3555],
    [0, 0x0000],
    [-0, 0x8000],
    [Number.POSITIVE_INFINITY, 0x7c00],
    [Number.NEGATIVE_INFINITY, 0xfc00],
  ];
  it("converts to and from binary16 bits", () => {
    for (const [value, bits] of known) {
      expect(toHalf(value), `toHalf(${value})`).toBe(bits);
      expect(Object.is(fromHalf(bits), value), `fromHalf(0x${bits.toString(16)})`).toBe(true);
    }
    expect(toHalf(65520)).toBe(0x7c00); // halfway past the largest normal: rounds to Infinity
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalf(2 ** -25)).toBe(0); // a tie with zero rounds to even (zero)
    expect(toHalf(1e-9)).toBe(0);
    expect(Number.isNaN(fromHalf(toHalf(Number.NaN)))).toBe(true);
  });

  it("reads FP16, and NaN / Infinity written as strings, and writes them back", () => {
    const signature = [
      { name: "h", datatype: "FP16" as const, shape: [-1] },
      { name: "d", datatype: "FP64" as const, shape: [-1] },
    ];
    const feeds = parseInputs(
      {
        inputs: [
          { name: "h", datatype: "FP16", shape: [4], data: [1.5, "Infinity", null, -0.25] },
          { name: "d", datatype: "FP64", shape: [4], data: [0.1, "-Infinity", "NaN", null] },
        ],
      },
      signature,
    );
    expect(feeds.h!.type).toBe("float16");
    expect(Array.from(feeds.h!.data as Uint16Array)).toEqual([0x3e00, 0x7c00, 0x7e00, 0xb400]);
    expect(toV2("h", feeds.h!).data).toEqual([1.5, "Infinity", null, -0.25]);
    expect(toV2("d", feeds.d!).data).toEqual([0.1, "-Infinity", null, null]);
    expect(() =>
      parseInputs(
        { inputs: [{ name: "h", datatype: "FP16", shape: [1], data: ["inf"] }] },
        signature.slice(0, 1),
      ),
    ).toThrow(/input "h": element 0 is "inf", not a number \(datatype FP16\)/);
  });
});

describe("model config", () => {
  it("refuses a config that is not a JSON object, naming what it is", () => {
    for (const [value, kind] of [
      [[1], "an array"],
      [5, "a number"],
      [null, "null"],
      ["x", "a string"],
    ] as const) {
      expect(() => parseModelConfig(value, "m")).toThrow(`must be a JSON object`);
      expect(() => parseModelConfig(value, "m")).toThrow(`not ${kind}`);
    }
    expect(() => parseModelConfig({ max_batch_size: -1 }, "m")).toThrow(
      /max_batch_size" must be a non-negative integer/,
    );
    expect(() => parseModelConfig({ max_batch_size: 1.5 }, "m")).toThrow(/non-negative integer/);
    expect(() => parseModelConfig({ name: "other" }, "m")).toThrow(/names model "other", not m/);
    expect(() => parseModelConfig({ model_warmup: {} }, "m")).toThrow(/"model_warmup" must be an array/);
    const warm = (input: unknown) => ({ model_warmup: [{ name: "w", inputs: { x: input } }] });
    expect(() =>
      parseModelConfig(warm({ data_type: "TYPE_FP32", dims: [1], input_data_file: "x" }), "m"),
    ).toThrow(/input_data_file is not supported here.*use zero_data or random_data/);
    expect(() => parseModelConfig(warm({ data_type: "FP32", dims: [1], zero_data: true }), "m")).toThrow(
      /data_type "FP32" is not one of TYPE_BOOL/,
    );
    expect(() => parseModelConfig(warm({ data_type: "TYPE_FP32", dims: [1] }), "m")).toThrow(
      /needs zero_data or random_data/,
    );
    expect(
      parseModelConfig(
        { max_batch_size: "8", ...warm({ data_type: "TYPE_INT64", dims: ["2"], zero_data: true }) },
        "m",
      ),
    ).toEqual({
      maxBatchSize: 8,
      warmup: [
        {
          name: "w",
          batchSize: 0,
          count: 1,
          inputs: new Map([["x", { datatype: "INT64", dims: [2], data: "zero" }]]),
        },
      ],
    });
  });

  it("reads metadata_props from the top level of an ONNX file, as protobuf encodes it", () => {
    const initializer = { name: "w", data_type: 1, dims: [1000], float_data: new Array(1000).fill(0.5) };
    const ModelProto = modelProto();
    const bytes = ModelProto.encode(
      ModelProto.create({
        ir_version: 8,
        producer_name: "test",
        graph: { name: "g", initializer: [initializer], node: [] },
        metadata_props: [
          { key: "dagwood.signature", value: '{"inputs":[]}' },
          { key: "ünïcode", value: "välue" },
        ],
      }),
    ).finish();
    expect(onnxMetadata(bytes)).toEqual(
      new Map([
        ["dagwood.signature", '{"inputs":[]}'],
        ["ünïcode", "välue"],
      ]),
    );
    expect(onnxMetadata(bytes.subarray(0, 40))).toEqual(new Map()); // truncated: nothing, no throw
    expect(onnxMetadata(new Uint8Array([0xff, 0xff, 0xff]))).toEqual(new Map());
  });

  it("writes Triton's batching form of config.pbtxt when the model batches", () => {
    const text = configPbtxt(
      "m",
      {
        inputs: [{ name: "x", datatype: "FP32", shape: [-1, 3] }],
        outputs: [{ name: "label", datatype: "BYTES", shape: [-1] }],
      },
      16,
    );
    expect(text).toBe(
      [
        'name: "m"',
        'platform: "onnxruntime_onnx"',
        "max_batch_size: 16",
        "dynamic_batching { }",
        "input [",
        '  {\n    name: "x"\n    data_type: TYPE_FP32\n    dims: [ 3 ]\n  }',
        "]",
        "output [",
        '  {\n    name: "label"\n    data_type: TYPE_STRING\n    dims: [ 1 ]\n    reshape: { shape: [ ] }\n  }',
        "]",
        "",
      ].join("\n"),
    );
  });
});
