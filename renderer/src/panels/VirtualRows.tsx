/** A scrolling list that renders only the rows in view (fixed row height): thousands of rows stay cheap. */
import { type ReactNode, useEffect, useLayoutEffect, useRef, useState } from "react";

interface VirtualRowsProps {
  count: number;
  rowHeight: number;
  renderRow(index: number): ReactNode;
  /** Rendered above the rows inside the scroller (sticky headers). */
  header?: ReactNode;
  headerHeight?: number;
  className?: string;
  /** Keep the view at the bottom while it is there and rows are added (a log). */
  followTail?: boolean;
  testId?: string;
  width?: number;
}

const OVERSCAN = 8;

export function VirtualRows({
  count,
  rowHeight,
  renderRow,
  header,
  headerHeight = 0,
  className,
  followTail,
  testId,
  width,
}: VirtualRowsProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 400 });
  const atBottom = useRef(true);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const el = scroller.current;
    if (followTail && el && atBottom.current && count > 0) el.scrollTop = el.scrollHeight;
  }, [count, followTail]);

  const first = Math.max(0, Math.floor((view.top - headerHeight) / rowHeight) - OVERSCAN);
  const last = Math.min(count, Math.ceil((view.top + view.height) / rowHeight) + OVERSCAN);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} className="vrow" style={{ top: i * rowHeight, height: rowHeight }}>
        {renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      ref={scroller}
      className={`vscroll ${className ?? ""}`}
      data-testid={testId}
      onScroll={(e) => {
        const el = e.currentTarget;
        atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight;
        setView({ top: el.scrollTop, height: el.clientHeight });
      }}
    >
      {header}
      <div className="vbody" style={{ height: count * rowHeight, width }}>
        {rows}
      </div>
    </div>
  );
}
