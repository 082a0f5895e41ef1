import { open } from "node:fs/promises";

/** Fsyncs a directory so a rename or unlink in it is durable; a no-op where directories cannot be fsynced. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r").catch(() => null);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
