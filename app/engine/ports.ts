import type { PortType } from "../api/port-types";

// The table of port types lives with the Api, where the editor can use it too.
export { PORT_TYPES, type PortType, portsCompatible } from "../api/port-types";

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

/** JSON metrics, curves and tables that the UI charts. */
export interface ReportValue {
  type: "report";
  data: unknown;
  fingerprint: string;
}

/** Values of the port types that later issues fill in (model, registry, deploy). */
export interface OpaqueValue {
  type: "model" | "modelVersion" | "deployment";
  data: unknown;
  fingerprint: string;
}

export type PortValue = TableValue | ReportValue | OpaqueValue;

/**
 * What a block returns for each output port. A table output names the
 * workspace table the block created (via ctx.newTable); the engine describes
 * and fingerprints it. Other outputs carry JSON data.
 */
export type BlockOutput =
  | { type: "table"; name: string }
  | { type: "report"; data: unknown }
  | { type: "model" | "modelVersion" | "deployment"; data: unknown };
