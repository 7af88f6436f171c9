// Approval for actions whose rule says `approve`: the handler decides, bounded by the approval
// timeout, and anything but a clear yes denies (fail closed): a refusal, a timeout, a handler that
// throws, or a caller that goes away while waiting.
import { storableText } from "./action-check.js";
import type { ActionRequest, EvaluateResult, ExecutionContext } from "./types.js";

/** Decides actions whose rule says `approve`. May wait for a human, bounded by the approval timeout. */
export interface ApprovalHandler {
  approve(
    action: ActionRequest,
    decision: EvaluateResult,
    ctx: ExecutionContext,
  ): Promise<{ approved: boolean; reason?: string | undefined }>;
}

/** The default approval handler: approves everything (the server warns about it at startup). */
export class AutoApprovalHandler implements ApprovalHandler {
  async approve(): Promise<{ approved: boolean; reason?: string }> {
    return { approved: true, reason: "auto-approved" };
  }
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 30_000;

/** The warning the server logs when it runs with the auto-approval default. */
export const AUTO_APPROVAL_WARNING =
  "no approval handler configured: actions whose rule says 'approve' are auto-approved (AutoApprovalHandler); " +
  "pass approvalHandler to createServer for human review";

export type Verdict = { approved: true } | { approved: false; reason: string };

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Asks `handler`; resolves with its verdict, or a denial with the reason it was not a yes. */
export async function askApproval(
  handler: ApprovalHandler,
  action: ActionRequest,
  decision: EvaluateResult,
  ctx: ExecutionContext,
  timeoutMs: number,
): Promise<Verdict> {
  const controller = new AbortController();
  const outer = ctx.signal;
  const onOuterAbort = (): void => controller.abort(new Error("the request was cancelled"));
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });
  const seconds = timeoutMs / 1000;
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<Verdict>((resolve) => {
    const deny = (): void => {
      const why = controller.signal.reason;
      resolve({
        approved: false,
        reason:
          why instanceof Error && why.message === "the request was cancelled"
            ? "Denied: the request was cancelled while waiting for approval"
            : `Denied: approval timed out after ${seconds} s`,
      });
    };
    if (controller.signal.aborted) deny();
    else controller.signal.addEventListener("abort", deny, { once: true });
  });
  timer = setTimeout(() => controller.abort(new Error("approval timeout")), timeoutMs);
  try {
    const asked = (async (): Promise<Verdict> => {
      try {
        const v = await handler.approve(action, decision, {
          ...ctx,
          signal: controller.signal,
        });
        if (v?.approved === true) return { approved: true };
        return {
          approved: false,
          reason: v?.reason ? `Denied: ${storableText(String(v.reason))}` : "Denied by approval handler",
        };
      } catch (err) {
        // Fail closed: a handler that breaks denies.
        return {
          approved: false,
          reason: `Denied: approval handler failed: ${storableText(messageOf(err))}`,
        };
      }
    })();
    return await Promise.race([asked, stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
    if (!controller.signal.aborted) controller.abort(new Error("approval settled"));
  }
}
