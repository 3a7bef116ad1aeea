/** The line drawn while connecting; over a handle that refuses the edge it says why. */
import { type ConnectionLineComponentProps, getBezierPath } from "@xyflow/react";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { connectionProblem, proposedFromHandles } from "./connect";
import type { FlowNode } from "./toFlow";

export function ConnectionLine(props: ConnectionLineComponentProps<FlowNode>) {
  const { fromX, fromY, toX, toY, fromPosition, toPosition, connectionStatus, fromHandle, toHandle } = props;
  const [path] = getBezierPath({
    sourceX: fromX,
    sourceY: fromY,
    sourcePosition: fromPosition,
    targetX: toX,
    targetY: toY,
    targetPosition: toPosition,
  });
  const invalid = connectionStatus === "invalid";
  const doc = useEditor.getState().document;
  const proposed = invalid ? proposedFromHandles(fromHandle, toHandle) : null;
  const reason = doc && proposed ? connectionProblem(doc, useCatalog.getState().byKind, proposed) : null;
  return (
    <g className={`connection-line${invalid ? " invalid" : ""}`}>
      <path d={path} fill="none" strokeWidth={2} />
      {reason && (
        <foreignObject x={toX + 12} y={toY + 10} width={260} height={60} className="connection-reason">
          <div>{reason}</div>
        </foreignObject>
      )}
    </g>
  );
}
