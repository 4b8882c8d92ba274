/**
 * Milliseconds spent in each step of a VM start, logged with 'VM started' so that a slow start
 * can be taken apart without a profiler. Steps that run side by side are timed each on its own
 * (`track`), and together by the `lap` that follows them.
 */
export class StartSteps {
  readonly steps: Record<string, number> = {};
  private last = performance.now();

  /** Closes the step that ran since the previous lap (or since construction). */
  lap(step: string): void {
    const now = performance.now();
    this.steps[step] = round(now - this.last);
    this.last = now;
  }

  /** Times one of several steps running at once, from now until `work` settles. */
  track<T>(step: string, work: Promise<T>): Promise<T> {
    const started = performance.now();
    return work.finally(() => {
      this.steps[step] = round(performance.now() - started);
    });
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
