import { useEffect, useState } from "react";
import { messageOf, reportError } from "../services/errors";

export type Loaded<T> =
  | { status: "loading" }
  | { status: "ok"; value: T }
  | { status: "error"; message: string };

/**
 * Calls the Api when `key` changes and keeps the latest answer; an
 * older answer arriving late is dropped. An error is a toast, and is also
 * shown where the data would have been.
 */
export function useApi<T>(call: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  // biome-ignore lint/correctness/useExhaustiveDependencies: `call` is a new closure each render; `key` names what it depends on
  useEffect(() => {
    let live = true;
    setState({ status: "loading" });
    call().then(
      (value) => live && setState({ status: "ok", value }),
      (e) => {
        if (!live) return;
        setState({ status: "error", message: messageOf(e) });
        reportError(e);
      },
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state;
}

/**
 * Like useApi, but while a new answer loads it keeps showing the last one,
 * so a refresh after an edit does not blank the view.
 */
export function useApiKeepingLast<T>(call: () => Promise<T>, key: string): Loaded<T> {
  const loaded = useApi(call, key);
  const [last, setLast] = useState<T | null>(null);
  useEffect(() => {
    if (loaded.status === "ok") setLast(loaded.value);
  }, [loaded]);
  if (loaded.status === "loading" && last !== null) return { status: "ok", value: last };
  return loaded;
}
