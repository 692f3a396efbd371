// app-img://photo/<id>?size=thumb|full — photos reach the window through this scheme, never as
// bytes over IPC. Only photos the library knows, by id (see images.ts).
import { protocol } from 'electron';
import type { Library } from '../../db/index';
import { IMAGE_SCHEME } from '../../preload/contract';
import { imageTargetFromUrl, readImage } from '../app/images';


/** Must run before app 'ready'. */
export function registerImageScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: IMAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } }]);
}

/** Serves app-img:// from the library; call after 'ready'. */
export function handleImageScheme(getLib: () => Library): void {
  protocol.handle(IMAGE_SCHEME, async (request) => {
    const target = request.method === 'GET' ? imageTargetFromUrl(request.url) : null;
    if (!target) return new Response('bad image address', { status: 400 });
    const r = await readImage(getLib(), target);
    return new Response(new Uint8Array(r.body), { status: r.status, headers: r.headers });
  });
}
