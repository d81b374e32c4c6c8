// Work that a burst of changes asks for many times, done once: never two runs at once, and the
// asks that come while it runs (or soon after) make one more run. Runs start no sooner than
// twice the last run's duration after it began (at least `minGapMs`): a datastore writing
// thousands of objects a second (the assignment placing 5,000 nodes) costs a reflector a third
// of its time for peerings and plans, however fast the changes come, and keepalives go out.
export class Coalescer {
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private lastTook = 0;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly minGapMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Asks for a run: now when idle long enough, else one after the current or the gap. */
  request(): void {
    if (this.running || this.timer) {
      this.again = true;
      return;
    }
    const wait = this.lastStart + Math.max(this.minGapMs, 2 * this.lastTook) - Date.now();
    if (wait <= 0) {
      this.run();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, wait);
  }

  /** No run after the current one. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
  }

  private run(): void {
    this.running = true;
    this.again = false;
    this.lastStart = Date.now();
    this.task()
      .catch(this.onError)
      .finally(() => {
        this.running = false;
        this.lastTook = Date.now() - this.lastStart;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }
}
