// One wording for file-system errors shown to people (CLI messages, startup errors), so every
// command says "no such file" the same way.

/** `no such file`, `is a directory`, `permission denied`, ... or the error's own message. */
export function describeFsError(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case "ENOENT":
      return "no such file";
    case "EISDIR":
      return "is a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EEXIST":
      return "already exists";
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
