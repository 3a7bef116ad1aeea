import { create } from "zustand";

export interface Toast {
  id: number;
  kind: "error" | "info";
  message: string;
}

interface ToastState {
  toasts: Toast[];
  show(message: string, kind?: Toast["kind"]): void;
  dismiss(id: number): void;
}

let nextId = 1;
const LIFETIME_MS = { error: 7000, info: 3500 };

export const useToasts = create<ToastState>()((set, get) => ({
  toasts: [],
  show(message, kind = "info") {
    // The same message twice in a row (a refused drag repeated) shows once.
    if (get().toasts.some((t) => t.message === message)) return;
    const id = nextId++;
    set({ toasts: [...get().toasts.slice(-3), { id, kind, message }] });
    setTimeout(() => get().dismiss(id), LIFETIME_MS[kind]);
  },
  dismiss(id) {
    set({ toasts: get().toasts.filter((t) => t.id !== id) });
  },
}));

export const toast = (message: string, kind?: Toast["kind"]) => useToasts.getState().show(message, kind);
