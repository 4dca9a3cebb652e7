// End-to-end test of `quill serve` in a real browser: Debian's chromium driven by playwright-core (never a
// downloaded browser). Replays real MNIST test digits on the page's canvas as mouse strokes (a raster scan
// of each digit's ink: one pen stroke per run of ink pixels in a row), reads the top-1 answer the page
// shows after the last stroke, and passes when at least --min of --count digits are right. Then draws a
// three-digit word in Word mode and reports what was read. Before the first stroke and after Clear, the
// 28x28 panel must be an empty frame of its size, with no image shown broken. Saves screenshots into --out.
//
//   node draw.mjs --url http://127.0.0.1:PORT/ --mnist DIR [--count 10] [--min 8] [--first 0] [--out DIR]
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

function args() {
  const a = { count: 10, min: 8, first: 0, out: "/tmp/quill-e2e", browser: "/usr/bin/chromium" };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    if (!(key in a) && !["url", "mnist"].includes(key)) throw new Error(`unknown option ${argv[i]}`);
    a[key] = ["count", "min", "first"].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!a.url || !a.mnist) throw new Error("usage: node draw.mjs --url URL --mnist DIR [--count N] [--min K] [--out DIR]");
  return a;
}

// IDX files, gzipped or not.
function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const magic = buf.readUInt32BE(0);
  const dims = magic & 0xff;
  const shape = [];
  for (let d = 0; d < dims; ++d) shape.push(buf.readUInt32BE(4 + 4 * d));
  return { shape, data: buf.subarray(4 + 4 * dims) };
}

// Strokes of one 28x28 digit: horizontal runs of ink, in canvas coordinates (box: x0, y0, size).
function rasterStrokes(pixels, box, threshold = 128) {
  const cell = box.size / 28;
  const strokes = [];
  for (let y = 0; y < 28; ++y) {
    let x = 0;
    while (x < 28) {
      if (pixels[y * 28 + x] < threshold) { ++x; continue; }
      const start = x;
      while (x < 28 && pixels[y * 28 + x] >= threshold) ++x;
      const cy = box.y0 + (y + 0.5) * cell;
      strokes.push([[box.x0 + (start + 0.5) * cell, cy], [box.x0 + (x - 0.5) * cell, cy]]);
    }
  }
  return strokes;
}

async function drawStrokes(page, canvas, strokes) {
  const r = await canvas.boundingBox();
  for (const [[x0, y0], [x1, y1]] of strokes) {
    await page.mouse.move(r.x + x0, r.y + y0);
    await page.mouse.down();
    await page.mouse.move(r.x + x1, r.y + y1, { steps: Math.max(2, Math.round(Math.abs(x1 - x0) / 6)) });
    await page.mouse.up();
  }
}

// Images shown without a picture to show (a broken-image icon with its alt text), by id or alt.
async function brokenImages(page) {
  return page.evaluate(() => [...document.images]
    .filter((img) => img.getClientRects().length && getComputedStyle(img).visibility !== "hidden" &&
                     !(img.complete && img.naturalWidth > 0))
    .map((img) => img.id || img.alt));
}

// Before the first answer (and after Clear) the 28x28 panel is an empty frame of its full size.
async function checkEmptyInputFrame(page, when) {
  const broken = await brokenImages(page);
  const element = await page.$("#input28-frame");
  const frame = element ? await element.boundingBox() : null;
  const ok = broken.length === 0 && frame !== null && frame.width === 168 && frame.height === 168;
  console.log(`${when}: ${ok ? "ok" : "WRONG"}: the 28x28 panel is ${frame ? `a ${frame.width}x${frame.height} frame` : "no frame"}` +
              (broken.length ? `, images shown broken: ${broken.join(", ")}` : ""));
  return ok;
}

// Waits until the page has an answer for every stroke drawn so far.
async function settled(page) {
  await page.waitForFunction(() => window.quill && !window.quill.busy && window.quill.answered === window.quill.strokes,
                             null, { timeout: 30000 });
}

async function main() {
  const a = args();
  fs.mkdirSync(a.out, { recursive: true });
  const images = readIdx(path.join(a.mnist, "t10k-images-idx3-ubyte.gz"));
  const labels = readIdx(path.join(a.mnist, "t10k-labels-idx1-ubyte.gz"));
  const digit = (i) => images.data.subarray(i * 784, (i + 1) * 784);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "quill-e2e-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: a.browser,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const origin = new URL(a.url).origin;
  const external = [];
  // Nothing but the quill server may be reached: the page must be self-contained.
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith("data:")) return route.continue();
    external.push(u);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  let failed = false;
  try {
    await page.goto(a.url);
    await page.waitForFunction(() => !document.getElementById("info").textContent.startsWith("loading"));
    const canvas = page.locator("#pad");
    const startShot = path.join(a.out, "serve-e2e-start.png");
    await page.screenshot({ path: startShot, fullPage: true });
    if (!(await checkEmptyInputFrame(page, `before the first stroke (screenshot ${startShot})`))) failed = true;

    // Single characters.
    let right = 0;
    const results = [];
    for (let k = 0; k < a.count; ++k) {
      const i = a.first + k;
      await page.click("#clear");
      await drawStrokes(page, canvas, rasterStrokes(digit(i), { x0: 28, y0: 28, size: 224 }));
      await settled(page);
      const answer = (await page.textContent("#answer")).trim();
      const status = (await page.textContent("#status")).trim();
      const ok = answer === String(labels.data[i]);
      right += ok;
      results.push({ index: i, label: labels.data[i], answer, ok });
      console.log(`digit #${i}: label ${labels.data[i]}, page says ${answer || "(nothing)"} ${ok ? "ok" : "WRONG"}  [${status}]`);
    }
    const shot = path.join(a.out, "serve-e2e.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`characters: ${right} of ${a.count} right (need ${a.min}); screenshot ${shot}`);
    if (right < a.min) failed = true;
    await page.click("#clear");
    if (!(await checkEmptyInputFrame(page, "after Clear"))) failed = true;

    // A word: three digits side by side in Word mode, read through segmentation.
    await page.click("#mode-word");
    const word = [a.first + 0, a.first + 1, a.first + 2];
    const expected = word.map((i) => String(labels.data[i])).join("");
    for (let k = 0; k < word.length; ++k)
      await drawStrokes(page, canvas, rasterStrokes(digit(word[k]), { x0: 40 + k * 260, y0: 28, size: 224 }));
    await settled(page);
    const read = (await page.textContent("#word-text")).trim();
    const wordShot = path.join(a.out, "serve-e2e-word.png");
    await page.screenshot({ path: wordShot, fullPage: true });
    console.log(`word: expected ${expected}, page read ${read || "(nothing)"} ${read === expected ? "ok" : "WRONG"}; screenshot ${wordShot}`);
    fs.writeFileSync(path.join(a.out, "serve-e2e.json"),
                     JSON.stringify({ right, count: a.count, min: a.min, results, word: { expected, read } }, null, 2));

    if (external.length) { console.log(`FAIL: the page tried to reach ${external.join(", ")}`); failed = true; }
    if (pageErrors.length) { console.log(`FAIL: page errors: ${pageErrors.join("; ")}`); failed = true; }
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(failed ? "e2e: FAIL" : "e2e: PASS");
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(`e2e: error: ${e.stack || e}`); process.exit(2); });
