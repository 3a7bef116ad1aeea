/** The edges of the read-only SVG graphs (the compared pipeline, lineage), and the arrowhead they end in. */

/** Goes once in an `<svg>`; `SvgEdge`s with the same `markerId` point with it. */
export function ArrowMarker({ id }: { id: string }) {
  return (
    <defs>
      <marker id={id} viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">
        <path d="M0,0 L8,4 L0,8 z" fill="#9aa5b1" />
      </marker>
    </defs>
  );
}

export function SvgEdge({
  d,
  markerId,
  stroke = "#b6bfca",
}: {
  d: string;
  markerId: string;
  stroke?: string;
}) {
  return <path d={d} fill="none" stroke={stroke} strokeWidth={1.5} markerEnd={`url(#${markerId})`} />;
}
