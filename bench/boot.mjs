// Boot time of the tiny guest: NovaCron (API create -> READY on the console through the API)
// against raw QEMU started by hand with an equivalent command line, in the same run.
// Usage: npm run bench:boot [-- --runs 5]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { READY, median, numberArg, rawQemuArgs, seconds, startUp, waitUntil } from './lib.mjs';

const runs = numberArg('runs', 5);

/** Raw QEMU: the peer, with the same machine, CPU model, memory and kernel as NovaCron uses. */
async function rawQemuBoot(imageDir) {
  const started = performance.now();
  const qemu = spawn('qemu-system-x86_64', rawQemuArgs(imageDir, 256), {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  const elapsed = await new Promise((resolve, reject) => {
    qemu.stdout.on('data', (chunk) => {
      output += chunk.toString();
      if (output.includes(READY)) resolve(performance.now() - started);
    });
    qemu.on('exit', () => reject(new Error('QEMU exited before READY')));
  });
  qemu.kill('SIGKILL');
  return elapsed;
}

async function main() {
  const up = await startUp();
  try {
    const { client, dataDir } = up;
    const image = (await client.images.get('tiny')).id;
    const imageDir = join(dataDir, 'images', image);

    const novacron = [];
    const raw = [];
    for (let i = 0; i < runs; i++) {
      // Alternate the two so that machine noise falls on both alike.
      raw.push(await rawQemuBoot(imageDir));
      const started = performance.now();
      const operation = await client.vms.create({
        name: `bench${i}`,
        image: 'tiny',
        memoryMiB: 256,
      });
      await client.operations.wait(operation.id, 120);
      await waitUntil(
        async () => (await client.vms.consoleOutput(`bench${i}`)).includes(READY),
        120_000,
      );
      novacron.push(performance.now() - started);
      const stop = await client.vms.action(`bench${i}`, { action: 'stop', force: true });
      await client.operations.wait(stop.id, 60);
      await client.operations.wait((await client.vms.delete(`bench${i}`, {})).id, 60);
    }
    const row = (name, xs) =>
      `| ${name} | ${seconds(median(xs))} s | ${seconds(Math.min(...xs))}-${seconds(Math.max(...xs))} s |`;
    console.log(`boot to ${READY}, tiny guest, 256 MiB, TCG, ${runs} runs each, alternating`);
    console.log('| path | median | range |');
    console.log('|---|---|---|');
    console.log(row('raw QEMU (peer)', raw));
    console.log(row('NovaCron API create -> READY via API', novacron));
    console.log(
      `ratio NovaCron / raw QEMU (medians): ${(median(novacron) / median(raw)).toFixed(2)}`,
    );
  } finally {
    await up.close();
  }
}

await main();
