// Placeholder until the embedded server and agent are wired in: only the signatures are fixed.

export async function runUp(_opts: {
  dataDir?: string;
  apiPort?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
  hosts?: number;
}): Promise<void> {
  await Promise.resolve();
  throw new Error('not wired yet');
}

export async function runDown(_opts: { dataDir?: string }): Promise<void> {
  await Promise.resolve();
  throw new Error('not wired yet');
}
