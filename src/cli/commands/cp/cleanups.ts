/**
 * What cp undoes when it ends, normally or on Ctrl-C (server.md §5): the tokens it made and the
 * sessions, clients and embedded server it opened, last opened first. A detached copy keeps its
 * tokens (they expire after 24 h), since its transfer still needs them.
 */
export class Cleanups {
  private readonly steps: { run: () => Promise<void>; token: boolean }[] = [];
  private done = false;

  /** closing a client or a server */
  add(run: () => Promise<void>): void {
    this.steps.push({ run, token: false });
  }

  /** deleting a token cp made */
  addToken(run: () => Promise<void>): void {
    this.steps.push({ run, token: true });
  }

  get madeTokens(): boolean {
    return this.steps.some((s) => s.token);
  }

  /** Runs every step once, in reverse order, ignoring failures; tokens stay if `keepTokens`. */
  async run(keepTokens = false): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const step of this.steps.reverse()) {
      if (step.token && keepTokens) continue;
      await step.run().catch(() => undefined);
    }
  }
}
