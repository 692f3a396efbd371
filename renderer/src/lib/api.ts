// The one typed client of the contract (preload/contract.ts), and the only code that touches
// window.api or HTTP. Under Electron the preload exposes window.api (IPC); in browser mode the same
// calls go as POST /api/<channel> with the JSON request, events arrive as server-sent events from
// /api/events, and the token comes from the page's address (?token=...).
//
//   const ds = await api.call('datasets:list', {});          // throws AppError on { ok: false }
//   const off = api.on('run:progress', (p) => ...);           // off() unsubscribes
import {
  API_GLOBAL,
  AppError,
  ERROR_TEXT,
  EVENTS,
  type AlexNetApi,
  type AppErrorPayload,
  type Channel,
  type ErrorCode,
  type EventName,
  type Events,
  type Reply,
  type Req,
  type Res,
  type Unsubscribe,
} from '../../../preload/contract';

// An error answered by the app (or the transport), with its code and a one-line message: the
// contract's AppError, the one main throws too.
export { AppError };

const CODES = new Set<string>(Object.keys(ERROR_TEXT));

/** Anything thrown -> an AppError (a transport failure is INTERNAL with its words). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (typeof err === 'object' && err !== null && 'code' in err && 'message' in err) {
    const { code, message } = err as { code: unknown; message: unknown };
    if (typeof code === 'string' && CODES.has(code)) return new AppError(code as ErrorCode, String(message));
  }
  return new AppError('INTERNAL', err instanceof Error ? err.message : String(err));
}

// -------------------------------------------------------------------------------------------------
// Browser mode: HTTP + server-sent events

/**
 * The token from the page's address (?token=), remembered for the tab so reloads keep working, and
 * taken out of the address bar at once (no history entry, bookmark or screen share shows it).
 */
export function pageToken(loc: Pick<Location, 'search'> = location): string | null {
  const params = new URLSearchParams(loc.search);
  const fromUrl = params.get('token');
  if (fromUrl && typeof history !== 'undefined' && loc === location) {
    params.delete('token');
    const rest = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  }
  try {
    if (fromUrl) sessionStorage.setItem('alexnet-token', fromUrl);
    return fromUrl ?? sessionStorage.getItem('alexnet-token');
  } catch {
    return fromUrl; // storage disabled
  }
}

/** The contract over HTTP: same shape as window.api. */
export function httpApi(base = '', token: string | null = pageToken()): AlexNetApi {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let source: EventSource | null = null;
  const listeners = new Map<EventName, Set<(p: never) => void>>();

  const connect = () => {
    if (source) return;
    // EventSource cannot send headers: the token goes in the query (the server accepts it there for
    // the event stream only)
    const q = token ? `?token=${encodeURIComponent(token)}` : '';
    source = new EventSource(`${base}/api/events${q}`);
    for (const name of EVENTS) {
      source.addEventListener(name, (e) => {
        const set = listeners.get(name);
        if (!set || set.size === 0) return;
        let payload: unknown;
        try {
          payload = JSON.parse((e as MessageEvent<string>).data);
        } catch {
          return;
        }
        for (const l of [...set]) l(payload as never);
      });
    }
  };

  return {
    async invoke<C extends Channel>(channel: C, req: Req<C>): Promise<Reply<Res<C>>> {
      let res: Response;
      try {
        res = await fetch(`${base}/api/${channel}`, { method: 'POST', headers, body: JSON.stringify(req), credentials: 'omit' });
      } catch (err) {
        return { ok: false, error: { code: 'INTERNAL', message: `the app's server cannot be reached (${err instanceof Error ? err.message : String(err)})` } };
      }
      let body: unknown;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      if (typeof body === 'object' && body !== null && 'ok' in body) return body as Reply<Res<C>>;
      const code: ErrorCode = res.status === 401 ? 'FORBIDDEN' : res.status === 404 ? 'NOT_FOUND' : 'INTERNAL';
      return { ok: false, error: { code, message: res.status === 401 ? 'the page has no valid token: open it with the address the server printed' : `the server answered ${res.status}` } };
    },
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): Unsubscribe {
      connect();
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const l = listener as (p: never) => void;
      set.add(l);
      return () => set.delete(l);
    },
  };
}

// -------------------------------------------------------------------------------------------------
// The client the app uses

/** Every transport's shape, plus call() which unwraps replies into values or AppError. */
export class Api {
  constructor(readonly raw: AlexNetApi) {}

  /** Calls `channel`; resolves to its value or throws AppError. */
  async call<C extends Channel>(channel: C, req: Req<C>): Promise<Res<C>> {
    let reply: Reply<Res<C>>;
    try {
      reply = await this.raw.invoke(channel, req);
    } catch (err) {
      throw toAppError(err);
    }
    if (reply.ok) return reply.value;
    throw toAppError(reply.error satisfies AppErrorPayload);
  }

  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): Unsubscribe {
    return this.raw.on(event, listener);
  }
}

type WithApi = { [API_GLOBAL]?: AlexNetApi };

/** IPC when the preload exposed window.api, HTTP otherwise. */
export function detectApi(): Api {
  const w = globalThis as unknown as WithApi;
  return new Api(w[API_GLOBAL] ?? httpApi());
}

/** Absolute paths of dropped/chosen files where the platform tells them (Electron), else null. */
export function pathsOf(files: File[]): string[] | null {
  const w = globalThis as unknown as WithApi;
  const fn = w[API_GLOBAL]?.pathForFile;
  if (!fn) return null;
  const paths = files.map((f) => fn(f)).filter((p) => p.length > 0);
  return paths.length ? paths : null;
}

/**
 * Browser mode only: copies dropped/chosen files to the server (a browser does not tell the page
 * where a file lives) and answers the absolute paths it stored them under, for classify:files and
 * photos:add. POST /upload?name=<file name> with the bytes as body -> Reply<{ path }>.
 */
export async function uploadFiles(files: File[], base = '', token: string | null = pageToken()): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    const headers: Record<string, string> = { 'content-type': f.type || 'application/octet-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetch(`${base}/upload?name=${encodeURIComponent(f.name)}`, { method: 'POST', headers, body: f, credentials: 'omit' });
    } catch (err) {
      throw new AppError('INTERNAL', `the app's server cannot be reached (${err instanceof Error ? err.message : String(err)})`);
    }
    if (res.status === 404) throw new AppError('UNSUPPORTED', 'this server cannot receive files: type the file paths instead');
    const body = (await res.json().catch(() => null)) as Reply<{ path: string }> | null;
    if (!body) throw new AppError('INTERNAL', `the server answered ${res.status}`);
    if (!body.ok) throw toAppError(body.error);
    out.push(body.value.path);
  }
  return out;
}

/** Paths for dropped/chosen files: from Electron directly, else uploaded to browser mode's server. */
export async function filesToPaths(files: File[]): Promise<string[]> {
  return pathsOf(files) ?? (await uploadFiles(files));
}

/** '{id}' templates from app:info -> a photo's image address. */
export function imageUrl(template: string, photoId: number): string {
  return template.replace('{id}', String(photoId));
}
