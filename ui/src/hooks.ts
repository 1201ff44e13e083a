import { useEffect, useState } from 'preact/hooks';
import { get } from './api';

/** The current location hash, split into path parts and query. */
export interface Route {
  parts: string[];
  query: URLSearchParams;
}

function parse(): Route {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = h.split('?', 2) as [string, string | undefined];
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs ?? '') };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(parts: (string | number)[], query?: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}${qs ? `?${qs}` : ''}`;
}

/**
 * A counter that moves when the agent's database changes (Server-Sent Events from the server,
 * which watches PRAGMA data_version); views refetch on it. At most ~3 refreshes a second.
 */
export function useLive(key: string | undefined): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!key) return;
    const es = new EventSource(`api/events?agent=${encodeURIComponent(key)}`);
    let timer: number | undefined;
    es.addEventListener('change', () => {
      if (timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        setTick((t) => t + 1);
      }, 150);
    });
    return () => {
      es.close();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [key]);
  return tick;
}

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
}

/** Fetches url whenever it or one of deps changes; keeps the last data while reloading. */
export function useFetch<T>(url: string | undefined, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: true });
  useEffect(() => {
    if (!url) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    get<T>(url).then(
      (data) => live && setState({ data, loading: false }),
      (e: Error) => live && setState((s) => ({ data: s.data, error: e.message, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [url, ...deps]);
  return state;
}
