// Watching one file for changes the way deployments change files: the file's DIRECTORY is
// watched, not the file, because editors that save by rename and Kubernetes ConfigMaps (which swap
// a `..data` symlink) replace the inode, and a watch on the old inode would go silent. Events come
// in bursts, so the callback runs once, `debounceMs` after the last one.
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";

export interface FileWatch {
  close(): void;
}

export function watchFile(
  path: string,
  onChange: () => void,
  options: { readonly debounceMs?: number | undefined; readonly onError?: (err: Error) => void } = {},
): FileWatch {
  const name = basename(path);
  const debounce = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      // Some platforms give no name; ConfigMap swaps touch `..data`, never the file's own name.
      if (file !== null && file !== name && !String(file).startsWith("..")) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, debounce);
      timer.unref();
    });
    watcher.on("error", (err) => options.onError?.(err));
  } catch (err) {
    options.onError?.(err instanceof Error ? err : new Error(String(err)));
  }
  return {
    close() {
      watcher?.close();
      if (timer) clearTimeout(timer);
    },
  };
}
