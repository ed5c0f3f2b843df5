/**
 * The browser's host adapter of the bundle core (./core/): bytes by fetch, sha256 by WebCrypto,
 * sessions by onnxruntime-web's wasm backend. Everything else is the core, shared with Node.
 *
 *   import * as ort from './ort/ort.wasm.min.mjs';
 *   const bundle = await loadBundle(ort, new URL('bundle/', location.href));
 *
 * Every graph is fetched, hashed and checked before any InferenceSession is created: a
 * modified bundle is refused, never run. Golden vectors are fetched (and hashed) when checked.
 */

import { AeBundleError } from './core/errors.js';
import { loadBundle as loadWithHost } from './core/bundle.js';

/** Lowercase hex sha256 of bytes, with WebCrypto. */
export async function sha256(bytes) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new AeBundleError('INTEGRITY', 'WebCrypto (crypto.subtle) is not available, so the bundle cannot be verified: '
      + 'browsers offer it only in a secure context. Open the page over https://, or from http://localhost or http://127.0.0.1.');
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetch a URL as bytes; a clear error for a missing file or a blocked (CORS) request. */
async function fetchBytes(url, what) {
  let res;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new AeBundleError('NOT_FOUND', `cannot fetch ${what} from ${url} (${e.message}): the server is unreachable, or it refused `
      + 'a cross-origin request (serve the bundle from the same origin as the page, or send Access-Control-Allow-Origin).');
  }
  if (!res.ok) {
    throw new AeBundleError('NOT_FOUND', `${what} ${url} answered HTTP ${res.status} ${res.statusText}; copy the complete bundle directory next to the page (aeexport web BUNDLE --out SITE does).`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

/** The host of a bundle served at `base` (a directory URL). */
export function fetchHost(base) {
  base = new URL(base, globalThis.location ? globalThis.location.href : undefined);
  if (!base.pathname.endsWith('/')) base = new URL(base.pathname + '/', base);
  return {
    runtime: 'onnxruntime-web',
    where: base.href,
    updateHint: 'Rebuild the site with a matching aeexport.',
    sessionOptions: { executionProviders: ['wasm'] },
    readManifest: () => fetchBytes(new URL('manifest.json', base), 'manifest.json'),
    read: (rel, what) => fetchBytes(new URL(rel.split('/').map(encodeURIComponent).join('/'), base), what),
    sha256,
  };
}

/**
 * Open the bundle served at `base` with onnxruntime-web (see core/bundle.js loadBundle).
 * @param ort the onnxruntime-web module
 * @param {URL|string} base bundle directory URL
 * @param {{onStep?: (text: string) => void, sessionOptions?: object, threshold?: number}} [opts]
 */
export function loadBundle(ort, base, opts = {}) {
  return loadWithHost(ort, fetchHost(base), opts);
}
