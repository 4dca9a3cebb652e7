// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on images given as a raw float32 file and
// prints its "probabilities", one line per image, each value with 9 significant digits (a float32 exactly).
// Usage: node run_onnx.mjs MODEL.onnx IMAGES.f32 COUNT  (the file holds COUNT x 1 x 28 x 28 little-endian floats)
// Used by tests/test_onnx_export.cpp; `npm ci --ignore-scripts` in this folder installs the runtime.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const [model, images, countText] = process.argv.slice(2);
const count = Number(countText);
if (!model || !images || !(count > 0)) {
  console.error('usage: node run_onnx.mjs MODEL.onnx IMAGES.f32 COUNT');
  process.exit(2);
}
const bytes = readFileSync(images);
const pixels = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
if (pixels.length !== count * 28 * 28) {
  console.error(`${images}: ${pixels.length} floats, expected ${count} x 784`);
  process.exit(2);
}
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
const result = await session.run({ image: new ort.Tensor('float32', pixels, [count, 1, 28, 28]) });
const probs = result.probabilities;
const classes = probs.dims[1];
const lines = [];
for (let i = 0; i < count; ++i) {
  const row = [];
  for (let c = 0; c < classes; ++c) row.push(probs.data[i * classes + c].toPrecision(9));
  lines.push(row.join(' '));
}
process.stdout.write(lines.join('\n') + '\n');
