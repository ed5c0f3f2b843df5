/**
 * The one JSON reader of what a bundle holds (manifest.json, the JSON inside graph metadata):
 * aeruntime's `aeruntime.format.strictjson`, in JavaScript. JSON.parse keeps the last of two
 * equal keys (another reader may take the first) and turns 1e400 into Infinity; this refuses
 * (AeBundleError MANIFEST, naming the key or the number):
 *
 * - a key that appears twice in one object;
 * - an integer of more than MAX_INT_DIGITS digits, a number beyond the float64 range.
 * (NaN and Infinity literals are not JSON: JSON.parse refuses them already.)
 */

import { AeBundleError } from './errors.js';

/** most digits of a JSON integer (a float64 holds about 1e308) */
export const MAX_INT_DIGITS = 300;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;

/** Walk valid JSON text: the first duplicate key or out-of-range number, as a message; null when none. */
function firstProblem(text) {
  const stack = []; // per open container: a Set of keys (object) or null (array)
  let expectKey = false;
  for (let i = 0; i < text.length;) {
    const ch = text[i];
    if (ch === '{') { stack.push(new Set()); expectKey = true; i++; }
    else if (ch === '[') { stack.push(null); expectKey = false; i++; }
    else if (ch === '}' || ch === ']') { stack.pop(); expectKey = false; i++; }
    else if (ch === ',') { expectKey = stack.length > 0 && stack[stack.length - 1] !== null; i++; }
    else if (ch === '"') {
      STRING.lastIndex = i;
      const tok = STRING.exec(text)[0];
      i += tok.length;
      if (expectKey) {
        const key = JSON.parse(tok);
        const keys = stack[stack.length - 1];
        if (keys.has(key)) return `key ${JSON.stringify(key)} appears twice in one object; readers disagree on which one counts, so both are refused`;
        keys.add(key);
        expectKey = false;
      }
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      NUMBER.lastIndex = i;
      const tok = NUMBER.exec(text)[0];
      i += tok.length;
      const digits = /^-?(\d+)$/.exec(tok);
      if ((digits && digits[1].length > MAX_INT_DIGITS) || !Number.isFinite(Number(tok))) {
        const shown = tok.length <= 40 ? tok : `${tok.slice(0, 20)}...(${tok.length} characters)`;
        return `a number must be finite within the float64 range (integers of at most ${MAX_INT_DIGITS} digits), got ${shown}`;
      }
    } else i++; // blanks, ':', true/false/null
  }
  return null;
}

/**
 * Parse `text` (the contents of `where`) strictly; see the top of this file.
 * @param {string} fix what to do about it, the end of the message
 * @throws {AeBundleError} MANIFEST
 */
export function parseStrictJson(text, where, fix = 're-export the bundle.') {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new AeBundleError('MANIFEST', `${where} is not valid JSON (${e.message}); ${fix}`);
  }
  const problem = firstProblem(text);
  if (problem) throw new AeBundleError('MANIFEST', `${where}: ${problem}; ${fix}`);
  return doc;
}
