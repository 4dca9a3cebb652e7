// CPU inference throughput and latency of an ONNX model in ONNX Runtime (onnxruntime-node), for
// bench/inference_compare.sh: forward calls at --batch (images/s of each call) and calls of one image (ms of
// each), after warm-up, as `quill bench --inference` times Quill. One session, CPU execution provider,
// --threads intra-op threads, sequential execution, all graph optimizations; only "probabilities" is fetched.
// Each call is timed around `await session.run(...)`, so the figures include the Node binding's call overhead.
// Usage: node bench_onnx.mjs MODEL.onnx IMAGES.f32 --threads T [--batch 256] [--warmup 3] [--repeats 20]
//          [--latency-warmup 20] [--latency-calls 200] [--probabilities OUT.f32] [--json OUT.json]
// IMAGES.f32 holds N x 1 x 28 x 28 little-endian float32 images, cycled to fill the batch.
// `npm ci --ignore-scripts` in this folder installs the runtime.
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const [model, images] = args;
const opt = { threads: 0, batch: 256, warmup: 3, repeats: 20, 'latency-warmup': 20, 'latency-calls': 200 };
for (let i = 2; i < args.length; i += 2) {
  const name = args[i].replace(/^--/, '');
  if (!(name in opt) && name !== 'probabilities' && name !== 'json') {
    console.error(`bench_onnx.mjs: unknown option ${args[i]}`);
    process.exit(2);
  }
  opt[name] = name === 'probabilities' || name === 'json' ? args[i + 1] : Number(args[i + 1]);
}
if (!model || !images || !(opt.threads > 0)) {
  console.error('usage: node bench_onnx.mjs MODEL.onnx IMAGES.f32 --threads T [--batch 256] ...');
  process.exit(2);
}
const bytes = readFileSync(images);
const pixels = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const image = 28 * 28;
const count = pixels.length / image;
if (!Number.isInteger(count) || count < 1) {
  console.error(`${images}: ${pixels.length} floats are not whole 1 x 28 x 28 images`);
  process.exit(2);
}
const batch = new Float32Array(opt.batch * image);
for (let i = 0; i < opt.batch; ++i) batch.set(pixels.subarray((i % count) * image, (i % count + 1) * image), i * image);

const session = await ort.InferenceSession.create(model, {
  executionProviders: ['cpu'],
  intraOpNumThreads: opt.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const big = { image: new ort.Tensor('float32', batch, [opt.batch, 1, 28, 28]) };
const singles = [];
for (let i = 0; i < opt.batch; ++i)
  singles.push({ image: new ort.Tensor('float32', batch.subarray(i * image, (i + 1) * image), [1, 1, 28, 28]) });
const fetches = ['probabilities'];

if (opt.probabilities) {
  const out = await session.run(big, fetches);
  const p = out.probabilities.data;
  writeFileSync(opt.probabilities, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
}
for (let i = 0; i < opt.warmup; ++i) await session.run(big, fetches);
const batchMs = [];
for (let i = 0; i < opt.repeats; ++i) {
  const t0 = performance.now();
  await session.run(big, fetches);
  batchMs.push(performance.now() - t0);
}
for (let i = 0; i < opt['latency-warmup']; ++i) await session.run(singles[i % singles.length], fetches);
const latencyMs = [];
for (let i = 0; i < opt['latency-calls']; ++i) {
  const feeds = singles[i % singles.length];
  const t0 = performance.now();
  await session.run(feeds, fetches);
  latencyMs.push(performance.now() - t0);
}

const version = createRequire(import.meta.url)('onnxruntime-node/package.json').version;
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const result = {
  engine: 'onnxruntime', version, threads: opt.threads, batch: opt.batch,
  timing: 'performance.now() around each await session.run (onnxruntime-node, CPU execution provider)',
  images_per_second: { runs: batchMs.map((ms) => opt.batch / (ms * 1e-3)) },
  batch_ms: { runs: batchMs },
  latency_ms: { runs: latencyMs },
};
if (opt.json) writeFileSync(opt.json, JSON.stringify(result, null, 1) + '\n');
console.log(`onnxruntime ${version}, ${opt.threads} threads: batch ${opt.batch} median ` +
            `${(opt.batch / (median(batchMs) * 1e-3)).toFixed(1)} images/s; batch 1 median ${median(latencyMs).toFixed(3)} ms`);
