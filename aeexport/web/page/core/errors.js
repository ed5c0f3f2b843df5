/**
 * Every failure a bundle consumer (Node or the page) reports on purpose. `code` says which check failed:
 *
 * | code                 | exit | meaning |
 * | -------------------- | ---- | ------- |
 * | `NOT_FOUND`          | 2    | bundle directory, manifest, a listed file or the input is missing |
 * | `INVALID_INPUT`      | 2    | input rows of the wrong size, NaN/Inf, unreadable file, bad option |
 * | `MANIFEST`           | 1    | manifest.json is not JSON or lacks a field |
 * | `UNSUPPORTED_FORMAT` | 1    | format_version this reader does not know (newer bundle) |
 * | `INTEGRITY`          | 1    | a file's sha256 or a graph's graph_sha256 differs from the record |
 * | `MIXED_BUNDLE`       | 1    | graphs from different exports (bundle_id / partner graph_sha256) |
 * | `METADATA`           | 1    | a graph's aeexport.* metadata contradicts the manifest (threshold, kind, shapes, ...) |
 * | `UNSAFE`             | 1    | a graph holds what aeexport never writes (op outside the allow-list, subgraph, function, custom domain, external data, lying shape), or a listed file is not a regular file inside the bundle |
 * | `GOLDEN`             | 1    | a golden vector is not reproduced within the tolerance |
 */
export class AeBundleError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'AeBundleError';
    this.code = code;
    this.exitCode = code === 'NOT_FOUND' || code === 'INVALID_INPUT' ? 2 : 1;
  }
}
