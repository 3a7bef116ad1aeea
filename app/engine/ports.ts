import type { DataPortType, PortData, PortType } from "../values/port-types";
import type { ColumnTag, PersonalDataUse } from "../values/privacy";

export {
  type DataPortType,
  PORT_TYPES,
  type PortData,
  type PortType,
  portsCompatible,
  type Report,
} from "../values/port-types";

export interface PortSpec {
  type: PortType;
  /** An optional input may be left unconnected. Outputs ignore this. */
  optional?: boolean;
  description?: string;
}

export interface ColumnInfo {
  name: string;
  /** DuckDB type name, e.g. BIGINT, DOUBLE, VARCHAR, TIMESTAMP. */
  type: string;
  /**
   * The column's tags (pii, sensitive, the user's own) with where each came
   * from (app/privacy/tags.ts): set at an ingest node, carried by the engine
   * to the columns derived from it. Absent when the column has none.
   */
  tags?: ColumnTag[];
}

/** A table in the project's DuckDB workspace. */
export interface TableValue {
  type: "table";
  /** Unquoted table name in the workspace. */
  name: string;
  columns: ColumnInfo[];
  rows: number;
  /** Content fingerprint: order-insensitive, duplicate-sensitive. */
  fingerprint: string;
}

/** A JSON value on a port of type `T` (report, model, modelVersion, deployment); see app/values. */
export interface DataValue<T extends DataPortType = DataPortType> {
  type: T;
  data: PortData[T];
  fingerprint: string;
  /**
   * A model trained on tagged columns (app/privacy/tags.ts): its inputs that carry tags. Part of
   * the fingerprint when present (app/engine/execute.ts dataFingerprint), so tagging a column the
   * model reads makes it another version when registered, one that records the use.
   */
  personalData?: PersonalDataUse[];
}

/** A report, a model, a version reference, a deployment record: one member per port type. */
export type AnyDataValue = { [T in DataPortType]: DataValue<T> }[DataPortType];
export type ReportValue = DataValue<"report">;
export type ModelValue = DataValue<"model">;

export type PortValue = TableValue | AnyDataValue;

/**
 * What a block returns for each output port. A table output names the
 * workspace table the block created (via ctx.newTable); the engine describes
 * and fingerprints it. Other outputs carry their port type's JSON value.
 */
export type BlockOutput =
  | {
      type: "table";
      name: string;
      /** Tags this block sets on its output's columns (ingest: from dagwood.json and its `columnTags` param). */
      tags?: Record<string, ColumnTag[]>;
    }
  | { [T in DataPortType]: { type: T; data: PortData[T] } }[DataPortType];
