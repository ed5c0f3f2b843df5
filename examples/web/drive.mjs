#!/usr/bin/env node
/**
 * Drive the aeexport web page in headless Chromium (playwright-core) and print what it did as JSON.
 *
 *   node examples/web/drive.mjs --url http://127.0.0.1:8000/ [--csv rows.csv ...] [--draw [--shape one|zero]]
 *        [--visit URL ...] [--screenshot NAME=PATH ...] [--chromium /usr/bin/chromium] [--chromium-arg ARG ...] [--timeout 60000]
 *
 * Loads the page, waits until it has verified the bundle and run the golden vectors
 * (body[data-state] = ready | refused), then optionally scores a CSV through the file picker
 * (then clicks "Download score,label CSV" and keeps the file's text) and draws a synthetic
 * stroke on the pad. Screenshots: NAME is page (the whole page), csv, draw, series or refused (that
 * section). Several --csv files are scored in turn (csvs: each one's result; csv: the last;
 * the download is the first's). Each --visit URL (another site) is then loaded in a new page
 * of the same browser until it is ready or refused (visits: [{url, state, error}]).
 * Output: {state, error, golden, csv, csvs, draw, ort, download, visits, console, screenshots}.
 * Exit 0 whenever the page answered, 1 when it did not (timeout, crash).
 * Used by tests/e2e/web; handy by hand to check a site headless.
 */

import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

function args(argv) {
  const o = { url: null, csvs: [], visits: [], draw: false, shape: 'one', screenshots: [], chromiumArgs: [], chromium: process.env.AEWEB_CHROMIUM || '/usr/bin/chromium', timeout: 60000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') o.url = argv[++i];
    else if (a === '--csv') o.csvs.push(argv[++i]);
    else if (a === '--visit') o.visits.push(argv[++i]);
    else if (a === '--draw') o.draw = true;
    else if (a === '--shape') o.shape = argv[++i];
    else if (a === '--screenshot') {
      const [name, path] = argv[++i].split(/=(.*)/s);
      o.screenshots.push({ name, path });
    } else if (a === '--chromium') o.chromium = argv[++i];
    else if (a === '--chromium-arg') o.chromiumArgs.push(argv[++i]);
    else if (a === '--timeout') o.timeout = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url) throw new Error('--url is required');
  return o;
}

const STROKES = ['one', 'zero'];
const SECTIONS = { page: null, csv: '#csv', draw: '#draw', refused: '#refused', series: '#series' };

async function main() {
  const o = args(process.argv.slice(2));
  const browser = await chromium.launch({ executablePath: o.chromium, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', ...o.chromiumArgs] });
  const out = { console: [], screenshots: {}, download: null, csvs: [], visits: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1, acceptDownloads: true });
    page.setDefaultTimeout(o.timeout);
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') out.console.push(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => out.console.push(`pageerror: ${e.message}`));
    await page.goto(o.url);
    await page.waitForFunction(() => document.body.dataset.state !== 'loading');
    const ready = (await page.evaluate(() => document.body.dataset.state)) === 'ready';
    for (const [k, csv] of (ready ? o.csvs : []).entries()) {
      await page.evaluate(() => { delete document.body.dataset.csv; });
      await page.setInputFiles('#csv-file', csv);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.csv));
      out.csvs.push(await page.evaluate(() => window.aeweb.csv));
      if (k === 0 && (await page.evaluate(() => document.body.dataset.csv)) === 'done') {
        const button = (await page.isVisible('#series')) ? '#series-download' : '#download';
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
        out.download = { name: download.suggestedFilename(), text: await readFile(await download.path(), 'utf8') };
      }
    }
    if (o.draw && (await page.isVisible('#pad'))) {
      await page.locator('#pad').scrollIntoViewIfNeeded(); // mouse coordinates are the viewport's
      const box = await page.locator('#pad').boundingBox();
      // one synthetic stroke: a slanted "1" down the middle of the pad, or a "0" (an ellipse)
      const pts = o.shape === 'zero'
        ? Array.from({ length: 33 }, (_, k) => [0.5 + 0.3 * Math.sin((2 * Math.PI * k) / 32), 0.5 - 0.36 * Math.cos((2 * Math.PI * k) / 32)])
        : [[0.55, 0.12], [0.52, 0.35], [0.5, 0.6], [0.48, 0.88]];
      if (!STROKES.includes(o.shape)) throw new Error(`unknown --shape ${o.shape}; expected one of ${STROKES}`);
      await page.mouse.move(box.x + pts[0][0] * box.width, box.y + pts[0][1] * box.height);
      await page.mouse.down();
      for (const [px, py] of pts.slice(1)) await page.mouse.move(box.x + px * box.width, box.y + py * box.height, { steps: 8 });
      await page.mouse.up();
      await page.waitForFunction(() => document.body.dataset.draw === '1' && !document.body.dataset.drawBusy);
    }
    Object.assign(out, await page.evaluate(() => window.aeweb));
    await page.evaluate(() => window.scrollTo(0, 0));
    for (const { name, path } of o.screenshots) {
      if (!(name in SECTIONS)) throw new Error(`unknown screenshot ${name}; expected one of ${Object.keys(SECTIONS)}`);
      const sel = SECTIONS[name];
      if (sel === null) await page.screenshot({ path, fullPage: true });
      else if (await page.isVisible(sel)) await page.locator(sel).screenshot({ path });
      else continue;
      out.screenshots[name] = path;
    }
    out.refusedText = (await page.isVisible('#refused')) ? await page.locator('#refused').innerText() : null;
    for (const url of o.visits) {
      const other = await browser.newPage();
      other.setDefaultTimeout(o.timeout);
      await other.goto(url);
      await other.waitForFunction(() => document.body.dataset.state && document.body.dataset.state !== 'loading');
      const { state, error } = await other.evaluate(() => window.aeweb);
      out.visits.push({ url, state, error });
      await other.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`drive.mjs: ${e.stack || e}\n`);
  process.exit(1);
});
