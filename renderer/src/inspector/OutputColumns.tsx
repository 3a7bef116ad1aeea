/**
 * A node's output columns with their tags (privacy, issue 19): the columns
 * as the core infers them (else only the tagged ones a run reported), each
 * tag a chip whose tooltip, or the "from…" expander, says where it came
 * from: "email_domain ← email (dataset customers)".
 */
import { useState } from "react";
import { OriginTagChips, TagOrigins } from "../data/TagChips";
import { isPersonal } from "../data/tags";
import { useRun } from "../store/run";
import { useValidation } from "../store/validation";
import { outputRows, type Row } from "./columnTags";

export function OutputColumns({ nodeId, ports }: { nodeId: string; ports: string[] }) {
  const schemas = useValidation((s) => s.schemas[nodeId]);
  const produced = useRun((s) => s.outputs[nodeId]?.outputs);
  const sections = ports
    .map((port) => ({ port, rows: outputRows(schemas?.[port]?.columns, produced?.[port]?.tags) }))
    .filter((s) => s.rows.length);
  if (!sections.length) return null;
  return (
    <>
      <h3 className="inspector-section">Output columns</h3>
      {sections.map((s) => (
        <PortColumns key={s.port} port={s.port} rows={s.rows} showPort={sections.length > 1} />
      ))}
    </>
  );
}

/** Tagged columns listed before "+N more tagged" (a wide table's every column may carry a tag). */
const TAGGED_SHOWN = 20;

function PortColumns({ port, rows, showPort }: { port: string; rows: Row[]; showPort: boolean }) {
  const [all, setAll] = useState(false);
  const [allTagged, setAllTagged] = useState(false);
  const tagged = rows.filter((r) => r.tags.length);
  const plain = rows.filter((r) => !r.tags.length);
  const personal = tagged.filter((r) => r.tags.some((t) => isPersonal(t.tag))).length;
  return (
    <div className="output-columns" data-testid={`output-columns-${port}`}>
      <div className="muted small">
        {showPort && <span className="mono">{port}: </span>}
        {rows.length} column{rows.length === 1 ? "" : "s"}
        {tagged.length > 0 && (
          <>
            {" "}
            · {tagged.length} tagged{personal ? `, ${personal} personal` : ""}
          </>
        )}
      </div>
      {(allTagged ? tagged : tagged.slice(0, TAGGED_SHOWN)).map((r) => (
        <TaggedColumn key={r.name} row={r} />
      ))}
      {tagged.length > TAGGED_SHOWN && (
        <button type="button" className="origin-toggle" onClick={() => setAllTagged(!allTagged)}>
          {allTagged ? "fewer tagged" : `+${tagged.length - TAGGED_SHOWN} more tagged`}
        </button>
      )}
      {plain.length > 0 && (
        <div className="muted small">
          {tagged.length ? "untagged: " : ""}
          {(all ? plain : plain.slice(0, 12)).map((r) => r.name).join(", ")}
          {plain.length > 12 && (
            <>
              {" "}
              <button type="button" className="origin-toggle" onClick={() => setAll(!all)}>
                {all ? "fewer" : `+${plain.length - 12} more`}
              </button>
            </>
          )}
        </div>
      )}
    </div>
  );
}

function TaggedColumn({ row }: { row: Row }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="output-column" data-testid={`output-column-${row.name}`}>
      <div className="output-column-head">
        <span className="mono" title={row.name}>
          {row.name}
        </span>
        {row.type && <span className="output-column-type mono">{row.type}</span>}
        <OriginTagChips column={row.name} tags={row.tags} />
        <button
          type="button"
          className="origin-toggle"
          data-testid={`tag-origin-toggle-${row.name}`}
          aria-expanded={open}
          aria-label={`Where the tags of ${row.name} came from`}
          onClick={() => setOpen(!open)}
        >
          {open ? "hide" : "from…"}
        </button>
      </div>
      {open && <TagOrigins column={row.name} tags={row.tags} />}
    </div>
  );
}
