import { focusNode } from "../graph/focus";
import { useRun } from "../store/run";
import { VirtualRows } from "./VirtualRows";

const time = (at: number) => new Date(at).toLocaleTimeString(undefined, { hour12: false });

/** The run's events as they come: time, node, message (node logs and how each node finished). */
export function RunLog() {
  const log = useRun((s) => s.log);
  const clear = useRun((s) => s.clearLog);
  return (
    <div className="run-log" data-testid="run-log">
      {log.length === 0 ? (
        <p className="muted panel-empty">No runs yet. Press Run (Ctrl+Enter) to run the pipeline.</p>
      ) : (
        <>
          <button type="button" className="link-button run-log-clear" onClick={clear}>
            Clear
          </button>
          <VirtualRows
            count={log.length}
            rowHeight={22}
            followTail
            className="log-rows"
            renderRow={(i) => {
              const e = log[i]!;
              return (
                <div className={`log-line level-${e.level}`} title={e.message}>
                  <span className="log-time mono">{time(e.at)}</span>
                  {e.nodeId ? (
                    <button type="button" className="log-node mono" onClick={() => focusNode(e.nodeId!)}>
                      {e.nodeId}
                    </button>
                  ) : (
                    <span className="log-node mono muted">run</span>
                  )}
                  <span className="log-message">{e.message}</span>
                </div>
              );
            }}
          />
        </>
      )}
    </div>
  );
}
