import { toast } from "../store/toasts";

/** The message of anything thrown: ApiCallError carries the core's message for the user. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Shows a failed call as a toast; the page carries on. */
export function reportError(error: unknown, context?: string): void {
  const message = messageOf(error);
  toast(context ? `${context}: ${message}` : message, "error");
}
