import type { ReactFlowInstance } from "@xyflow/react";
import type { FlowNode } from "./toFlow";

/** The canvas's React Flow instance, for actions that work on the view (fit, measure, place). */
export const flowRef: { current: ReactFlowInstance<FlowNode> | null } = { current: null };
