/** A modal question with Confirm / Cancel; Escape or a click outside cancels. */
import type { ReactNode } from "react";
import { useFocusTrap } from "./useFocusTrap";

export function ConfirmDialog({
  title,
  question,
  children,
  confirmLabel = "Confirm",
  danger = false,
  busy = false,
  disabled = false,
  testId = "confirm-dialog",
  onConfirm,
  onCancel,
}: {
  title: string;
  question: ReactNode;
  children?: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  busy?: boolean;
  disabled?: boolean;
  testId?: string;
  onConfirm(): void;
  onCancel(): void;
}) {
  const trap = useFocusTrap<HTMLDivElement>();
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop cancels
    <div
      className="overlay"
      role="presentation"
      onMouseDown={(e) => e.target === e.currentTarget && onCancel()}
      onKeyDown={(e) => e.key === "Escape" && onCancel()}
    >
      <div
        ref={trap}
        className="dialog confirm-dialog"
        data-testid={testId}
        role="dialog"
        aria-modal
        aria-label={title}
      >
        <h2>{title}</h2>
        {children}
        <p className="confirm-question" data-testid="confirm-question">
          {question}
        </p>
        <div className="dialog-buttons">
          <button type="button" className="button" data-testid="cancel" onClick={onCancel}>
            Cancel
          </button>
          <button
            type="button"
            // biome-ignore lint/a11y/noAutofocus: the dialog asks one question; Enter answers it
            autoFocus={!children}
            className={`button ${danger ? "danger" : "primary"}`}
            data-testid="confirm"
            disabled={busy || disabled}
            onClick={onConfirm}
          >
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
