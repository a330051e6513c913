// Undo steps run in reverse order of their registration, each on its own: one failing step is
// reported and the rest still run (so a namespace is removed even when a socket refused to close).

export class Cleanup {
  private readonly steps: { what: string; step: () => Promise<unknown> | unknown }[] = [];

  add(what: string, step: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, step });
  }

  async run(): Promise<void> {
    for (const { what, step } of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        console.error(`bench: cleanup step "${what}" failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
