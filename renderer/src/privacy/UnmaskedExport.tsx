/**
 * An export the core refused because the model files hold personal values
 * that cannot be masked (a personal text input's fitted categories): the
 * app asks whether to export them in clear, and the core records the answer
 * in the audit log (app/privacy/masking.ts).
 */
import { type ReactNode, useState } from "react";
import { ApiCallError } from "../api/client";
import { messageOf } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";

/** What an unmasked export sends: both, or neither. */
export type UnmaskArgs = { unmasked?: true; confirm?: true };

/** The core's refusal of a masked export (403, "cannot be masked"). */
export function isMaskRefusal(error: unknown): boolean {
  return error instanceof ApiCallError && error.status === 403 && error.message.includes("cannot be masked");
}

/**
 * `attempt(run, onError)` runs an export masked; when the core refuses it for
 * personal data, `dialog` asks, and a confirmed answer runs it again in clear.
 */
export function useUnmaskedExport(): {
  attempt(run: (unmask: UnmaskArgs) => Promise<void>, onError: (e: unknown) => void): Promise<void>;
  dialog: ReactNode;
} {
  const [pending, setPending] = useState<{
    message: string;
    retry: () => Promise<void>;
  } | null>(null);
  const attempt = async (run: (unmask: UnmaskArgs) => Promise<void>, onError: (e: unknown) => void) => {
    try {
      await run({});
    } catch (e) {
      if (!isMaskRefusal(e)) return onError(e);
      setPending({
        message: messageOf(e),
        retry: () => run({ unmasked: true, confirm: true }).catch(onError),
      });
    }
  };
  const dialog = pending && (
    <ConfirmDialog
      title="Export personal data in clear"
      testId="unmask-export-dialog"
      question="Export it with these values in clear? The export is recorded in the project's audit log."
      confirmLabel="Export in clear"
      danger
      onConfirm={() => {
        const { retry } = pending;
        setPending(null);
        void retry();
      }}
      onCancel={() => setPending(null)}
    >
      <p className="small">{pending.message}</p>
    </ConfirmDialog>
  );
  return { attempt, dialog };
}
